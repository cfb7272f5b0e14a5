#include "StoreTokenSource.h"

#include "Logging.h"
#include "base/Redactor.h"
#include "oauth/UpstreamClient.h"
#include "store/TokenStore.h"

namespace fmb {

StoreTokenSource::StoreTokenSource(TokenStore *store, UpstreamClient *upstream, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_upstream(upstream)
{}

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

void StoreTokenSource::refresh(const QString &grantId, RefreshCallback done)
{
    Result<GrantRecord> grant = m_store->findGrant(grantId);
    Result<UpstreamTokens> current =
        grant ? m_store->upstreamTokens(grantId) : Result<UpstreamTokens>(grant.error());
    if (!current || current.value().refreshToken.isEmpty() || !m_upstream) {
        const Error error = !current ? current.error()
                                     : Error{ErrorCode::Unauthorized, grantId,
                                             QStringLiteral("the grant has no upstream refresh token")};
        QMetaObject::invokeMethod(
            this,
            [done, error] {
                done(RefreshFailure{error, {}});
            },
            Qt::QueuedConnection);
        return;
    }
    const qint64 userId = grant.value().userId;
    const UpstreamTokens old = current.value();
    m_upstream->refresh(
        old.refreshToken, [this, grantId, userId, done, old,
                           guard = QPointer<StoreTokenSource>(this)](Result<UpstreamTokens> result) {
            if (!guard)
                return;
            Result<QList<GrantRecord>> siblings = m_store->grantsForUser(userId);
            QStringList grantIds{grantId};
            if (siblings) {
                for (const GrantRecord &sibling : siblings.value()) {
                    if (!grantIds.contains(sibling.grantId))
                        grantIds.append(sibling.grantId);
                }
            }
            if (!result) {
                RefreshFailure failure{result.error(), {}};
                if (failure.refused()) {
                    // The refresh token is spent or revoked, and every grant of
                    // this user shares it: nobody can use them any more, so their
                    // broker tokens go too (clean 401, the client logs in again).
                    for (const QString &id : std::as_const(grantIds))
                        (void)m_store->revokeGrant(id);
                    failure.revokedGrantIds = grantIds;
                }
                done(failure);
                return;
            }
            const UpstreamTokens &tokens = result.value();
            Redactor::addSecret(tokens.accessToken);
            Redactor::addSecret(tokens.refreshToken);
            // Stored before anything else happens: the old refresh token is spent now.
            for (const QString &id : std::as_const(grantIds)) {
                Result<void> saved = m_store->saveUpstreamTokens(id, tokens);
                if (!saved) {
                    qCCritical(lcRotation).noquote() << "could not store the refreshed tokens of grant"
                                                     << id.left(8) << ":" << saved.error().message;
                    done(RefreshFailure{saved.error(), {}});
                    return;
                }
            }
            // The old pair is replaced: keep the redactor's list from growing.
            Redactor::removeSecret(old.accessToken);
            if (!tokens.refreshToken.isEmpty() && tokens.refreshToken != old.refreshToken)
                Redactor::removeSecret(old.refreshToken);
            done(TokenSource::Refreshed{tokens.accessExpiresAt, grantIds});
        });
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
