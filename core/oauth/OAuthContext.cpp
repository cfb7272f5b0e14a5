#include "OAuthContext.h"

#include <openssl/crypto.h>

#include <algorithm>

#include <QUrl>

#include "ClientMetadata.h"
#include "Logging.h"
#include "store/TokenStore.h"

namespace fmb {

OAuthContext::OAuthContext(OAuthConfig config, CachedBearer cachedBearer, const StoreRunner *stores)
    : m_config(std::move(config))
    , m_cachedBearer(std::move(cachedBearer))
    , m_stores(stores)
{
    while (m_config.publicUrl.endsWith(QLatin1Char('/')))
        m_config.publicUrl.chop(1);
    if (m_config.resource.isEmpty())
        m_config.resource = m_config.publicUrl + QStringLiteral("/mcp");
}

QString OAuthContext::endpoint(const char *path) const
{
    return m_config.publicUrl + QLatin1String(path);
}

QString OAuthContext::resourceMetadataUrl() const
{
    return m_config.publicUrl + QStringLiteral("/.well-known/oauth-protected-resource") +
           QUrl(m_config.resource).path(QUrl::FullyEncoded);
}

QDateTime OAuthContext::now() const
{
    return QDateTime::currentDateTimeUtc();
}

Result<ClientRecord> OAuthContext::findClient(TokenStore &store, const QString &clientId)
{
    Result<ClientRecord> client = store.findClient(clientId);
    if (!client && client.error().code != ErrorCode::NotFound) {
        qCWarning(lcOAuth).noquote() << "cannot look up client" << clientId.left(100) << ":"
                                     << client.error().message;
    }
    return client;
}

Result<void, OAuthError> OAuthContext::checkResource(const QStringList &requested) const
{
    if (requested.size() > 1)
        return OAuthError{400, "invalid_target", QStringLiteral("only one resource may be requested")};
    if (requested.size() == 1 && !sameResource(requested.first(), m_config.resource)) {
        return OAuthError{400, "invalid_target",
                          QStringLiteral("resource %1 is not served here; this server issues tokens for %2")
                              .arg(requested.first().left(200), m_config.resource)};
    }
    return {};
}

qint64 OAuthContext::pendingClientsFull(TokenStore &store) const
{
    if (m_config.maxPendingClients <= 0)
        return 0;
    Result<PendingClients> pending = store.pendingClients();
    if (!pending || pending.value().count < m_config.maxPendingClients)
        return 0;
    const QDateTime purgedAt = pending.value().oldest.addSecs(m_config.pendingClientTtl.count());
    return std::max<qint64>(1, (now().msecsTo(purgedAt) + 999) / 1000);
}

bool equalSecrets(QByteArrayView a, QByteArrayView b)
{
    return !a.isEmpty() && a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), size_t(a.size())) == 0;
}

} // namespace fmb
