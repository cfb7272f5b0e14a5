#include "StoreTokenSource.h"

#include <mutex>

#include "Logging.h"
#include "base/Redactor.h"
#include "oauth/UpstreamClient.h"
#include "store/StoreRunner.h"
#include "store/TokenStore.h"

namespace fmb {

// The listener runs on the store's thread and may outlive us (the store is
// not ours): it posts to `target` while holding the mutex, and our
// destructor clears `target` under it. A posted call dies with its target.
struct StoreTokenSource::Inbox {
    std::mutex mutex;
    StoreTokenSource *target = nullptr;
};

namespace {

using Outcome = Result<TokenSource::Refreshed, TokenSource::RefreshFailure>;

// What refresh() found on the store's thread.
struct Prepared {
    std::optional<Outcome> answered; // done without Forgejo; the lock is free again
    qint64 userId = 0;
    QStringList grantIds; // the user's grants, the refreshed one first
    UpstreamTokens old;   // unless answered: the pair to refresh, the lock held
};

Outcome failure(const Error &error)
{
    return TokenSource::RefreshFailure{error, {}};
}

// The functions below run on the store's thread.

// Every grant of the user, `grantId` first.
QStringList grantsSharing(TokenStore &store, const QString &grantId, qint64 userId)
{
    QStringList grantIds{grantId};
    Result<QList<GrantRecord>> siblings = store.grantsForUser(userId);
    if (siblings) {
        for (const GrantRecord &sibling : siblings.value()) {
            if (!grantIds.contains(sibling.grantId))
                grantIds.append(sibling.grantId);
        }
    }
    return grantIds;
}

// The newest pair among `grantIds` (the latest access expiry; the first
// grant's on a tie), or the first grant's read error.
Result<UpstreamTokens> freshestTokens(TokenStore &store, const QStringList &grantIds)
{
    Result<UpstreamTokens> freshest = store.upstreamTokens(grantIds.value(0));
    if (!freshest)
        return freshest;
    for (qsizetype i = 1; i < grantIds.size(); ++i) {
        Result<UpstreamTokens> sibling = store.upstreamTokens(grantIds.at(i));
        if (sibling && sibling.value().accessExpiresAt.isValid() &&
            (!freshest.value().accessExpiresAt.isValid() ||
             sibling.value().accessExpiresAt > freshest.value().accessExpiresAt)) {
            freshest = std::move(sibling);
        }
    }
    return freshest;
}

// Copies `tokens` to every grant of `grantIds` that holds another pair.
void heal(TokenStore &store, const QStringList &grantIds, const UpstreamTokens &tokens)
{
    for (const QString &id : grantIds) {
        Result<UpstreamTokens> held = store.upstreamTokens(id);
        if (held && held.value().accessToken == tokens.accessToken)
            continue;
        if (Result<void> saved = store.saveUpstreamTokens(id, tokens); !saved) {
            qCWarning(lcRotation).noquote() << "could not copy the newest upstream tokens to grant"
                                            << id.left(8) << ":" << saved.error().message;
        } else {
            qCInfo(lcRotation).noquote()
                << "grant" << id.left(8) << "took over its user's newest upstream tokens";
        }
    }
}

// Releases the user's refresh lock, ours and the store's.
void unlock(TokenStore &store, QSet<qint64> &refreshing, qint64 userId)
{
    refreshing.remove(userId);
    store.unlockUpstreamRefresh(userId);
}

// Takes the user's refresh lock and re-reads the tokens under it.
// `refreshing` holds the users whose refresh holds the lock on this
// connection: the store's lock keeps other brokers out, not this one
// (PostgreSQL's advisory lock is re-entrant within a session; SQLite's is
// no lock), and the rotator may know two grants of one user under two keys
// until it has loaded both.
Prepared prepareRefresh(TokenStore &store, QSet<qint64> &refreshing, const QString &grantId,
                        const QDateTime &dueBefore)
{
    Result<GrantRecord> grant = store.findGrant(grantId);
    Prepared prepared;
    if (!grant) {
        prepared.answered = failure(grant.error());
        return prepared;
    }
    prepared.userId = grant.value().userId;
    // Issue 14: one refresh per user across the brokers of a cluster. The lock
    // never waits: a broker that finds it taken adopts the holder's tokens
    // when they are announced.
    if (refreshing.contains(prepared.userId)) {
        prepared.answered = failure(Error{ErrorCode::Conflict, grantId,
                                          QStringLiteral("the upstream tokens of this grant's user are being "
                                                         "refreshed already")});
        return prepared;
    }
    Result<bool> locked = store.tryLockUpstreamRefresh(prepared.userId);
    if (!locked) {
        prepared.answered = failure(locked.error());
        return prepared;
    }
    if (!locked.value()) {
        prepared.answered = failure(Error{ErrorCode::Conflict, grantId,
                                          QStringLiteral("another broker is refreshing the upstream tokens "
                                                         "of this grant")});
        return prepared;
    }
    // Re-read under the lock, across the user's grants: another broker may
    // have refreshed since the caller looked at the expiry, and a grant whose
    // save failed after an earlier refresh still holds the spent pair. The
    // user's freshest pair is the one to use, and to copy where it is missing.
    prepared.grantIds = grantsSharing(store, grantId, prepared.userId);
    Result<UpstreamTokens> current = freshestTokens(store, prepared.grantIds);
    if (current && current.value().accessExpiresAt.isValid() && dueBefore.isValid() &&
        current.value().accessExpiresAt > dueBefore) {
        heal(store, prepared.grantIds, current.value());
        store.unlockUpstreamRefresh(prepared.userId);
        prepared.answered = TokenSource::Refreshed{current.value().accessExpiresAt, prepared.grantIds, true};
        return prepared;
    }
    if (!current || current.value().refreshToken.isEmpty()) {
        store.unlockUpstreamRefresh(prepared.userId);
        prepared.answered =
            failure(!current ? current.error()
                             : Error{ErrorCode::Unauthorized, grantId,
                                     QStringLiteral("the grant has no upstream refresh token")});
        return prepared;
    }
    refreshing.insert(prepared.userId);
    prepared.old = current.value();
    return prepared;
}

// Stores a refresh's outcome (the lock still held).
Outcome finishRefresh(TokenStore &store, const QString &grantId, qint64 userId, const UpstreamTokens &old,
                      const Result<UpstreamTokens> &result)
{
    const QStringList grantIds = grantsSharing(store, grantId, userId);
    if (!result) {
        TokenSource::RefreshFailure failure{result.error(), {}};
        if (failure.refused()) {
            // The refresh token is spent or revoked, and every grant of
            // this user shares it: nobody can use them any more, so their
            // broker tokens go too (clean 401, the client logs in again).
            for (const QString &id : grantIds)
                (void)store.revokeGrant(id);
            failure.revokedGrantIds = grantIds;
        }
        return failure;
    }
    const UpstreamTokens &tokens = result.value();
    // Stored before anything else happens: the old refresh token is spent now.
    // A grant whose save fails keeps the spent pair; its next refresh takes
    // over the newest pair of a sibling (freshestTokens) instead of spending
    // the dead token, which would log the whole user out.
    QStringList saved;
    std::optional<Error> firstFailure;
    for (const QString &id : grantIds) {
        if (Result<void> r = store.saveUpstreamTokens(id, tokens); !r) {
            qCCritical(lcRotation).noquote()
                << "could not store the refreshed tokens of grant" << id.left(8) << ":" << r.error().message;
            if (!firstFailure)
                firstFailure = r.error();
            continue;
        }
        saved.append(id);
    }
    if (saved.isEmpty())
        return failure(*firstFailure);
    store.announceUpstreamTokens(userId);
    // The old pair is replaced: keep the redactor's list from growing.
    Redactor::removeSecret(old.accessToken);
    if (!tokens.refreshToken.isEmpty() && tokens.refreshToken != old.refreshToken)
        Redactor::removeSecret(old.refreshToken);
    return TokenSource::Refreshed{tokens.accessExpiresAt, saved};
}

// Gives the user's other grants the tokens of a new login.
void shareLogin(TokenStore &store, const QString &grantId)
{
    Result<GrantRecord> grant = store.findGrant(grantId);
    Result<UpstreamTokens> tokens =
        grant ? store.upstreamTokens(grantId) : Result<UpstreamTokens>(grant.error());
    if (!tokens)
        return;
    Redactor::addSecret(tokens.value().accessToken);
    Redactor::addSecret(tokens.value().refreshToken);
    Result<QList<GrantRecord>> siblings = store.grantsForUser(grant.value().userId);
    if (!siblings)
        return;
    for (const GrantRecord &sibling : siblings.value()) {
        if (sibling.grantId == grantId)
            continue;
        Result<void> saved = store.saveUpstreamTokens(sibling.grantId, tokens.value());
        if (!saved) {
            qCWarning(lcRotation).noquote() << "could not share a new login with grant"
                                            << sibling.grantId.left(8) << ":" << saved.error().message;
        }
    }
}

} // namespace

StoreTokenSource::StoreTokenSource(const StoreRunner *stores, UpstreamClient *upstream, QObject *parent)
    : QObject(parent)
    , m_stores(stores)
    , m_upstream(upstream)
    , m_inbox(std::make_shared<Inbox>())
    , m_refreshing(std::make_shared<QSet<qint64>>())
{
    m_inbox->target = this;
    // LISTEN belongs to the runner's connection: announcements arrive on the
    // store's thread, which reads the user's grants and posts them here.
    m_stores->run<bool>(
        this,
        [inbox = m_inbox](TokenStore &store) {
            TokenStore *listening = &store; // the listener is the store's own: it dies first
            store.setUpstreamTokensListener([inbox, listening](qint64 userId) {
                Result<QList<GrantRecord>> grants = listening->grantsForUser(userId);
                if (!grants || grants.value().isEmpty())
                    return;
                View known;
                for (const GrantRecord &grant : grants.value())
                    known.insert(grant.grantId, Known{userId, grant.upstreamAccessExpiresAt, {}});
                std::lock_guard lock(inbox->mutex);
                if (StoreTokenSource *target = inbox->target) {
                    QMetaObject::invokeMethod(
                        target, [target, userId, known] { target->heard(userId, known); },
                        Qt::QueuedConnection);
                }
            });
            return true;
        },
        [](bool) {});
}

StoreTokenSource::~StoreTokenSource()
{
    std::lock_guard lock(m_inbox->mutex);
    m_inbox->target = nullptr;
}

void StoreTokenSource::heard(qint64 userId, const View &grants)
{
    QStringList grantIds;
    for (auto it = grants.cbegin(); it != grants.cend(); ++it) {
        m_known.insert(it.key(), it.value());
        grantIds.append(it.key());
    }
    qCInfo(lcRotation).noquote() << "another broker stored new upstream tokens for" << grantIds.size()
                                 << "grants of user" << userId;
    tokensChanged(grantIds);
}

void StoreTokenSource::remember(qint64 userId, const QStringList &grantIds, const QDateTime &expiry)
{
    for (const QString &id : grantIds)
        m_known.insert(id, Known{userId, expiry, {}});
}

void StoreTokenSource::load(const QStringList &grantIds, std::function<void()> ready)
{
    m_stores->run<View>(
        this,
        [grantIds](TokenStore &store) {
            View view;
            for (const QString &id : grantIds) {
                Result<GrantRecord> grant = store.findGrant(id);
                view.insert(id, grant ? Known{grant.value().userId, grant.value().upstreamAccessExpiresAt, {}}
                                      : Known{0, {}, grant.error()});
            }
            return view;
        },
        [this, ready = std::move(ready)](View view) {
            // Replaced, not merged: the view holds the grants in use, no more.
            m_known = std::move(view);
            ready();
        });
}

Result<QDateTime> StoreTokenSource::expiryOf(const QString &grantId) const
{
    const auto it = m_known.constFind(grantId);
    if (it == m_known.cend())
        return QDateTime();
    if (it->error)
        return *it->error;
    return it->expiry;
}

QString StoreTokenSource::refreshKey(const QString &grantId) const
{
    const auto it = m_known.constFind(grantId);
    return it != m_known.cend() && !it->error ? QStringLiteral("user:%1").arg(it->userId)
                                              : QStringLiteral("grant:") + grantId;
}

void StoreTokenSource::refresh(const QString &grantId, const QDateTime &dueBefore, RefreshCallback done)
{
    m_stores->run<Prepared>(
        this,
        [refreshing = m_refreshing, grantId, dueBefore](TokenStore &store) {
            return prepareRefresh(store, *refreshing, grantId, dueBefore);
        },
        [this, grantId, done](Prepared prepared) {
            if (prepared.answered) {
                if (*prepared.answered)
                    remember(prepared.userId, prepared.grantIds, prepared.answered->value().expiry);
                done(std::move(*prepared.answered));
                return;
            }
            refreshUpstream(grantId, prepared.userId, prepared.old, done);
        });
}

void StoreTokenSource::refreshUpstream(const QString &grantId, qint64 userId, const UpstreamTokens &old,
                                       RefreshCallback done)
{
    // Saves, announces and unlocks on the store's thread, on the connection
    // that holds the lock. The lock is released on every outcome (and by
    // PostgreSQL if this broker dies).
    const auto finish = [this, grantId, userId, old, done](const Result<UpstreamTokens> &result) {
        m_stores->run<Outcome>(
            this,
            [refreshing = m_refreshing, grantId, userId, old, result](TokenStore &store) {
                Outcome outcome = finishRefresh(store, grantId, userId, old, result);
                unlock(store, *refreshing, userId);
                return outcome;
            },
            [this, userId, done](Outcome outcome) {
                if (outcome)
                    remember(userId, outcome.value().grantIds, outcome.value().expiry);
                done(std::move(outcome));
            });
    };
    if (!m_upstream) {
        finish(Error{ErrorCode::Unavailable, grantId, QStringLiteral("the upstream client is gone")});
        return;
    }
    // The upstream call is bounded by UpstreamConfig::timeoutMs.
    m_upstream->refresh(old.refreshToken,
                        [finish, guard = QPointer<StoreTokenSource>(this)](Result<UpstreamTokens> result) {
                            if (!guard)
                                return;
                            if (result) {
                                Redactor::addSecret(result.value().accessToken);
                                Redactor::addSecret(result.value().refreshToken);
                            }
                            finish(result);
                        });
}

void StoreTokenSource::shareNewLogin(const QString &grantId)
{
    m_stores->run<bool>(
        this,
        [grantId](TokenStore &store) {
            shareLogin(store, grantId);
            return true;
        },
        [](bool) {});
}

} // namespace fmb
