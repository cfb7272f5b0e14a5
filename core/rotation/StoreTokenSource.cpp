#include "StoreTokenSource.h"

#include <optional>

#include "Logging.h"
#include "base/Redactor.h"
#include "oauth/UpstreamClient.h"
#include "store/TokenStore.h"

namespace fmb {

StoreTokenSource::StoreTokenSource(TokenStore *store, UpstreamClient *upstream, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_upstream(upstream)
{
    // The store may outlive us or go first: a guard, no reset in a destructor.
    m_store->setUpstreamTokensListener([this, guard = QPointer<StoreTokenSource>(this)](qint64 userId) {
        if (!guard)
            return;
        Result<QList<GrantRecord>> grants = m_store->grantsForUser(userId);
        if (!grants || grants.value().isEmpty())
            return;
        QStringList grantIds;
        for (const GrantRecord &grant : grants.value())
            grantIds.append(grant.grantId);
        qCInfo(lcRotation).noquote() << "another broker stored new upstream tokens for" << grantIds.size()
                                     << "grants of user" << userId;
        tokensChanged(grantIds);
    });
}

StoreTokenSource::~StoreTokenSource() = default;

Result<QDateTime> StoreTokenSource::expiryOf(const QString &grantId) const
{
    Result<GrantRecord> grant = m_store->findGrant(grantId);
    if (!grant)
        return grant.error();
    return grant.value().upstreamAccessExpiresAt;
}

QString StoreTokenSource::refreshKey(const QString &grantId) const
{
    Result<GrantRecord> grant = m_store->findGrant(grantId);
    return grant ? QStringLiteral("user:%1").arg(grant.value().userId) : QStringLiteral("grant:") + grantId;
}

QStringList StoreTokenSource::grantsSharing(const QString &grantId, qint64 userId) const
{
    QStringList grantIds{grantId};
    Result<QList<GrantRecord>> siblings = m_store->grantsForUser(userId);
    if (siblings) {
        for (const GrantRecord &sibling : siblings.value()) {
            if (!grantIds.contains(sibling.grantId))
                grantIds.append(sibling.grantId);
        }
    }
    return grantIds;
}

Result<UpstreamTokens> StoreTokenSource::freshestTokens(const QStringList &grantIds) const
{
    Result<UpstreamTokens> freshest = m_store->upstreamTokens(grantIds.value(0));
    if (!freshest)
        return freshest;
    for (qsizetype i = 1; i < grantIds.size(); ++i) {
        Result<UpstreamTokens> sibling = m_store->upstreamTokens(grantIds.at(i));
        if (sibling && sibling.value().accessExpiresAt.isValid() &&
            (!freshest.value().accessExpiresAt.isValid() ||
             sibling.value().accessExpiresAt > freshest.value().accessExpiresAt)) {
            freshest = std::move(sibling);
        }
    }
    return freshest;
}

void StoreTokenSource::heal(const QStringList &grantIds, const UpstreamTokens &tokens)
{
    for (const QString &id : grantIds) {
        Result<UpstreamTokens> held = m_store->upstreamTokens(id);
        if (held && held.value().accessToken == tokens.accessToken)
            continue;
        if (Result<void> saved = m_store->saveUpstreamTokens(id, tokens); !saved) {
            qCWarning(lcRotation).noquote() << "could not copy the newest upstream tokens to grant"
                                            << id.left(8) << ":" << saved.error().message;
        } else {
            qCInfo(lcRotation).noquote()
                << "grant" << id.left(8) << "took over its user's newest upstream tokens";
        }
    }
}

void StoreTokenSource::fail(const RefreshCallback &done, const Error &error)
{
    // Never before refresh() returns.
    QMetaObject::invokeMethod(
        this,
        [done, error] {
            done(RefreshFailure{error, {}});
        },
        Qt::QueuedConnection);
}

void StoreTokenSource::refresh(const QString &grantId, const QDateTime &dueBefore, RefreshCallback done)
{
    Result<GrantRecord> grant = m_store->findGrant(grantId);
    if (!grant) {
        fail(done, grant.error());
        return;
    }
    const qint64 userId = grant.value().userId;
    // Issue 14: one refresh per user across the brokers of a cluster. The lock
    // never waits: a broker that finds it taken adopts the holder's tokens
    // when they are announced.
    Result<bool> locked = m_store->tryLockUpstreamRefresh(userId);
    if (!locked) {
        fail(done, locked.error());
        return;
    }
    if (!locked.value()) {
        fail(done, Error{ErrorCode::Conflict, grantId,
                         QStringLiteral("another broker is refreshing the upstream tokens of this grant")});
        return;
    }
    // Re-read under the lock, across the user's grants: another broker may
    // have refreshed since the caller looked at the expiry, and a grant whose
    // save failed after an earlier refresh still holds the spent pair. The
    // user's freshest pair is the one to use, and to copy where it is missing.
    const QStringList grantIds = grantsSharing(grantId, userId);
    Result<UpstreamTokens> current = freshestTokens(grantIds);
    if (current && current.value().accessExpiresAt.isValid() && dueBefore.isValid() &&
        current.value().accessExpiresAt > dueBefore) {
        heal(grantIds, current.value());
        m_store->unlockUpstreamRefresh(userId);
        const Refreshed adopted{current.value().accessExpiresAt, grantIds, true};
        QMetaObject::invokeMethod(
            this, [done, adopted] { done(adopted); }, Qt::QueuedConnection);
        return;
    }
    if (!current || current.value().refreshToken.isEmpty() || !m_upstream) {
        m_store->unlockUpstreamRefresh(userId);
        fail(done, !current ? current.error()
                            : Error{ErrorCode::Unauthorized, grantId,
                                    QStringLiteral("the grant has no upstream refresh token")});
        return;
    }
    const UpstreamTokens old = current.value();
    // The upstream call is bounded by UpstreamConfig::timeoutMs; the lock is
    // released on every outcome (and by PostgreSQL if this broker dies).
    m_upstream->refresh(old.refreshToken,
                        [this, grantId, userId, done, old,
                         guard = QPointer<StoreTokenSource>(this)](Result<UpstreamTokens> result) {
                            if (!guard)
                                return;
                            auto outcome = finishRefresh(grantId, userId, old, std::move(result));
                            m_store->unlockUpstreamRefresh(userId);
                            done(std::move(outcome));
                        });
}

Result<TokenSource::Refreshed, TokenSource::RefreshFailure>
StoreTokenSource::finishRefresh(const QString &grantId, qint64 userId, const UpstreamTokens &old,
                                Result<UpstreamTokens> result)
{
    const QStringList grantIds = grantsSharing(grantId, userId);
    if (!result) {
        RefreshFailure failure{result.error(), {}};
        if (failure.refused()) {
            // The refresh token is spent or revoked, and every grant of
            // this user shares it: nobody can use them any more, so their
            // broker tokens go too (clean 401, the client logs in again).
            for (const QString &id : grantIds)
                (void)m_store->revokeGrant(id);
            failure.revokedGrantIds = grantIds;
        }
        return failure;
    }
    const UpstreamTokens &tokens = result.value();
    Redactor::addSecret(tokens.accessToken);
    Redactor::addSecret(tokens.refreshToken);
    // Stored before anything else happens: the old refresh token is spent now.
    // A grant whose save fails keeps the spent pair; its next refresh takes
    // over the newest pair of a sibling (freshestTokens) instead of spending
    // the dead token, which would log the whole user out.
    QStringList saved;
    std::optional<Error> firstFailure;
    for (const QString &id : grantIds) {
        if (Result<void> r = m_store->saveUpstreamTokens(id, tokens); !r) {
            qCCritical(lcRotation).noquote()
                << "could not store the refreshed tokens of grant" << id.left(8) << ":" << r.error().message;
            if (!firstFailure)
                firstFailure = r.error();
            continue;
        }
        saved.append(id);
    }
    if (saved.isEmpty())
        return RefreshFailure{*firstFailure, {}};
    m_store->announceUpstreamTokens(userId);
    // The old pair is replaced: keep the redactor's list from growing.
    Redactor::removeSecret(old.accessToken);
    if (!tokens.refreshToken.isEmpty() && tokens.refreshToken != old.refreshToken)
        Redactor::removeSecret(old.refreshToken);
    return Refreshed{tokens.accessExpiresAt, saved};
}

void StoreTokenSource::shareNewLogin(const QString &grantId)
{
    Result<GrantRecord> grant = m_store->findGrant(grantId);
    Result<UpstreamTokens> tokens =
        grant ? m_store->upstreamTokens(grantId) : Result<UpstreamTokens>(grant.error());
    if (!tokens)
        return;
    Redactor::addSecret(tokens.value().accessToken);
    Redactor::addSecret(tokens.value().refreshToken);
    Result<QList<GrantRecord>> siblings = m_store->grantsForUser(grant.value().userId);
    if (!siblings)
        return;
    for (const GrantRecord &sibling : siblings.value()) {
        if (sibling.grantId == grantId)
            continue;
        Result<void> saved = m_store->saveUpstreamTokens(sibling.grantId, tokens.value());
        if (!saved) {
            qCWarning(lcRotation).noquote() << "could not share a new login with grant"
                                            << sibling.grantId.left(8) << ":" << saved.error().message;
        }
    }
}

} // namespace fmb
