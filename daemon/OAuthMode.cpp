#include "OAuthMode.h"

#include <QDir>
#include <QFile>
#include <QFileDevice>
#include <QLoggingCategory>

#include "base/Redactor.h"
#include "config/DatabaseUrl.h"
#include "oauth/AuthorizationServer.h"
#include "oauth/UpstreamClient.h"
#include "rotation/StoreTokenSource.h"
#include "rotation/TokenRotator.h"
#include "session/SessionRegistry.h"
#include "store/PostgresTokenStore.h"
#include "store/PrivateFiles.h"
#include "store/SqliteTokenStore.h"
#include "store/StoreRunner.h"

namespace fmb {
namespace {

Q_LOGGING_CATEGORY(lcDaemonOAuth, "fmb.daemon", QtInfoMsg)

// A secret kept in a file named by setting `key` (never printed).
Result<QByteArray> readSecretFile(const QString &path, const QString &key)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        return Error{ErrorCode::Io, key,
                     QStringLiteral("%1: cannot read %2: %3").arg(key, path, file.errorString())};
    }
    if (file.permissions() & (QFileDevice::ReadOther | QFileDevice::WriteOther))
        qCWarning(lcDaemonOAuth).noquote() << key << path << "is readable by other users; chmod 600 it";
    const QByteArray secret = file.read(4096).trimmed();
    if (secret.isEmpty())
        return Error{ErrorCode::InvalidArgument, key, QStringLiteral("%1: %2 is empty").arg(key, path)};
    return secret;
}

// --database (issue 14): SQLite in state_dir by default, or PostgreSQL.
// The upstream-token key is in state_dir unless --secret-key-file names one
// (shared by a cluster's brokers, so it must exist: never created).
// `cluster` gets the PostgreSQL parameters when the store is a cluster's.
Result<std::unique_ptr<SqlTokenStore>> openStore(const BrokerConfig &config,
                                                 std::optional<PostgresParams> &cluster)
{
    const QString key = config.database.isEmpty() ? QStringLiteral("state_dir") : QStringLiteral("database");
    Result<DatabaseUrl> url =
        config.database.isEmpty() ? Result<DatabaseUrl>(DatabaseUrl{}) : parseDatabaseUrl(config.database);
    if (!url)
        return url.error();
    Result<void> opened;
    std::unique_ptr<SqlTokenStore> store;
    if (url.value().kind == DatabaseUrl::Kind::Postgres) {
        PostgresParams params;
        params.host = url.value().host;
        params.port = url.value().port;
        params.user = url.value().user;
        params.database = url.value().database;
        if (!config.databasePasswordFile.isEmpty()) {
            Result<QByteArray> password =
                readSecretFile(config.databasePasswordFile, QStringLiteral("database_password_file"));
            if (!password)
                return password.error();
            Redactor::addSecret(password.value());
            params.password = QString::fromUtf8(password.value());
        }
        cluster = params;
        auto postgres = std::make_unique<PostgresTokenStore>();
        if (!config.secretKeyFile.isEmpty()) {
            opened = postgres->open(params, config.secretKeyFile, false);
        } else {
            // The default key lives in the state directory, made as SQLite's store makes it.
            opened = ensurePrivateDir(config.stateDir);
            if (opened)
                opened =
                    postgres->open(params, QDir(config.stateDir).filePath(SqliteTokenStore::keyFileName()));
        }
        // Issue 14: no database round trip per bearer check; open sessions
        // outlive a database outage.
        postgres->setBearerCacheLimits(BearerCacheLimits{config.bearerCacheTtl, config.bearerOutageGrace});
        store = std::move(postgres);
    } else {
        auto sqlite = std::make_unique<SqliteTokenStore>();
        const QString path = url.value().sqlitePath.isEmpty()
                                 ? QDir(config.stateDir).filePath(SqliteTokenStore::databaseFileName())
                                 : url.value().sqlitePath;
        opened = sqlite->open(config.stateDir, path, config.secretKeyFile);
        // One broker: every revocation passes through this store and evicts
        // at once; the cache saves the query per request (docs/benchmarks.md,
        // "Several brokers": about 3x the calls/s of an OAuth broker).
        sqlite->setBearerCacheLimits(BearerCacheLimits{config.bearerCacheTtl, config.bearerOutageGrace});
        store = std::move(sqlite);
    }
    if (!opened) {
        // A key file's own problem names the setting that chose it.
        const QString setting =
            !config.secretKeyFile.isEmpty() && opened.error().subject == config.secretKeyFile
                ? QStringLiteral("secret_key_file")
                : key;
        return Error{opened.error().code, setting,
                     QStringLiteral("%1: %2").arg(setting, opened.error().message)};
    }
    return store;
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
    Result<QByteArray> secret =
        readSecretFile(m_config.forgejoClientSecretFile, QStringLiteral("forgejo_client_secret_file"));
    if (!secret)
        return secret.error();
    Redactor::addSecret(secret.value());

    // The store's one connection, opened on a thread of its own: no
    // statement runs on this one (issue 14). Its bearer cache is shared.
    std::shared_ptr<BearerCache> cache;
    Result<std::unique_ptr<StoreRunner>> stores = StoreRunner::start(
        QStringLiteral("fmb-store"), [this, &cache]() -> Result<std::unique_ptr<TokenStore>> {
            Result<std::unique_ptr<SqlTokenStore>> opened = openStore(m_config, m_cluster);
            if (!opened)
                return opened.error();
            cache = opened.value()->sharedBearerCache();
            return std::unique_ptr<TokenStore>(std::move(opened).value());
        });
    if (!stores)
        return stores.error();
    m_stores = std::move(stores).value();
    // A bearer check here answers from the cache; a token in use is
    // confirmed again on the store thread before its entry runs out, so its
    // checks never wait for a statement.
    const OAuthContext::CachedBearer cachedBearer = [this, cache](const TokenHash &hash) {
        bool revalidate = false;
        std::optional<TokenRecord> cached = cache->fresh(hash, QDateTime::currentDateTimeUtc(), &revalidate);
        if (revalidate) {
            m_stores->run<bool>(
                this,
                [hash](TokenStore &store) {
                    store.revalidateAccessToken(hash);
                    return true;
                },
                [](bool) {});
        }
        return cached;
    };

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
    m_server = new AuthorizationServer(oauth, cachedBearer, m_stores.get(), m_upstream, this);

    m_source = new StoreTokenSource(m_stores.get(), m_upstream, this);
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

AuthVerdict OAuthMode::authenticate(const QHttpServerRequest &request) const
{
    return m_server->authenticate(request);
}

void OAuthMode::childEnvironment(const SessionOwner &owner, const QObject *context,
                                 std::function<void(Result<QList<QPair<QString, QString>>>)> done) const
{
    m_stores->run<Result<UpstreamTokens>>(
        context, [grantId = owner.grantId](TokenStore &store) { return store.upstreamTokens(grantId); },
        [tokenEnv = m_config.tokenEnv, forgejoUrl = m_config.forgejoUrl,
         done = std::move(done)](Result<UpstreamTokens> tokens) {
            if (!tokens) {
                done(tokens.error());
                return;
            }
            Redactor::addSecret(tokens.value().accessToken);
            done(QList<QPair<QString, QString>>{
                {tokenEnv, QString::fromUtf8(tokens.value().accessToken)},
                {QStringLiteral("FORGEJO_URL"), forgejoUrl},
            });
        });
}

void OAuthMode::revokeUser(const QString &login, std::function<void(Result<UserRevocation>)> done)
{
    m_stores->run<Result<UserRevocation>>(
        this, [login](TokenStore &store) { return store.revokeUser(login); }, std::move(done));
}

} // namespace fmb
