#include "OAuthMode.h"

#include <QFile>
#include <QFileDevice>
#include <QLoggingCategory>

#include "base/Redactor.h"
#include "oauth/AuthorizationServer.h"
#include "oauth/UpstreamClient.h"
#include "rotation/StoreTokenSource.h"
#include "rotation/TokenRotator.h"
#include "session/SessionRegistry.h"
#include "store/SqliteTokenStore.h"

namespace fmb {
namespace {

Q_LOGGING_CATEGORY(lcDaemonOAuth, "fmb.daemon", QtInfoMsg)

Result<QByteArray> readSecretFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return Error{
            ErrorCode::Io, QStringLiteral("forgejo_client_secret_file"),
            QStringLiteral("forgejo_client_secret_file: cannot read %1: %2").arg(path, file.errorString())};
    }
    if (file.permissions() & (QFileDevice::ReadOther | QFileDevice::WriteOther)) {
        qCWarning(lcDaemonOAuth).noquote()
            << "forgejo_client_secret_file" << path << "is readable by other users; chmod 600 it";
    }
    const QByteArray secret = file.read(4096).trimmed();
    if (secret.isEmpty()) {
        return Error{ErrorCode::InvalidArgument, QStringLiteral("forgejo_client_secret_file"),
                     QStringLiteral("forgejo_client_secret_file: %1 is empty").arg(path)};
    }
    return secret;
}

} // namespace

OAuthMode::OAuthMode(const BrokerConfig &config, SessionRegistry *registry, QObject *parent)
    : QObject(parent)
    , m_config(config)
    , m_registry(registry)
{}

OAuthMode::~OAuthMode() = default;

Result<void> OAuthMode::open()
{
    Result<QByteArray> secret = readSecretFile(m_config.forgejoClientSecretFile);
    if (!secret)
        return secret.error();
    Redactor::addSecret(secret.value());

    auto store = std::make_unique<SqliteTokenStore>();
    Result<void> opened = store->open(m_config.stateDir);
    if (!opened) {
        return Error{opened.error().code, QStringLiteral("state_dir"),
                     QStringLiteral("state_dir: %1").arg(opened.error().message)};
    }
    m_store = std::move(store);

    UpstreamConfig upstream;
    upstream.authorizeUrl = QUrl(m_config.upstreamAuthorizeUrl);
    upstream.tokenUrl = QUrl(m_config.upstreamTokenUrl);
    upstream.userUrl = QUrl(m_config.upstreamUserUrl);
    upstream.clientId = m_config.forgejoClientId;
    upstream.clientSecret = secret.value();
    upstream.redirectUri = QUrl(m_config.publicUrl + QLatin1String("/oauth/callback"));
    m_upstream = new UpstreamClient(upstream, this);

    OAuthConfig oauth;
    oauth.publicUrl = m_config.publicUrl;
    oauth.accessTokenTtl = m_config.accessTokenTtl;
    oauth.refreshTokenTtl = m_config.refreshTokenTtl;
    oauth.allowPrivateMetadataHosts = m_config.metadataAllowPrivateHosts;
    oauth.registerRatePerMinute = m_config.registerRate;
    oauth.maxPendingClients = m_config.maxPendingClients;
    oauth.pendingClientTtl = m_config.pendingClientTtl;
    oauth.maxRegistrationBytes = m_config.maxRegistrationBytes;
    oauth.stateDir = m_config.stateDir;
    m_server = new AuthorizationServer(oauth, m_store.get(), m_upstream, this);

    m_source = new StoreTokenSource(m_store.get(), m_upstream, this);
    m_rotator = new TokenRotator(m_registry, m_source, m_config.rotateInterval, m_config.refreshLead, this);

    // Forgejo keeps one grant per user: a new login's tokens replace those of
    // the user's earlier grants, whose refresh tokens are now spent.
    connect(m_server, &AuthorizationServer::grantCreated, this,
            [this](const QString &grantId, const QString &) { m_source->shareNewLogin(grantId); });
    connect(m_server, &AuthorizationServer::grantTokensRevoked, this,
            [this](const QString &grantId, const QString &reason) {
                m_registry->evictGrants({grantId}, reason);
            });
    qCInfo(lcDaemonOAuth).noquote() << "oauth: issuer" << m_config.publicUrl << "; upstream"
                                    << m_config.forgejoUrl << "; state in" << m_config.stateDir;
    return {};
}

QList<HttpRoute> OAuthMode::routes()
{
    return m_server->routes();
}

Result<SessionOwner, AuthFailure> OAuthMode::authenticate(const QHttpServerRequest &request) const
{
    return m_server->authenticate(request);
}

Result<QList<QPair<QString, QString>>> OAuthMode::childEnvironment(const SessionOwner &owner) const
{
    Result<UpstreamTokens> tokens = m_store->upstreamTokens(owner.grantId);
    if (!tokens)
        return tokens.error();
    Redactor::addSecret(tokens.value().accessToken);
    return QList<QPair<QString, QString>>{
        {m_config.tokenEnv, QString::fromUtf8(tokens.value().accessToken)},
        {QStringLiteral("FORGEJO_URL"), m_config.forgejoUrl},
    };
}

} // namespace fmb
