#include <memory>
#include <mutex>
#include <optional>

#include <QHttpServerRequest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QProcessEnvironment>
#include <QRandomGenerator>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "OAuthTestSupport.h"
#include "PgCluster.h"
#include "base/Metrics.h"
#include "child/ChildProcess.h"
#include "oauth/AuthorizationServer.h"
#include "oauth/Pkce.h"
#include "oauth/UpstreamClient.h"
#include "session/SessionRegistry.h"
#include "store/PostgresTokenStore.h"
#include "store/SqliteTokenStore.h"
#include "transport/McpHttpServer.h"

using fmb::AuthorizationServer;
using fmb::Error;
using fmb::ErrorCode;
using fmb::Result;
using fmb::SessionOwner;
using fmbtest::HtmlForm;
using fmbtest::HttpResult;
using fmbtest::UserAgent;

namespace {

const QString UpstreamClientId = QStringLiteral("broker");
const QString UpstreamSecret = QStringLiteral("upstream-s3cret-for-tests");
const QString ClientRedirect = QStringLiteral("http://127.0.0.1:45999/callback");
const QString Scope = QStringLiteral("mcp:tools");
const QByteArray Initialize = R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":)"
                              R"("2025-06-18","capabilities":{},"clientInfo":{"name":"tst","version":"1"}}})";
const QByteArray ToolsList = R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})";

// The audited events a spy caught, one "kind user detail" line each (a
// refused sign-in with "denied" or "failed"), with the client checked.
QStringList auditedEvents(const QSignalSpy &spy, const QString &clientId)
{
    using Kind = fmb::OAuthEvent::Kind;
    QStringList lines;
    for (const QList<QVariant> &arguments : spy) {
        const auto event = arguments.at(0).value<fmb::OAuthEvent>();
        const char *kind = event.kind == Kind::SignInDenied     ? "denied"
                           : event.kind == Kind::SignInFailed   ? "failed"
                           : event.kind == Kind::Consent        ? "consent"
                           : event.kind == Kind::TokenIssued    ? "issued"
                           : event.kind == Kind::TokenRefreshed ? "refreshed"
                                                                : "revoked";
        if (event.clientId != clientId)
            lines << QStringLiteral("for another client: ") + event.clientId;
        const bool refused = event.kind == Kind::SignInDenied || event.kind == Kind::SignInFailed;
        if (!refused && event.grantId.size() != 32)
            lines << QStringLiteral("no grant id");
        lines << QStringList{QLatin1String(kind), event.user, event.detail}.join(QLatin1Char(' ')).trimmed();
    }
    return lines;
}

// Every log line of the process, to prove no secret reaches one.
struct LogCapture {
    std::mutex mutex;
    QStringList lines;
    QtMessageHandler previous = nullptr;
};
LogCapture &logCapture()
{
    static LogCapture capture;
    return capture;
}

void captureMessage(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    {
        std::lock_guard lock(logCapture().mutex);
        logCapture().lines.append(QString::fromLatin1(context.category ? context.category : "") +
                                  QLatin1String(": ") + message);
    }
    if (type != QtDebugMsg && logCapture().previous)
        logCapture().previous(type, context, message);
}

// Debug lines too (ctest turns fmb.* debug off): they must not leak either.
QLoggingCategory::CategoryFilter previousFilter = nullptr;
void enableBrokerDebug(QLoggingCategory *category)
{
    if (previousFilter)
        previousFilter(category);
    if (qstrncmp(category->categoryName(), "fmb.", 4) == 0)
        category->setEnabled(QtDebugMsg, true);
}

struct Tokens {
    QString access;
    QString refresh;
};

// "name=value" sets (replacing), "-name" removes, "+name=value" adds another.
QList<std::pair<QString, QString>> applyOverrides(QList<std::pair<QString, QString>> fields,
                                                  const QStringList &overrides)
{
    for (const QString &override : overrides) {
        if (override.startsWith(QLatin1Char('-'))) {
            const QString name = override.mid(1);
            fields.removeIf([&name](const auto &field) { return field.first == name; });
            continue;
        }
        const bool add = override.startsWith(QLatin1Char('+'));
        const QString pair = add ? override.mid(1) : override;
        const qsizetype equals = pair.indexOf(QLatin1Char('='));
        const QString name = pair.left(equals);
        const QString value = pair.mid(equals + 1);
        if (!add)
            fields.removeIf([&name](const auto &field) { return field.first == name; });
        fields.append({name, value});
    }
    return fields;
}

// How a client authenticates at the token and revocation endpoints: "id"
// (client_id only), "post" / "post-wrong" (client_secret in the body),
// "basic" / "basic-wrong" / "basic-empty" / "basic-malformed" (HTTP Basic),
// "basic+post" (both), "basic+other-id" (Basic, another client_id in the body).
void addCredentials(const QString &how, const QString &clientId, const QString &secret,
                    QList<std::pair<QString, QString>> *fields, fmbtest::Headers *headers)
{
    const QString wrong(43, QLatin1Char('x'));
    auto basic = [headers, &clientId](const QString &password) {
        const QByteArray pair = QUrl::toPercentEncoding(clientId) + ':' + QUrl::toPercentEncoding(password);
        headers->append({"Authorization", "Basic " + pair.toBase64()});
    };
    if (how == QLatin1String("id") || how.startsWith(QLatin1String("post")))
        fields->append({QStringLiteral("client_id"), clientId});
    if (how == QLatin1String("post") || how == QLatin1String("basic+post"))
        fields->append({QStringLiteral("client_secret"), secret.isEmpty() ? wrong : secret});
    if (how == QLatin1String("post-wrong"))
        fields->append({QStringLiteral("client_secret"), wrong});
    if (how == QLatin1String("basic") || how.startsWith(QLatin1String("basic+")))
        basic(secret.isEmpty() ? wrong : secret);
    if (how == QLatin1String("basic-wrong"))
        basic(wrong);
    if (how == QLatin1String("basic-empty"))
        basic(QString());
    if (how == QLatin1String("basic-malformed"))
        headers->append({QByteArray("Authorization"), QByteArray("Basic !!not-base64!!")});
    if (how == QLatin1String("basic+other-id"))
        fields->append({QStringLiteral("client_id"), QStringLiteral("someone-else")});
}

// The way a client registered for `method` authenticates.
QString rightCredentials(const QString &method)
{
    if (method == QLatin1String("client_secret_post"))
        return QStringLiteral("post");
    if (method == QLatin1String("client_secret_basic"))
        return QStringLiteral("basic");
    return QStringLiteral("id");
}

} // namespace

class tst_AuthorizationServer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void discovery();
    void corsOnJsonEndpoints();
    void registration();
    void registrationRejects_data();
    void registrationRejects();
    void registrationRateLimit();
    void registrationBounds_data();
    void registrationBounds();
    void pendingClientCap();
    void pendingClientsPurged();
    void pendingCapCoversMetadataDocuments();
    void metadataDocumentCache_data();
    void metadataDocumentCache();
    void fullFlow();
    void consentPageIsHardened();
    void refreshRotates();
    void refreshReuseRevokesFamily();
    void authorizeRejects_data();
    void authorizeRejects();
    void tokenRejects_data();
    void tokenRejects();
    void replayedCodeRevokesGrant();
    void expiredCode();
    void consentRejects_data();
    void consentRejects();
    void consentDenied();
    void approvedClientSkipsConsent();
    void otherUpstreamUserAsksConsentAgain();
    void upstreamFailureReachesClient();
    void foreignSessionIsForbidden();
    void expiredAccessToken();
    void tokenInQueryString();
    void bearerChecksAreCounted();
    void revocation();
    void clientAuthentication_data();
    void clientAuthentication();
    void realClientSignsIn_data();
    void realClientSignsIn();
    void metadataDocumentClient();
    void metadataDocumentRejects_data();
    void metadataDocumentRejects();
    void restartKeepsTokens();
    void storeFailureIsUnavailable();
    void noSecretsInLogs();

private:
    void startBroker();
    void stopBroker();
    QUrl broker(const QString &path) const { return QUrl(m_publicUrl + path); }
    QString resource() const { return m_publicUrl + QStringLiteral("/mcp"); }
    QString registerClient(const QString &name = QStringLiteral("Test client"),
                           const QStringList &redirects = {ClientRedirect});
    QList<std::pair<QString, QString>> authorizeFields(const QString &clientId, const QString &verifier,
                                                       const QString &state) const;
    QUrl authorizeUrl(const QList<std::pair<QString, QString>> &fields) const;
    // /authorize, approve the consent page when one comes, then follow the
    // redirects through the fake Forgejo back to the client's redirect URI.
    HttpResult authorizeAndApprove(UserAgent &agent, const QUrl &url,
                                   const QString &redirect = ClientRedirect);
    // The code of a complete sign-in; empty on failure (the caller checks).
    QString codeFor(UserAgent &agent, const QString &clientId, const QString &verifier);
    HttpResult tokenRequest(const QList<std::pair<QString, QString>> &fields,
                            const QByteArray &contentType = "application/x-www-form-urlencoded",
                            const fmbtest::Headers &extra = {});
    // A registration; its answer, secrets remembered.
    HttpResult registerJson(const QByteArray &body);
    QList<std::pair<QString, QString>> codeExchangeFields(const QString &clientId, const QString &code,
                                                          const QString &verifier) const;
    Tokens tokensFor(UserAgent &agent, const QString &clientId);
    HttpResult refresh(const QString &clientId, const QString &refreshToken);
    HttpResult mcp(const QString &accessToken, const QByteArray &body, const QByteArray &sessionId = {},
                   const QString &query = {});
    void remember(const QString &secret) { m_secrets.insert(secret.toUtf8()); }
    void setFakeUser(const QString &login);

    QNetworkAccessManager *m_network = nullptr;
    fmbtest::FakeForgejo m_fake;
    fmbtest::CannedHttpServer *m_documents = nullptr;
    QTemporaryDir m_dir;
    std::unique_ptr<fmb::SqlTokenStore> m_store;
    // FMB_TEST_STORE=postgresql (ctest: authorizationserver_postgres): the
    // store lives in a database of a throwaway PostgreSQL cluster.
    std::unique_ptr<fmbtest::PgCluster> m_cluster;
    std::optional<fmb::PostgresParams> m_database;
    fmb::SessionRegistry *m_registry = nullptr;
    fmb::McpHttpServer *m_server = nullptr;
    fmb::UpstreamClient *m_upstream = nullptr;
    AuthorizationServer *m_auth = nullptr;
    fmb::Authenticator m_guard;
    QString m_publicUrl;
    std::unique_ptr<UserAgent> m_browser;
    QSet<QByteArray> m_secrets;
};

void tst_AuthorizationServer::initTestCase()
{
    logCapture().previous = qInstallMessageHandler(captureMessage);
    previousFilter = QLoggingCategory::installFilter(enableBrokerDebug);
    QVERIFY(m_dir.isValid());
    m_network = new QNetworkAccessManager(this);
    m_documents = new fmbtest::CannedHttpServer(this);
    QVERIFY(m_documents->start());

    fmb::ChildSpec spec;
    spec.program = QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server");
    spec.environment = QProcessEnvironment::systemEnvironment();
    spec.stopGrace = std::chrono::milliseconds(500);
    auto factory = [spec](const SessionOwner &, const QString &sessionId) -> std::unique_ptr<fmb::Backend> {
        fmb::ChildSpec forSession = spec;
        forSession.label = QStringLiteral("session %1").arg(sessionId.left(8));
        return std::make_unique<fmb::ChildProcess>(std::move(forSession));
    };
    m_registry = new fmb::SessionRegistry(fmb::RegistryLimits{}, factory, this);
    // The authorization server needs the public URL, hence the port: the
    // guard is filled in once it exists.
    m_server = new fmb::McpHttpServer(
        fmb::HttpConfig{}, fmb::OriginPolicy({}, QStringLiteral("127.0.0.1"), QString()), m_registry,
        [this](const QHttpServerRequest &request) -> fmb::AuthVerdict {
            if (!m_guard)
                return fmb::AuthFailure{ErrorCode::Unavailable, {}, QStringLiteral("no guard")};
            return m_guard(request);
        },
        this);
    Result<quint16> port = m_server->listenOn(QHostAddress::LocalHost, 0);
    QVERIFY(port.ok());
    m_publicUrl = QStringLiteral("http://127.0.0.1:%1").arg(port.value());
    QVERIFY2(m_fake.start(UpstreamClientId, UpstreamSecret, m_publicUrl + QStringLiteral("/oauth/callback"),
                          {QStringLiteral("--user"), QStringLiteral("alice:1"), QStringLiteral("--user"),
                           QStringLiteral("bob:2")}),
             m_fake.output().constData());
    remember(UpstreamSecret);
    if (qEnvironmentVariable("FMB_TEST_STORE") == QLatin1String("postgresql")) {
        // Asked for PostgreSQL: its absence is a failure, not a skip.
        const QString unavailable = fmbtest::PgCluster::unavailableReason();
        QVERIFY2(unavailable.isEmpty(), qPrintable(unavailable));
        m_cluster = std::make_unique<fmbtest::PgCluster>();
        const Result<void> started = m_cluster->start();
        QVERIFY2(started.ok(), started.ok() ? "" : qPrintable(started.error().message));
        Result<fmb::PostgresParams> database = m_cluster->createDatabase();
        QVERIFY2(database.ok(), database.ok() ? "" : qPrintable(database.error().message));
        m_database = database.value();
    }
    startBroker();
}

void tst_AuthorizationServer::cleanupTestCase()
{
    QSignalSpy stopped(m_registry, &fmb::SessionRegistry::allStopped);
    m_registry->shutdown();
    if (m_registry->stoppingCount() > 0)
        stopped.wait(10000);
    stopBroker();
    m_fake.stop();
    QLoggingCategory::installFilter(previousFilter);
    qInstallMessageHandler(logCapture().previous);
}

void tst_AuthorizationServer::init()
{
    m_browser = std::make_unique<UserAgent>(m_network);
    setFakeUser(QStringLiteral("alice"));
}

void tst_AuthorizationServer::cleanup()
{
    if (m_store) // no bearer cache, as the other tests expect
        m_store->setBearerCacheLimits(fmb::BearerCacheLimits{std::chrono::milliseconds(0)});
    if (m_store)
        m_store->setClock([] { return QDateTime::currentDateTimeUtc(); });
}

void tst_AuthorizationServer::startBroker()
{
    Result<void> opened;
    if (m_database) {
        auto postgres = std::make_unique<fmb::PostgresTokenStore>();
        opened = postgres->open(*m_database, m_dir.filePath(QStringLiteral("upstream.key")));
        m_store = std::move(postgres);
    } else {
        auto sqlite = std::make_unique<fmb::SqliteTokenStore>();
        opened = sqlite->open(m_dir.path());
        m_store = std::move(sqlite);
    }
    QVERIFY2(opened.ok(), qPrintable(opened.ok() ? QString() : opened.error().message));

    fmb::UpstreamConfig upstream;
    upstream.authorizeUrl = m_fake.url(QStringLiteral("/login/oauth/authorize"));
    upstream.tokenUrl = m_fake.url(QStringLiteral("/login/oauth/access_token"));
    upstream.userUrl = m_fake.url(QStringLiteral("/api/v1/user"));
    upstream.clientId = UpstreamClientId;
    upstream.clientSecret = UpstreamSecret.toUtf8();
    upstream.redirectUri = QUrl(m_publicUrl + QStringLiteral("/oauth/callback"));
    upstream.timeoutMs = 5000;
    m_upstream = new fmb::UpstreamClient(upstream, this);

    fmb::OAuthConfig config;
    config.publicUrl = m_publicUrl;
    config.scopes = QStringList{Scope};
    config.allowPrivateMetadataHosts = true;
    config.metadataTimeout = std::chrono::milliseconds(3000);
    config.stateDir = m_dir.path();
    config.registerRatePerMinute = 0; // the tests register many clients; registrationRateLimit has its own
    m_auth = new AuthorizationServer(config, m_store.get(), m_upstream, this);
    m_server->addRoutes(m_auth->routes());
    m_guard = m_auth->bearerGuard();
}

void tst_AuthorizationServer::stopBroker()
{
    m_guard = {};
    delete m_auth;
    m_auth = nullptr;
    delete m_upstream;
    m_upstream = nullptr;
    if (m_store)
        m_store->close();
    m_store.reset();
}

void tst_AuthorizationServer::setFakeUser(const QString &login)
{
    const HttpResult answer =
        m_fake.control(m_network, QStringLiteral("/_fake/login"), {{QStringLiteral("login"), login}});
    QVERIFY2(answer.status == 200, answer.describe().constData());
}

QString tst_AuthorizationServer::registerClient(const QString &name, const QStringList &redirects)
{
    return fmbtest::registerPublicClient(m_network, broker(QStringLiteral("/oauth/register")), name,
                                         redirects);
}

QList<std::pair<QString, QString>> tst_AuthorizationServer::authorizeFields(const QString &clientId,
                                                                            const QString &verifier,
                                                                            const QString &state) const
{
    return {{QStringLiteral("response_type"), QStringLiteral("code")},
            {QStringLiteral("client_id"), clientId},
            {QStringLiteral("redirect_uri"), ClientRedirect},
            {QStringLiteral("code_challenge"), fmb::Pkce::s256(verifier)},
            {QStringLiteral("code_challenge_method"), QStringLiteral("S256")},
            {QStringLiteral("state"), state},
            {QStringLiteral("scope"), Scope},
            {QStringLiteral("resource"), resource()}};
}

QUrl tst_AuthorizationServer::authorizeUrl(const QList<std::pair<QString, QString>> &fields) const
{
    QUrl url = broker(QStringLiteral("/oauth/authorize"));
    url.setQuery(QString::fromLatin1(fmbtest::encodeForm(fields)), QUrl::StrictMode);
    return url;
}

HttpResult tst_AuthorizationServer::authorizeAndApprove(UserAgent &agent, const QUrl &url,
                                                        const QString &redirect)
{
    HttpResult answer = agent.get(url);
    for (int round = 0; round < 2 && answer.status == 200; ++round) {
        HtmlForm form;
        if (!fmbtest::parseForm(answer.body, &form))
            return answer;
        form.fields.append({QStringLiteral("decision"), QStringLiteral("approve")});
        answer = agent.postForm(QUrl(form.action), fmbtest::encodeForm(form.fields));
        answer = agent.follow(answer, redirect);
    }
    return agent.follow(answer, redirect);
}

QString tst_AuthorizationServer::codeFor(UserAgent &agent, const QString &clientId, const QString &verifier)
{
    const HttpResult answer =
        authorizeAndApprove(agent, authorizeUrl(authorizeFields(clientId, verifier, QStringLiteral("st"))));
    const QString code = fmbtest::queryOf(answer.location()).value(QStringLiteral("code"));
    if (code.isEmpty())
        qWarning() << "no code:" << answer.describe();
    remember(code);
    remember(verifier);
    for (const QByteArray &name : {QByteArray("__Host-fmb_login"), QByteArray("__Host-fmb_browser")})
        remember(QString::fromLatin1(agent.cookie(broker(QStringLiteral("/")), name)));
    return code;
}

QList<std::pair<QString, QString>> tst_AuthorizationServer::codeExchangeFields(const QString &clientId,
                                                                               const QString &code,
                                                                               const QString &verifier) const
{
    return {{QStringLiteral("grant_type"), QStringLiteral("authorization_code")},
            {QStringLiteral("code"), code},
            {QStringLiteral("redirect_uri"), ClientRedirect},
            {QStringLiteral("code_verifier"), verifier},
            {QStringLiteral("client_id"), clientId},
            {QStringLiteral("resource"), resource()}};
}

HttpResult tst_AuthorizationServer::tokenRequest(const QList<std::pair<QString, QString>> &fields,
                                                 const QByteArray &contentType, const fmbtest::Headers &extra)
{
    fmbtest::Headers headers{{"Content-Type", contentType}};
    headers.append(extra);
    HttpResult answer = fmbtest::http(m_network, "POST", broker(QStringLiteral("/oauth/token")),
                                      fmbtest::encodeForm(fields), headers);
    remember(answer.json().value(QStringLiteral("access_token")).toString());
    remember(answer.json().value(QStringLiteral("refresh_token")).toString());
    return answer;
}

HttpResult tst_AuthorizationServer::registerJson(const QByteArray &body)
{
    HttpResult answer = fmbtest::http(m_network, "POST", broker(QStringLiteral("/oauth/register")), body,
                                      {{"Content-Type", "application/json"}});
    remember(answer.json().value(QStringLiteral("client_secret")).toString());
    return answer;
}

Tokens tst_AuthorizationServer::tokensFor(UserAgent &agent, const QString &clientId)
{
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString code = codeFor(agent, clientId, verifier);
    const HttpResult answer = tokenRequest(codeExchangeFields(clientId, code, verifier));
    if (answer.status != 200)
        qWarning() << "token exchange failed:" << answer.describe();
    return {answer.json().value(QStringLiteral("access_token")).toString(),
            answer.json().value(QStringLiteral("refresh_token")).toString()};
}

HttpResult tst_AuthorizationServer::refresh(const QString &clientId, const QString &refreshToken)
{
    return tokenRequest({{QStringLiteral("grant_type"), QStringLiteral("refresh_token")},
                         {QStringLiteral("refresh_token"), refreshToken},
                         {QStringLiteral("client_id"), clientId},
                         {QStringLiteral("resource"), resource()}});
}

HttpResult tst_AuthorizationServer::mcp(const QString &accessToken, const QByteArray &body,
                                        const QByteArray &sessionId, const QString &query)
{
    fmbtest::Headers headers{{"Content-Type", "application/json"},
                             {"Accept", "application/json, text/event-stream"}};
    if (!accessToken.isEmpty())
        headers.append({"Authorization", "Bearer " + accessToken.toUtf8()});
    if (!sessionId.isEmpty())
        headers.append({"Mcp-Session-Id", sessionId});
    QUrl url = broker(QStringLiteral("/mcp"));
    if (!query.isEmpty())
        url.setQuery(query);
    return fmbtest::http(m_network, "POST", url, body, headers);
}

// --- discovery and registration ----------------------------------------------------------

void tst_AuthorizationServer::discovery()
{
    // MCP 2025-11-25 "Authorization Server Discovery": 401 -> PRM -> AS metadata.
    const HttpResult unauthorized = mcp(QString(), Initialize);
    QCOMPARE(unauthorized.status, 401);
    const QString prmUrl = m_publicUrl + QStringLiteral("/.well-known/oauth-protected-resource/mcp");
    QCOMPARE(QString::fromUtf8(unauthorized.header("WWW-Authenticate")),
             QStringLiteral("Bearer resource_metadata=\"%1\", scope=\"%2\"").arg(prmUrl, Scope));

    const HttpResult prm = fmbtest::http(m_network, "GET", QUrl(prmUrl));
    QCOMPARE(prm.status, 200);
    QCOMPARE(prm.header("Content-Type"), QByteArray("application/json"));
    QCOMPARE(prm.json().value(QStringLiteral("resource")).toString(), resource());
    QCOMPARE(prm.json().value(QStringLiteral("authorization_servers")).toArray(), QJsonArray{m_publicUrl});
    QCOMPARE(prm.json().value(QStringLiteral("scopes_supported")).toArray(), QJsonArray{Scope});
    const HttpResult rootPrm =
        fmbtest::http(m_network, "GET", broker(QStringLiteral("/.well-known/oauth-protected-resource")));
    QCOMPARE(rootPrm.status, 200);
    QCOMPARE(rootPrm.json(), prm.json());

    const HttpResult as =
        fmbtest::http(m_network, "GET", broker(QStringLiteral("/.well-known/oauth-authorization-server")));
    QCOMPARE(as.status, 200);
    const QJsonObject metadata = as.json();
    QCOMPARE(metadata.value(QStringLiteral("issuer")).toString(), m_publicUrl);
    QCOMPARE(metadata.value(QStringLiteral("authorization_endpoint")).toString(),
             m_publicUrl + QStringLiteral("/oauth/authorize"));
    QCOMPARE(metadata.value(QStringLiteral("token_endpoint")).toString(),
             m_publicUrl + QStringLiteral("/oauth/token"));
    QCOMPARE(metadata.value(QStringLiteral("registration_endpoint")).toString(),
             m_publicUrl + QStringLiteral("/oauth/register"));
    QCOMPARE(metadata.value(QStringLiteral("revocation_endpoint")).toString(),
             m_publicUrl + QStringLiteral("/oauth/revoke"));
    QCOMPARE(metadata.value(QStringLiteral("code_challenge_methods_supported")).toArray(),
             QJsonArray{QStringLiteral("S256")});
    // "none" first: Claude takes the metadata document path only when it is offered.
    const QJsonArray methods{QStringLiteral("none"), QStringLiteral("client_secret_post"),
                             QStringLiteral("client_secret_basic")};
    QCOMPARE(metadata.value(QStringLiteral("token_endpoint_auth_methods_supported")).toArray(), methods);
    QCOMPARE(metadata.value(QStringLiteral("revocation_endpoint_auth_methods_supported")).toArray(), methods);
    QCOMPARE(metadata.value(QStringLiteral("response_types_supported")).toArray(),
             QJsonArray{QStringLiteral("code")});
    QCOMPARE(metadata.value(QStringLiteral("client_id_metadata_document_supported")).toBool(), true);
    QCOMPARE(metadata.value(QStringLiteral("authorization_response_iss_parameter_supported")).toBool(), true);

    const HttpResult oidc =
        fmbtest::http(m_network, "GET", broker(QStringLiteral("/.well-known/openid-configuration")));
    QCOMPARE(oidc.status, 200);
    QCOMPARE(oidc.json().value(QStringLiteral("issuer")).toString(), m_publicUrl);

    const HttpResult wrongMethod = fmbtest::http(m_network, "POST", QUrl(prmUrl), "{}");
    QCOMPARE(wrongMethod.status, 405);
    QCOMPARE(wrongMethod.header("Allow"), QByteArray("GET, OPTIONS"));
}

void tst_AuthorizationServer::corsOnJsonEndpoints()
{
    const fmbtest::Headers origin{{"Origin", "https://inspector.example"}};
    const HttpResult metadata = fmbtest::http(
        m_network, "GET", broker(QStringLiteral("/.well-known/oauth-authorization-server")), {}, origin);
    QCOMPARE(metadata.header("Access-Control-Allow-Origin"), QByteArray("*"));
    const HttpResult preflight =
        fmbtest::http(m_network, "OPTIONS", broker(QStringLiteral("/oauth/token")), {},
                      {{"Origin", "https://inspector.example"}, {"Access-Control-Request-Method", "POST"}});
    QCOMPARE(preflight.status, 204);
    QVERIFY(preflight.header("Access-Control-Allow-Methods").contains("POST"));
    QVERIFY(preflight.header("Access-Control-Allow-Headers").contains("Content-Type"));
    const HttpResult token = fmbtest::http(
        m_network, "POST", broker(QStringLiteral("/oauth/token")), "grant_type=x",
        {{"Content-Type", "application/x-www-form-urlencoded"}, {"Origin", "https://inspector.example"}});
    QCOMPARE(token.header("Access-Control-Allow-Origin"), QByteArray("*"));
}

void tst_AuthorizationServer::registration()
{
    const QJsonObject request{
        {QStringLiteral("client_name"), QStringLiteral("Registered")},
        {QStringLiteral("redirect_uris"),
         QJsonArray{ClientRedirect, QStringLiteral("https://app.example/cb"),
                    QStringLiteral("http://localhost:3000/cb"), QStringLiteral("http://[::1]:3000/cb")}}};
    const HttpResult answer = fmbtest::http(m_network, "POST", broker(QStringLiteral("/oauth/register")),
                                            QJsonDocument(request).toJson(QJsonDocument::Compact),
                                            {{"Content-Type", "application/json"}});
    QCOMPARE(answer.status, 201);
    QCOMPARE(answer.header("Cache-Control"), QByteArray("no-store"));
    const QJsonObject client = answer.json();
    QVERIFY(!client.value(QStringLiteral("client_id")).toString().isEmpty());
    QVERIFY(!client.contains(QStringLiteral("client_secret")));
    QCOMPARE(client.value(QStringLiteral("token_endpoint_auth_method")).toString(), QStringLiteral("none"));
    QCOMPARE(client.value(QStringLiteral("client_name")).toString(), QStringLiteral("Registered"));
    QCOMPARE(client.value(QStringLiteral("redirect_uris")).toArray().size(), 4);
    QCOMPARE(client.value(QStringLiteral("grant_types")).toArray(),
             (QJsonArray{QStringLiteral("authorization_code"), QStringLiteral("refresh_token")}));
    QCOMPARE(client.value(QStringLiteral("response_types")).toArray(), QJsonArray{QStringLiteral("code")});
    Result<fmb::ClientRecord> stored =
        m_store->findClient(client.value(QStringLiteral("client_id")).toString());
    QVERIFY(stored.ok());
    QCOMPARE(stored.value().kind, fmb::ClientKind::Dynamic);

    // The least a client may send: redirect URIs. No name, no auth method (public: "none").
    const HttpResult minimal = fmbtest::http(m_network, "POST", broker(QStringLiteral("/oauth/register")),
                                             R"({"redirect_uris":["https://app.example/cb"]})",
                                             {{"Content-Type", "application/json; charset=utf-8"}});
    QVERIFY2(minimal.status == 201, minimal.describe().constData());
    QVERIFY(!minimal.json().contains(QStringLiteral("client_name")));
    QCOMPARE(minimal.json().value(QStringLiteral("token_endpoint_auth_method")).toString(),
             QStringLiteral("none"));
    const HttpResult page = m_browser->get(authorizeUrl(applyOverrides(
        authorizeFields(minimal.json().value(QStringLiteral("client_id")).toString(),
                        QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st")),
        {QStringLiteral("redirect_uri=https://app.example/cb")})));
    QCOMPARE(page.status, 200);
    QVERIFY(page.body.contains("gave no name"));
}

void tst_AuthorizationServer::registrationRejects_data()
{
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("error");

    const QByteArray json = "application/json";
    const QString badUri = QStringLiteral("invalid_redirect_uri");
    const QString badMeta = QStringLiteral("invalid_client_metadata");
    QTest::newRow("redirect_uris missing") << json << QByteArray(R"({"client_name":"x"})") << 400 << badUri;
    QTest::newRow("redirect_uris empty") << json << QByteArray(R"({"redirect_uris":[]})") << 400 << badUri;
    QTest::newRow("redirect_uris not an array")
        << json << QByteArray(R"({"redirect_uris":"https://a.example/cb"})") << 400 << badUri;
    QTest::newRow("http redirect on a public host")
        << json << QByteArray(R"({"redirect_uris":["http://app.example/cb"]})") << 400 << badUri;
    QTest::newRow("redirect with a fragment")
        << json << QByteArray(R"({"redirect_uris":["https://app.example/cb#x"]})") << 400 << badUri;
    QTest::newRow("javascript redirect")
        << json
        << QByteArray(R"({"redirect_uris":["javascript:location='//evil.example/'+document.cookie"]})") << 400
        << badUri;
    QTest::newRow("data redirect") << json << QByteArray(R"({"redirect_uris":["data:text/html,<b>x</b>"]})")
                                   << 400 << badUri;
    QTest::newRow("file redirect") << json << QByteArray(R"({"redirect_uris":["file:///tmp/cb"]})") << 400
                                   << badUri;
    QTest::newRow("redirect with user info")
        << json << QByteArray(R"({"redirect_uris":["https://me@app.example/cb"]})") << 400 << badUri;
    QTest::newRow("relative redirect")
        << json << QByteArray(R"({"redirect_uris":["/callback"]})") << 400 << badUri;
    QByteArray many = R"({"redirect_uris":[)";
    for (int i = 0; i < 11; ++i)
        many += (i ? "," : "") + QByteArray(R"("https://app.example/cb)") + QByteArray::number(i) + '"';
    many += "]}";
    QTest::newRow("eleven redirect URIs (limit 10)") << json << many << 400 << badUri;
    QTest::newRow("client_secret_jwt authentication")
        << json
        << QByteArray(
               R"({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_jwt"})")
        << 400 << badMeta;
    QTest::newRow("implicit grant")
        << json << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"grant_types":["implicit"]})")
        << 400 << badMeta;
    QTest::newRow("grant_types without authorization_code")
        << json << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"grant_types":["refresh_token"]})")
        << 400 << badMeta;
    QTest::newRow("response_types token")
        << json << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"response_types":["token"]})")
        << 400 << badMeta;
    QTest::newRow("client_name not a string")
        << json << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"client_name":7})") << 400
        << badMeta;
    QTest::newRow("body not JSON") << json << QByteArray("redirect_uris=https://a.example/cb") << 400
                                   << badMeta;
    QTest::newRow("body a JSON array") << json << QByteArray(R"(["https://a.example/cb"])") << 400 << badMeta;
    QTest::newRow("form content type") << QByteArray("application/x-www-form-urlencoded")
                                       << QByteArray("redirect_uris=https://a.example/cb") << 400 << badMeta;
    QTest::newRow("body over 64 KiB")
        << json
        << QByteArray(R"({"redirect_uris":["https://a.example/cb"],"client_name":")") +
               QByteArray(70 * 1024, 'x') + QByteArray(R"("})")
        << 413 << badMeta;
}

void tst_AuthorizationServer::registrationRejects()
{
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, error);
    const HttpResult answer = fmbtest::http(m_network, "POST", broker(QStringLiteral("/oauth/register")),
                                            body, {{"Content-Type", contentType}});
    QVERIFY2(answer.status == status, answer.describe().constData());
    QCOMPARE(answer.json().value(QStringLiteral("error")).toString(), error);
    QVERIFY(!answer.json().value(QStringLiteral("error_description")).toString().isEmpty());
}

// --- registration limits (issue 11) -----------------------------------------------------------

namespace {

HttpResult postRegistration(QNetworkAccessManager *network, const QUrl &url, const QByteArray &body)
{
    return fmbtest::http(network, "POST", url, body, {{"Content-Type", "application/json"}});
}

const QByteArray SmallRegistration =
    R"({"client_name":"limits","redirect_uris":["http://127.0.0.1:45999/callback"]})";

} // namespace

void tst_AuthorizationServer::registrationRateLimit()
{
    fmb::OAuthConfig config = m_auth->config();
    config.stateDir.clear();
    config.registerRatePerMinute = 3;
    AuthorizationServer limited(config, m_store.get(), m_upstream);
    m_server->addRoutes(limited.routes());
    const QUrl url = broker(QStringLiteral("/oauth/register"));
    for (int i = 0; i < 3; ++i) {
        const HttpResult answer = postRegistration(m_network, url, SmallRegistration);
        QVERIFY2(answer.status == 201, answer.describe().constData());
    }
    const auto loggedRefusals = [] {
        std::lock_guard lock(logCapture().mutex);
        return logCapture().lines.filter(QStringLiteral("refused a client registration (429")).size();
    };
    const qsizetype loggedBefore = loggedRefusals();
    const quint64 countedBefore = fmb::metrics::value(fmb::metrics::Counter::RefusedRegistrations);
    const HttpResult refused = postRegistration(m_network, url, SmallRegistration);
    for (int i = 0; i < 20; ++i)
        QCOMPARE(postRegistration(m_network, url, SmallRegistration).status, 429);
    m_server->addRoutes(m_auth->routes());
    // 21 refusals, but a flood must not flood the log: 5 lines, then one per 10 s.
    QCOMPARE(loggedRefusals() - loggedBefore, 5);
    // ... while /metrics counts every one.
    QCOMPARE(fmb::metrics::value(fmb::metrics::Counter::RefusedRegistrations), countedBefore + 21);
    QVERIFY2(refused.status == 429, refused.describe().constData());
    QCOMPARE(refused.json().value(QStringLiteral("error")).toString(), QStringLiteral("slow_down"));
    QVERIFY(
        refused.json().value(QStringLiteral("error_description")).toString().contains(QLatin1String("3")));
    // One token comes back every 20 s at 3 a minute.
    const int retryAfter = refused.header("Retry-After").toInt();
    QVERIFY2(retryAfter >= 1 && retryAfter <= 20, refused.header("Retry-After").constData());
    QCOMPARE(refused.header("Cache-Control"), QByteArray("no-store"));
}

void tst_AuthorizationServer::registrationBounds_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("error");
    QTest::addColumn<QString>("mentions");

    const QString badMeta = QStringLiteral("invalid_client_metadata");
    const QByteArray head = R"({"redirect_uris":["https://app.example/cb"],)";
    QTest::newRow("body over max_registration_bytes (8 KiB)")
        << head + R"("client_name":"x","software_id":")" + QByteArray(9000, 'a') + R"("})" << 413 << badMeta
        << QStringLiteral("8192");
    QTest::newRow("an ignored field's string over 2000 characters")
        << head + R"("logo_uri":"https://app.example/)" + QByteArray(2100, 'l') + R"("})" << 400 << badMeta
        << QStringLiteral("logo_uri");
    QTest::newRow("a string inside an array over 2000 characters")
        << head + R"("contacts":["a@example.org",")" + QByteArray(2100, 'c') + R"("]})" << 400 << badMeta
        << QStringLiteral("contacts[1]");
    QTest::newRow("a key over 2000 characters")
        << head + R"(")" + QByteArray(2100, 'k') + R"(":1})" << 400 << badMeta << QStringLiteral("a key");
    QByteArray many = R"({"redirect_uris":[)";
    for (int i = 0; i < 11; ++i)
        many += (i ? "," : "") + QByteArray(R"("https://app.example/cb)") + QByteArray::number(i) + '"';
    many += "]}";
    QTest::newRow("eleven redirect URIs (limit 10)")
        << many << 400 << QStringLiteral("invalid_redirect_uri") << QStringLiteral("the limit is 10");
}

void tst_AuthorizationServer::registrationBounds()
{
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(QString, error);
    QFETCH(QString, mentions);
    const HttpResult answer = postRegistration(m_network, broker(QStringLiteral("/oauth/register")), body);
    QVERIFY2(answer.status == status, answer.describe().constData());
    QCOMPARE(answer.json().value(QStringLiteral("error")).toString(), error);
    QVERIFY2(answer.json().value(QStringLiteral("error_description")).toString().contains(mentions),
             answer.body.constData());
}

void tst_AuthorizationServer::pendingClientCap()
{
    // Its own store: the shared one holds every other test's clients.
    QTemporaryDir dir;
    fmb::SqliteTokenStore store;
    QVERIFY(store.open(dir.path()).ok());
    fmb::OAuthConfig config = m_auth->config();
    config.stateDir.clear();
    config.maxPendingClients = 2;
    config.pendingClientTtl = std::chrono::seconds(3600);
    AuthorizationServer capped(config, &store, m_upstream);
    m_server->addRoutes(capped.routes());
    const QUrl url = broker(QStringLiteral("/oauth/register"));
    const HttpResult first = postRegistration(m_network, url, SmallRegistration);
    const HttpResult second = postRegistration(m_network, url, SmallRegistration);
    const HttpResult full = postRegistration(m_network, url, SmallRegistration);
    // One client signs in (its first grant): a place frees up.
    const QString clientId = first.json().value(QStringLiteral("client_id")).toString();
    const HttpResult back = authorizeAndApprove(
        *m_browser, authorizeUrl(authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()),
                                                 QStringLiteral("st-cap"))));
    const HttpResult again = postRegistration(m_network, url, SmallRegistration);
    const HttpResult fullAgain = postRegistration(m_network, url, SmallRegistration);
    m_server->addRoutes(m_auth->routes());

    QCOMPARE(first.status, 201);
    QCOMPARE(second.status, 201);
    QVERIFY2(full.status == 503, full.describe().constData());
    QCOMPARE(full.json().value(QStringLiteral("error")).toString(),
             QStringLiteral("temporarily_unavailable"));
    // Retry-After: when the oldest pending client is purged, about an hour from now.
    const int retryAfter = full.header("Retry-After").toInt();
    QVERIFY2(retryAfter > 3500 && retryAfter <= 3600, full.header("Retry-After").constData());
    QVERIFY2(fmbtest::queryOf(back.location()).contains(QStringLiteral("code")), back.describe().constData());
    QVERIFY2(again.status == 201, again.describe().constData());
    QCOMPARE(fullAgain.status, 503);
    Result<fmb::PendingClients> pending = store.pendingClients();
    QVERIFY(pending.ok());
    QCOMPARE(pending.value().count, 2);
}

void tst_AuthorizationServer::pendingClientsPurged()
{
    QTemporaryDir dir;
    fmb::SqliteTokenStore store;
    QVERIFY(store.open(dir.path()).ok());
    // Left over from before a restart: registered two hours ago, never signed in.
    const QDateTime start = QDateTime::currentDateTimeUtc();
    store.setClock([start] { return start.addSecs(-7200); });
    fmb::ClientRecord stale;
    stale.clientId = QStringLiteral("stale-client");
    stale.redirectUris = {ClientRedirect};
    QVERIFY(store.registerClient(stale).ok());
    store.setClock([] { return QDateTime::currentDateTimeUtc(); });

    fmb::OAuthConfig config = m_auth->config();
    config.stateDir.clear();
    config.pendingClientTtl = std::chrono::seconds(2);
    AuthorizationServer purging(config, &store, m_upstream);
    // Purged when the server starts, before any timer.
    Result<fmb::ClientRecord> gone = store.findClient(stale.clientId);
    QVERIFY(!gone.ok());
    QCOMPARE(gone.error().code, ErrorCode::NotFound);

    m_server->addRoutes(purging.routes());
    const HttpResult registered =
        postRegistration(m_network, broker(QStringLiteral("/oauth/register")), SmallRegistration);
    m_server->addRoutes(m_auth->routes());
    QCOMPARE(registered.status, 201);
    const QString clientId = registered.json().value(QStringLiteral("client_id")).toString();
    QVERIFY(store.findClient(clientId).ok());
    // Then by the sweep (every second here), once two seconds have passed.
    QTRY_VERIFY_WITH_TIMEOUT(!store.findClient(clientId).ok(), 10000);
}

// A new client ID metadata document client is pending too: at the cap it
// is not stored (the /authorize page says why); a known one still works.
void tst_AuthorizationServer::pendingCapCoversMetadataDocuments()
{
    QTemporaryDir dir;
    fmb::SqliteTokenStore store;
    QVERIFY(store.open(dir.path()).ok());
    fmb::OAuthConfig config = m_auth->config();
    config.stateDir.clear();
    config.maxPendingClients = 1;
    AuthorizationServer capped(config, &store, m_upstream);
    m_server->addRoutes(capped.routes());
    const QString clientId = m_documents->url(QStringLiteral("/clients/capped.json")).toString();
    const QJsonObject document{{QStringLiteral("client_id"), clientId},
                               {QStringLiteral("redirect_uris"), QJsonArray{ClientRedirect}}};
    m_documents->setAnswer(
        "/clients/capped.json",
        {200, "application/json", QJsonDocument(document).toJson(QJsonDocument::Compact), {}});
    const HttpResult registered =
        postRegistration(m_network, broker(QStringLiteral("/oauth/register")), SmallRegistration);
    const HttpResult page = m_browser->get(authorizeUrl(
        authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st"))));
    m_server->addRoutes(m_auth->routes());
    QCOMPARE(registered.status, 201);
    QCOMPARE(page.status, 400);
    QVERIFY2(page.body.contains("have not signed in yet"), page.body.constData());
    Result<fmb::ClientRecord> stored = store.findClient(clientId);
    QVERIFY(!stored.ok());
    QCOMPARE(stored.error().code, ErrorCode::NotFound);
}

void tst_AuthorizationServer::metadataDocumentCache_data()
{
    QTest::addColumn<QByteArray>("cacheControl");
    QTest::addColumn<int>("fetches"); // for two /authorize requests in a row
    QTest::newRow("max-age=600: reused") << QByteArray("public, max-age=600") << 1;
    QTest::newRow("no-store: fetched again") << QByteArray("no-store") << 2;
    QTest::newRow("max-age=0: fetched again") << QByteArray("max-age=0") << 2;
    QTest::newRow("no header: the fallback hour") << QByteArray() << 1;
}

void tst_AuthorizationServer::metadataDocumentCache()
{
    QFETCH(QByteArray, cacheControl);
    QFETCH(int, fetches);
    // A document per row: an earlier row's cache entry must not answer.
    const QString path =
        QStringLiteral("/clients/cache-%1.json").arg(qHash(QByteArray(QTest::currentDataTag())));
    const QString clientId = m_documents->url(path).toString();
    const QJsonObject document{{QStringLiteral("client_id"), clientId},
                               {QStringLiteral("client_name"), QStringLiteral("Cached client")},
                               {QStringLiteral("redirect_uris"), QJsonArray{ClientRedirect}}};
    fmbtest::Headers headers;
    if (!cacheControl.isEmpty())
        headers.append({"Cache-Control", cacheControl});
    m_documents->setAnswer(
        path.toLatin1(),
        {200, "application/json", QJsonDocument(document).toJson(QJsonDocument::Compact), headers});
    // No floor here, so that "do not reuse" shows; the broker's floor is 5 min.
    fmb::OAuthConfig config = m_auth->config();
    config.stateDir.clear();
    config.metadataCache.floor = std::chrono::seconds(0);
    AuthorizationServer server(config, m_store.get(), m_upstream);
    m_server->addRoutes(server.routes());
    const int before = m_documents->requests();
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const HttpResult first =
        m_browser->get(authorizeUrl(authorizeFields(clientId, verifier, QStringLiteral("a"))));
    const HttpResult second =
        m_browser->get(authorizeUrl(authorizeFields(clientId, verifier, QStringLiteral("b"))));
    m_server->addRoutes(m_auth->routes());
    QVERIFY2(first.status == 200, first.describe().constData());
    QVERIFY2(second.status == 200, second.describe().constData());
    QCOMPARE(m_documents->requests() - before, fetches);
}

// --- the authorization code flow ------------------------------------------------------------

void tst_AuthorizationServer::fullFlow()
{
    const quint64 signInsBefore = fmb::metrics::value(fmb::metrics::Counter::SignInsSucceeded);
    QSignalSpy created(m_auth, &AuthorizationServer::grantCreated);
    QSignalSpy audited(m_auth, &AuthorizationServer::audited);
    const QString clientId = registerClient();
    QVERIFY(!clientId.isEmpty());
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString state = QStringLiteral("s t+ä&=/?");
    const HttpResult page = m_browser->get(authorizeUrl(authorizeFields(clientId, verifier, state)));
    QCOMPARE(page.status, 200);
    QVERIFY(page.header("Content-Type").startsWith("text/html"));
    QVERIFY(page.body.contains("Test client"));
    QVERIFY(page.body.contains(ClientRedirect.toUtf8()));
    HtmlForm form;
    QVERIFY(fmbtest::parseForm(page.body, &form));
    QCOMPARE(form.action, m_publicUrl + QStringLiteral("/oauth/consent"));
    QStringList hidden;
    for (const auto &field : std::as_const(form.fields))
        hidden << field.first;
    QCOMPARE(hidden, (QStringList{QStringLiteral("request_id"), QStringLiteral("csrf_token")}));

    form.fields.append({QStringLiteral("decision"), QStringLiteral("approve")});
    const HttpResult toUpstream = m_browser->postForm(QUrl(form.action), fmbtest::encodeForm(form.fields));
    QCOMPARE(toUpstream.status, 302);
    QVERIFY2(toUpstream.location().toString().startsWith(
                 m_fake.url(QStringLiteral("/login/oauth/authorize")).toString()),
             toUpstream.describe().constData());
    const auto upstreamQuery = fmbtest::queryOf(toUpstream.location());
    QCOMPARE(upstreamQuery.value(QStringLiteral("client_id")), UpstreamClientId);
    QCOMPARE(upstreamQuery.value(QStringLiteral("code_challenge_method")), QStringLiteral("S256"));
    QCOMPARE(upstreamQuery.value(QStringLiteral("code_challenge")).size(), 43);
    // The client's PKCE challenge and state are ours to check, never forwarded.
    QVERIFY(upstreamQuery.value(QStringLiteral("code_challenge")) != fmb::Pkce::s256(verifier));
    QVERIFY(upstreamQuery.value(QStringLiteral("state")) != state);

    const HttpResult back = m_browser->follow(toUpstream, ClientRedirect);
    QCOMPARE(back.status, 302);
    QVERIFY2(back.location().toString().startsWith(ClientRedirect), back.describe().constData());
    const auto query = fmbtest::queryOf(back.location());
    QCOMPARE(query.value(QStringLiteral("state")), state);
    QCOMPARE(query.value(QStringLiteral("iss")), m_publicUrl);
    const QString code = query.value(QStringLiteral("code"));
    QVERIFY(!code.isEmpty());
    remember(code);
    QCOMPARE(created.count(), 1);
    QCOMPARE(fmb::metrics::value(fmb::metrics::Counter::SignInsSucceeded), signInsBefore + 1);
    QCOMPARE(auditedEvents(audited, clientId), QStringList{QStringLiteral("consent alice ") + Scope});

    const HttpResult tokens = tokenRequest(codeExchangeFields(clientId, code, verifier));
    QVERIFY2(tokens.status == 200, tokens.describe().constData());
    QCOMPARE(tokens.header("Cache-Control"), QByteArray("no-store"));
    const QJsonObject answer = tokens.json();
    QCOMPARE(answer.value(QStringLiteral("token_type")).toString(), QStringLiteral("Bearer"));
    QVERIFY(qAbs(answer.value(QStringLiteral("expires_in")).toInteger() - 3600) <= 2);
    QCOMPARE(answer.value(QStringLiteral("scope")).toString(), Scope);
    const QString access = answer.value(QStringLiteral("access_token")).toString();
    QVERIFY(!access.isEmpty());
    QVERIFY(!answer.value(QStringLiteral("refresh_token")).toString().isEmpty());
    QCOMPARE(auditedEvents(audited, clientId),
             (QStringList{QStringLiteral("consent alice ") + Scope, QStringLiteral("issued alice")}));

    const HttpResult initialized = mcp(access, Initialize);
    QVERIFY2(initialized.status == 200, initialized.describe().constData());
    QVERIFY(!initialized.header("Mcp-Session-Id").isEmpty());
    QVERIFY(initialized.body.contains("fmb-test-mcp-server"));
    fmb::Session *session = m_registry->find(QString::fromLatin1(initialized.header("Mcp-Session-Id")));
    QVERIFY(session);
    QCOMPARE(session->owner().user, QStringLiteral("alice"));
    QCOMPARE(session->owner().grantId, created.first().at(0).toString());
    // The grant holds the upstream tokens; the client never saw them.
    Result<fmb::UpstreamTokens> upstream = m_store->upstreamTokens(session->owner().grantId);
    QVERIFY(upstream.ok());
    QVERIFY(upstream.value().accessToken.startsWith("gto_"));
    QVERIFY(!tokens.body.contains(upstream.value().accessToken));
    remember(QString::fromLatin1(upstream.value().accessToken));
    remember(QString::fromLatin1(upstream.value().refreshToken));
}

void tst_AuthorizationServer::consentPageIsHardened()
{
    const QString clientId = registerClient(QStringLiteral("<script>alert(1)</script> & \"Co\""));
    const HttpResult page = m_browser->get(authorizeUrl(
        authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st"))));
    QCOMPARE(page.status, 200);
    QVERIFY(page.header("Content-Security-Policy").contains("frame-ancestors 'none'"));
    QCOMPARE(page.header("X-Frame-Options"), QByteArray("DENY"));
    QCOMPARE(page.header("Cache-Control"), QByteArray("no-store"));
    QVERIFY(!page.body.contains("<script>"));
    QVERIFY(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
    // The redirect goes to this computer: the page says so.
    QVERIFY(page.body.contains("your own computer"));
    const QList<QByteArray> cookies = page.setCookies();
    QCOMPARE(cookies.size(), 1);
    QVERIFY(cookies.first().startsWith("__Host-fmb_browser="));
    for (const char *attribute : {"; Path=/", "; Secure", "; HttpOnly", "; SameSite=Lax"})
        QVERIFY2(cookies.first().contains(attribute), cookies.first().constData());
}

void tst_AuthorizationServer::refreshRotates()
{
    const QString clientId = registerClient();
    const Tokens first = tokensFor(*m_browser, clientId);
    QVERIFY(!first.refresh.isEmpty());
    QSignalSpy audited(m_auth, &AuthorizationServer::audited);
    const HttpResult rotated = refresh(clientId, first.refresh);
    QVERIFY2(rotated.status == 200, rotated.describe().constData());
    QCOMPARE(auditedEvents(audited, clientId), QStringList{QStringLiteral("refreshed alice")});
    const QString access = rotated.json().value(QStringLiteral("access_token")).toString();
    const QString refreshToken = rotated.json().value(QStringLiteral("refresh_token")).toString();
    QVERIFY(access != first.access);
    QVERIFY(refreshToken != first.refresh);
    QCOMPARE(rotated.json().value(QStringLiteral("scope")).toString(), Scope);
    QCOMPARE(mcp(access, Initialize).status, 200);
    const HttpResult again = refresh(clientId, refreshToken);
    QVERIFY2(again.status == 200, again.describe().constData());
}

void tst_AuthorizationServer::refreshReuseRevokesFamily()
{
    QSignalSpy revoked(m_auth, &AuthorizationServer::grantTokensRevoked);
    const QString clientId = registerClient();
    const Tokens first = tokensFor(*m_browser, clientId);
    const HttpResult rotated = refresh(clientId, first.refresh);
    QCOMPARE(rotated.status, 200);
    const HttpResult reused = refresh(clientId, first.refresh);
    QCOMPARE(reused.status, 400);
    QCOMPARE(reused.json().value(QStringLiteral("error")).toString(), QStringLiteral("invalid_grant"));
    QCOMPARE(revoked.count(), 1);
    // OAuth 2.1 §4.3.1: the whole family is gone, the newest pair too.
    const HttpResult newest =
        refresh(clientId, rotated.json().value(QStringLiteral("refresh_token")).toString());
    QCOMPARE(newest.status, 400);
    QCOMPARE(newest.json().value(QStringLiteral("error")).toString(), QStringLiteral("invalid_grant"));
    QCOMPARE(mcp(rotated.json().value(QStringLiteral("access_token")).toString(), Initialize).status, 401);
    QCOMPARE(mcp(first.access, Initialize).status, 401);
}

void tst_AuthorizationServer::authorizeRejects_data()
{
    QTest::addColumn<QStringList>("overrides");
    QTest::addColumn<int>("pageStatus"); // answered on our own page; 0: redirected to the client
    QTest::addColumn<QString>("error");  // the redirect's error

    QTest::newRow("unknown client") << QStringList{QStringLiteral("client_id=not-registered")} << 400
                                    << QString();
    QTest::newRow("client_id missing") << QStringList{QStringLiteral("-client_id")} << 400 << QString();
    QTest::newRow("client_id repeated")
        << QStringList{QStringLiteral("+client_id=other")} << 400 << QString();
    QTest::newRow("redirect URI mismatch")
        << QStringList{QStringLiteral("redirect_uri=http://127.0.0.1:45999/other")} << 400 << QString();
    QTest::newRow("redirect URI with a trailing slash")
        << QStringList{QStringLiteral("redirect_uri=http://127.0.0.1:45999/callback/")} << 400 << QString();
    QTest::newRow("redirect URI on localhost instead of 127.0.0.1")
        << QStringList{QStringLiteral("redirect_uri=http://localhost:45999/callback")} << 400 << QString();
    QTest::newRow("redirect URI on another loopback port, another path")
        << QStringList{QStringLiteral("redirect_uri=http://127.0.0.1:45998/other")} << 400 << QString();
    QTest::newRow("redirect URI missing") << QStringList{QStringLiteral("-redirect_uri")} << 400 << QString();
    QTest::newRow("PKCE missing") << QStringList{QStringLiteral("-code_challenge"),
                                                 QStringLiteral("-code_challenge_method")}
                                  << 0 << QStringLiteral("invalid_request");
    QTest::newRow("PKCE plain") << QStringList{QStringLiteral("code_challenge_method=plain")} << 0
                                << QStringLiteral("invalid_request");
    QTest::newRow("PKCE method missing (defaults to plain)")
        << QStringList{QStringLiteral("-code_challenge_method")} << 0 << QStringLiteral("invalid_request");
    QTest::newRow("PKCE challenge malformed")
        << QStringList{QStringLiteral("code_challenge=too-short")} << 0 << QStringLiteral("invalid_request");
    QTest::newRow("resource for another server")
        << QStringList{QStringLiteral("resource=https://other.example/mcp")} << 0
        << QStringLiteral("invalid_target");
    QTest::newRow("resource of this host without /mcp")
        << QStringList{QStringLiteral("resource=") + m_publicUrl} << 0 << QStringLiteral("invalid_target");
    QTest::newRow("two resources") << QStringList{QStringLiteral("+resource=") + resource()} << 0
                                   << QStringLiteral("invalid_target");
    QTest::newRow("response_type token") << QStringList{QStringLiteral("response_type=token")} << 0
                                         << QStringLiteral("unsupported_response_type");
    // RFC 8252 §7.3: a loopback redirect's port is chosen at request time.
    QTest::newRow("accepted: redirect URI on another loopback port")
        << QStringList{QStringLiteral("redirect_uri=http://127.0.0.1:45998/callback")} << 200 << QString();
    // RFC 6749 §3.3: unknown scopes are ignored (Claude asks for "claudeai").
    QTest::newRow("accepted: unknown scope")
        << QStringList{QStringLiteral("scope=claudeai")} << 200 << QString();
    QTest::newRow("accepted: resource with upper-case scheme and a trailing slash")
        << QStringList{QStringLiteral("resource=HTTP://127.0.0.1:") +
                       QString::number(QUrl(m_publicUrl).port()) + QStringLiteral("/mcp/")}
        << 200 << QString();
    QTest::newRow("accepted: no resource and no scope")
        << QStringList{QStringLiteral("-resource"), QStringLiteral("-scope")} << 200 << QString();
}

void tst_AuthorizationServer::authorizeRejects()
{
    QFETCH(QStringList, overrides);
    QFETCH(int, pageStatus);
    QFETCH(QString, error);
    const QString clientId = registerClient();
    const auto fields = applyOverrides(
        authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st-1")),
        overrides);
    const int before = m_fake.stats(m_network).value(QStringLiteral("authorizations")).toInt();
    const HttpResult answer = m_browser->get(authorizeUrl(fields));
    if (pageStatus != 0) {
        QVERIFY2(answer.status == pageStatus, answer.describe().constData());
        QVERIFY(answer.header("Content-Type").startsWith("text/html"));
        QVERIFY(answer.header("Location").isEmpty());
    } else {
        QVERIFY2(answer.status == 302, answer.describe().constData());
        QVERIFY2(answer.location().toString().startsWith(ClientRedirect), answer.describe().constData());
        const auto query = fmbtest::queryOf(answer.location());
        QCOMPARE(query.value(QStringLiteral("error")), error);
        QCOMPARE(query.value(QStringLiteral("state")), QStringLiteral("st-1"));
        QCOMPARE(query.value(QStringLiteral("iss")), m_publicUrl);
        QVERIFY(!query.contains(QStringLiteral("code")));
    }
    // Nothing reached Forgejo.
    QCOMPARE(m_fake.stats(m_network).value(QStringLiteral("authorizations")).toInt(), before);
}

void tst_AuthorizationServer::tokenRejects_data()
{
    QTest::addColumn<QStringList>("overrides");
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("error");

    const QByteArray form = "application/x-www-form-urlencoded";
    QTest::newRow("wrong code_verifier")
        << QStringList{QStringLiteral("code_verifier=") + QString(43, QLatin1Char('a'))} << form << 400
        << QStringLiteral("invalid_grant");
    QTest::newRow("code_verifier missing")
        << QStringList{QStringLiteral("-code_verifier")} << form << 400 << QStringLiteral("invalid_request");
    QTest::newRow("unknown client") << QStringList{QStringLiteral("client_id=nobody")} << form << 401
                                    << QStringLiteral("invalid_client");
    QTest::newRow("client_id missing")
        << QStringList{QStringLiteral("-client_id")} << form << 400 << QStringLiteral("invalid_request");
    QTest::newRow("code of another client")
        << QStringList{QStringLiteral("client_id=@other")} << form << 400 << QStringLiteral("invalid_grant");
    QTest::newRow("redirect_uri differs")
        << QStringList{QStringLiteral("redirect_uri=http://127.0.0.1:45999/other")} << form << 400
        << QStringLiteral("invalid_grant");
    QTest::newRow("redirect_uri missing")
        << QStringList{QStringLiteral("-redirect_uri")} << form << 400 << QStringLiteral("invalid_request");
    QTest::newRow("resource for another server")
        << QStringList{QStringLiteral("resource=https://other.example/mcp")} << form << 400
        << QStringLiteral("invalid_target");
    QTest::newRow("unknown code") << QStringList{QStringLiteral("code=") + QString(43, QLatin1Char('c'))}
                                  << form << 400 << QStringLiteral("invalid_grant");
    QTest::newRow("grant_type missing")
        << QStringList{QStringLiteral("-grant_type")} << form << 400 << QStringLiteral("invalid_request");
    QTest::newRow("grant_type password") << QStringList{QStringLiteral("grant_type=password")} << form << 400
                                         << QStringLiteral("unsupported_grant_type");
    QTest::newRow("code repeated") << QStringList{QStringLiteral("+code=again")} << form << 400
                                   << QStringLiteral("invalid_request");
    QTest::newRow("JSON content type")
        << QStringList{} << QByteArray("application/json") << 400 << QStringLiteral("invalid_request");
}

void tst_AuthorizationServer::tokenRejects()
{
    QFETCH(QStringList, overrides);
    QFETCH(QByteArray, contentType);
    QFETCH(int, status);
    QFETCH(QString, error);
    const QString clientId = registerClient();
    const QString other = registerClient(QStringLiteral("Other client"));
    overrides.replaceInStrings(QStringLiteral("@other"), other);
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString code = codeFor(*m_browser, clientId, verifier);
    QVERIFY(!code.isEmpty());
    const HttpResult answer =
        tokenRequest(applyOverrides(codeExchangeFields(clientId, code, verifier), overrides), contentType);
    QVERIFY2(answer.status == status, answer.describe().constData());
    QCOMPARE(answer.header("Content-Type"), QByteArray("application/json"));
    QCOMPARE(answer.header("Cache-Control"), QByteArray("no-store"));
    QCOMPARE(answer.json().value(QStringLiteral("error")).toString(), error);
    QVERIFY(!answer.json().contains(QStringLiteral("access_token")));
}

void tst_AuthorizationServer::replayedCodeRevokesGrant()
{
    QSignalSpy revoked(m_auth, &AuthorizationServer::grantTokensRevoked);
    const QString clientId = registerClient();
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString code = codeFor(*m_browser, clientId, verifier);
    const HttpResult first = tokenRequest(codeExchangeFields(clientId, code, verifier));
    QCOMPARE(first.status, 200);
    const QString access = first.json().value(QStringLiteral("access_token")).toString();
    QCOMPARE(mcp(access, Initialize).status, 200);

    const HttpResult replay = tokenRequest(codeExchangeFields(clientId, code, verifier));
    QCOMPARE(replay.status, 400);
    QCOMPARE(replay.json().value(QStringLiteral("error")).toString(), QStringLiteral("invalid_grant"));
    QCOMPARE(revoked.count(), 1);
    // OAuth 2.1 §4.1.3: what the code gave out is revoked.
    const HttpResult refused = mcp(access, Initialize);
    QCOMPARE(refused.status, 401);
    QVERIFY(refused.header("WWW-Authenticate").contains("error=\"invalid_token\""));
    QCOMPARE(refresh(clientId, first.json().value(QStringLiteral("refresh_token")).toString()).status, 400);
}

void tst_AuthorizationServer::expiredCode()
{
    const QString clientId = registerClient();
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString code = codeFor(*m_browser, clientId, verifier);
    QVERIFY(!code.isEmpty());
    const QDateTime later = QDateTime::currentDateTimeUtc().addSecs(61); // codeTtl is 60 s
    m_store->setClock([later] { return later; });
    const HttpResult answer = tokenRequest(codeExchangeFields(clientId, code, verifier));
    QCOMPARE(answer.status, 400);
    QCOMPARE(answer.json().value(QStringLiteral("error")).toString(), QStringLiteral("invalid_grant"));
    QVERIFY2(answer.json()
                 .value(QStringLiteral("error_description"))
                 .toString()
                 .contains(QLatin1String("expired")),
             answer.body.constData());
}

// --- consent ------------------------------------------------------------------------------

void tst_AuthorizationServer::consentRejects_data()
{
    QTest::addColumn<QString>("mutation");
    QTest::addColumn<int>("status");

    QTest::newRow("browser cookie missing") << QStringLiteral("drop-cookie") << 403;
    QTest::newRow("cookie of another browser") << QStringLiteral("other-cookie") << 403;
    QTest::newRow("CSRF token wrong") << QStringLiteral("wrong-csrf") << 403;
    QTest::newRow("CSRF token missing") << QStringLiteral("drop-csrf") << 403;
    QTest::newRow("request id unknown") << QStringLiteral("unknown-request") << 400;
    QTest::newRow("decision missing") << QStringLiteral("no-decision") << 400;
    QTest::newRow("form posted twice") << QStringLiteral("twice") << 400;
    QTest::newRow("GET instead of POST") << QStringLiteral("get") << 405;
}

void tst_AuthorizationServer::consentRejects()
{
    QFETCH(QString, mutation);
    QFETCH(int, status);
    const QString clientId = registerClient();
    const HttpResult page = m_browser->get(authorizeUrl(
        authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st"))));
    QCOMPARE(page.status, 200);
    HtmlForm form;
    QVERIFY(fmbtest::parseForm(page.body, &form));
    auto fields = form.fields;
    fields.append({QStringLiteral("decision"), QStringLiteral("approve")});
    const QUrl root = broker(QStringLiteral("/"));
    if (mutation == QLatin1String("drop-cookie"))
        m_browser->removeCookie(root, "__Host-fmb_browser");
    else if (mutation == QLatin1String("other-cookie"))
        m_browser->setCookie(root, "__Host-fmb_browser", fmb::generateOpaqueToken());
    else if (mutation == QLatin1String("wrong-csrf"))
        fields = applyOverrides(
            fields, {QStringLiteral("csrf_token=") + QString::fromLatin1(fmb::generateOpaqueToken())});
    else if (mutation == QLatin1String("drop-csrf"))
        fields = applyOverrides(fields, {QStringLiteral("-csrf_token")});
    else if (mutation == QLatin1String("unknown-request"))
        fields = applyOverrides(fields, {QStringLiteral("request_id=0123456789abcdef0123456789abcdef")});
    else if (mutation == QLatin1String("no-decision"))
        fields = applyOverrides(fields, {QStringLiteral("-decision")});
    else if (mutation == QLatin1String("twice"))
        QCOMPARE(m_browser->postForm(QUrl(form.action), fmbtest::encodeForm(fields)).status, 302);

    const int before = m_fake.stats(m_network).value(QStringLiteral("authorizations")).toInt();
    const HttpResult answer = mutation == QLatin1String("get")
                                  ? m_browser->get(QUrl(form.action + QLatin1Char('?') +
                                                        QString::fromLatin1(fmbtest::encodeForm(fields))))
                                  : m_browser->postForm(QUrl(form.action), fmbtest::encodeForm(fields));
    QVERIFY2(answer.status == status, answer.describe().constData());
    QVERIFY(answer.header("Location").isEmpty());
    QVERIFY(answer.header("Content-Type").startsWith("text/html"));
    QCOMPARE(m_fake.stats(m_network).value(QStringLiteral("authorizations")).toInt(), before);
}

void tst_AuthorizationServer::consentDenied()
{
    const quint64 deniedBefore = fmb::metrics::value(fmb::metrics::Counter::SignInsDenied);
    const QString clientId = registerClient();
    const HttpResult page = m_browser->get(authorizeUrl(authorizeFields(
        clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st-d"))));
    HtmlForm form;
    QVERIFY(fmbtest::parseForm(page.body, &form));
    form.fields.append({QStringLiteral("decision"), QStringLiteral("deny")});
    QSignalSpy audited(m_auth, &AuthorizationServer::audited);
    const HttpResult answer = m_browser->postForm(QUrl(form.action), fmbtest::encodeForm(form.fields));
    QCOMPARE(auditedEvents(audited, clientId),
             QStringList{QStringLiteral("denied  the user denied access on the consent page")});
    QCOMPARE(answer.status, 302);
    QVERIFY(answer.location().toString().startsWith(ClientRedirect));
    const auto query = fmbtest::queryOf(answer.location());
    QCOMPARE(query.value(QStringLiteral("error")), QStringLiteral("access_denied"));
    QCOMPARE(query.value(QStringLiteral("state")), QStringLiteral("st-d"));
    QCOMPARE(fmb::metrics::value(fmb::metrics::Counter::SignInsDenied), deniedBefore + 1);
    QCOMPARE(query.value(QStringLiteral("iss")), m_publicUrl);
}

void tst_AuthorizationServer::approvedClientSkipsConsent()
{
    const QString clientId = registerClient();
    QVERIFY(!tokensFor(*m_browser, clientId).access.isEmpty());
    const QUrl root = broker(QStringLiteral("/"));
    QVERIFY(!m_browser->cookie(root, "__Host-fmb_login").isEmpty());

    // Same user, same client: straight to Forgejo.
    const auto fields =
        authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st"));
    const HttpResult direct = m_browser->get(authorizeUrl(fields));
    QCOMPARE(direct.status, 302);
    QVERIFY(direct.location().toString().startsWith(
        m_fake.url(QStringLiteral("/login/oauth/authorize")).toString()));
    const HttpResult back = m_browser->follow(direct, ClientRedirect);
    QVERIFY(fmbtest::queryOf(back.location()).contains(QStringLiteral("code")));

    // Another client: consent again, naming the remembered user.
    const QString otherId = registerClient(QStringLiteral("Another client"));
    const HttpResult page = m_browser->get(authorizeUrl(
        authorizeFields(otherId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st"))));
    QCOMPARE(page.status, 200);
    QVERIFY(page.body.contains("signed in as <strong>alice</strong>"));

    // A forged login cookie counts for nothing.
    m_browser->setCookie(root, "__Host-fmb_login", fmb::generateOpaqueToken());
    QCOMPARE(m_browser->get(authorizeUrl(fields)).status, 200);
    // Without one the consent page comes back too.
    m_browser->removeCookie(root, "__Host-fmb_login");
    QCOMPARE(m_browser->get(authorizeUrl(fields)).status, 200);
}

void tst_AuthorizationServer::otherUpstreamUserAsksConsentAgain()
{
    const QString clientId = registerClient();
    QVERIFY(!tokensFor(*m_browser, clientId).access.isEmpty()); // alice approved
    setFakeUser(QStringLiteral("bob"));
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const HttpResult direct =
        m_browser->get(authorizeUrl(authorizeFields(clientId, verifier, QStringLiteral("st-b"))));
    QCOMPARE(direct.status, 302); // the login cookie still says alice
    // Forgejo signs bob in; bob never approved the client: the consent page comes, without alice's name.
    const HttpResult page = m_browser->follow(direct, ClientRedirect);
    QVERIFY2(page.status == 200, page.describe().constData());
    QVERIFY(!page.body.contains("alice"));
    HtmlForm form;
    QVERIFY(fmbtest::parseForm(page.body, &form));
    form.fields.append({QStringLiteral("decision"), QStringLiteral("approve")});
    const HttpResult back = m_browser->follow(
        m_browser->postForm(QUrl(form.action), fmbtest::encodeForm(form.fields)), ClientRedirect);
    const auto query = fmbtest::queryOf(back.location());
    QCOMPARE(query.value(QStringLiteral("state")), QStringLiteral("st-b"));
    const QString code = query.value(QStringLiteral("code"));
    remember(code);
    const HttpResult tokens = tokenRequest(codeExchangeFields(clientId, code, verifier));
    QCOMPARE(tokens.status, 200);
    const HttpResult initialized =
        mcp(tokens.json().value(QStringLiteral("access_token")).toString(), Initialize);
    QCOMPARE(initialized.status, 200);
    fmb::Session *session = m_registry->find(QString::fromLatin1(initialized.header("Mcp-Session-Id")));
    QVERIFY(session);
    QCOMPARE(session->owner().user, QStringLiteral("bob"));
}

void tst_AuthorizationServer::upstreamFailureReachesClient()
{
    const QString clientId = registerClient();
    // Forgejo is fine but the broker's secret is wrong: the exchange fails upstream.
    fmb::UpstreamConfig broken = m_upstream->config();
    broken.clientSecret = "wrong";
    fmb::UpstreamClient brokenClient(broken);
    fmb::OAuthConfig config = m_auth->config();
    config.stateDir.clear();
    AuthorizationServer other(config, m_store.get(), &brokenClient);
    m_server->addRoutes(other.routes());
    QSignalSpy audited(&other, &AuthorizationServer::audited);
    const HttpResult back = authorizeAndApprove(
        *m_browser, authorizeUrl(authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()),
                                                 QStringLiteral("st-f"))));
    m_server->addRoutes(m_auth->routes());
    QVERIFY2(back.location().toString().startsWith(ClientRedirect), back.describe().constData());
    const auto query = fmbtest::queryOf(back.location());
    QCOMPARE(query.value(QStringLiteral("error")), QStringLiteral("server_error"));
    QCOMPARE(query.value(QStringLiteral("state")), QStringLiteral("st-f"));
    QCOMPARE(auditedEvents(audited, clientId),
             QStringList{QStringLiteral("failed  Forgejo refused the sign-in")});
    QCOMPARE(query.value(QStringLiteral("iss")), m_publicUrl);
    QVERIFY(!query.contains(QStringLiteral("code")));

    // A callback nobody started is a page, not a redirect.
    const HttpResult stray = m_browser->get(broker(QStringLiteral("/oauth/callback?code=x&state=unknown")));
    QCOMPARE(stray.status, 400);
    QVERIFY(stray.header("Location").isEmpty());
}

// --- the bearer guard ---------------------------------------------------------------------

void tst_AuthorizationServer::foreignSessionIsForbidden()
{
    const QString clientId = registerClient();
    const Tokens alice = tokensFor(*m_browser, clientId);
    const HttpResult initialized = mcp(alice.access, Initialize);
    QCOMPARE(initialized.status, 200);
    const QByteArray sessionId = initialized.header("Mcp-Session-Id");

    UserAgent bobBrowser(m_network);
    setFakeUser(QStringLiteral("bob"));
    const Tokens bob = tokensFor(bobBrowser, clientId);
    QVERIFY(!bob.access.isEmpty());
    QCOMPARE(mcp(bob.access, ToolsList, sessionId).status, 403);
    QCOMPARE(mcp(alice.access, ToolsList, sessionId).status, 200);
}

void tst_AuthorizationServer::expiredAccessToken()
{
    const QString clientId = registerClient();
    const Tokens tokens = tokensFor(*m_browser, clientId);
    QCOMPARE(mcp(tokens.access, Initialize).status, 200);
    const QDateTime later = QDateTime::currentDateTimeUtc().addSecs(3600 + 60);
    m_store->setClock([later] { return later; });
    const HttpResult answer = mcp(tokens.access, Initialize);
    QCOMPARE(answer.status, 401);
    const QByteArray challenge = answer.header("WWW-Authenticate");
    QVERIFY2(challenge.startsWith("Bearer error=\"invalid_token\""), challenge.constData());
    const QByteArray metadata = QByteArray("resource_metadata=\"") + m_publicUrl.toUtf8() +
                                "/.well-known/oauth-protected-resource/mcp\"";
    QVERIFY(challenge.contains(metadata));
    // The refresh token outlives the access token.
    QCOMPARE(refresh(clientId, tokens.refresh).status, 200);
}

void tst_AuthorizationServer::bearerChecksAreCounted()
{
    // /metrics tells how bearer checks were answered (issue 14): from the
    // cache, or by a read on the store thread, which fills the cache.
    using fmb::metrics::Counter;
    using fmb::metrics::value;
    m_store->setBearerCacheLimits(fmb::BearerCacheLimits{});
    const Tokens tokens = tokensFor(*m_browser, registerClient()); // cached as it is issued
    const quint64 cached = value(Counter::BearerChecksCached);
    const quint64 stored = value(Counter::BearerChecksStore);
    QCOMPARE(mcp(tokens.access, Initialize).status, 200);
    QCOMPARE(value(Counter::BearerChecksCached), cached + 1);
    QCOMPARE(value(Counter::BearerChecksStore), stored);

    m_store->bearerCache().clear();
    QCOMPARE(mcp(tokens.access, Initialize).status, 200);
    QCOMPARE(value(Counter::BearerChecksStore), stored + 1);
    QCOMPARE(mcp(tokens.access, Initialize).status, 200);
    QCOMPARE(value(Counter::BearerChecksCached), cached + 2);
    QCOMPARE(value(Counter::BearerChecksStore), stored + 1);
}

void tst_AuthorizationServer::tokenInQueryString()
{
    const QString clientId = registerClient();
    const Tokens tokens = tokensFor(*m_browser, clientId);
    const HttpResult queryOnly =
        mcp(QString(), Initialize, {}, QStringLiteral("access_token=") + tokens.access);
    QCOMPARE(queryOnly.status, 400);
    QVERIFY(queryOnly.header("WWW-Authenticate").startsWith("Bearer error=\"invalid_request\""));
    const HttpResult both =
        mcp(tokens.access, Initialize, {}, QStringLiteral("access_token=") + tokens.access);
    QCOMPARE(both.status, 400);
    QCOMPARE(mcp(QStringLiteral("not a token"), Initialize).status, 401);
    QCOMPARE(mcp(QString::fromLatin1(fmb::generateOpaqueToken()), Initialize).status, 401);
}

void tst_AuthorizationServer::revocation()
{
    const QString clientId = registerClient();
    const QString otherId = registerClient(QStringLiteral("Other client"));
    const Tokens tokens = tokensFor(*m_browser, clientId);
    auto revoke = [this](const QString &token, const QString &client) {
        return fmbtest::http(
            m_network, "POST", broker(QStringLiteral("/oauth/revoke")),
            fmbtest::encodeForm({{QStringLiteral("token"), token},
                                 {QStringLiteral("token_type_hint"), QStringLiteral("access_token")},
                                 {QStringLiteral("client_id"), client}}),
            {{"Content-Type", "application/x-www-form-urlencoded"}});
    };
    const HttpResult foreign = revoke(tokens.access, otherId);
    QCOMPARE(foreign.status, 400);
    QCOMPARE(foreign.json().value(QStringLiteral("error")).toString(), QStringLiteral("unauthorized_client"));
    QCOMPARE(revoke(tokens.access, QStringLiteral("nobody")).status, 401);
    QCOMPARE(revoke(QString(), clientId).status, 400);
    QCOMPARE(mcp(tokens.access, Initialize).status, 200);

    QSignalSpy audited(m_auth, &AuthorizationServer::audited);
    QCOMPARE(revoke(tokens.access, clientId).status, 200);
    QCOMPARE(mcp(tokens.access, Initialize).status, 401);
    QCOMPARE(auditedEvents(audited, clientId), QStringList{QStringLiteral("revoked alice access")});
    // RFC 7009 §2.2: unknown and already revoked tokens are fine too.
    QCOMPARE(revoke(tokens.access, clientId).status, 200);
    QCOMPARE(revoke(QString::fromLatin1(fmb::generateOpaqueToken()), clientId).status, 200);

    // Revoking the refresh token ends the refresh chain.
    const HttpResult rotated = refresh(clientId, tokens.refresh);
    QCOMPARE(rotated.status, 200);
    const QString refreshToken = rotated.json().value(QStringLiteral("refresh_token")).toString();
    audited.clear();
    QCOMPARE(revoke(refreshToken, clientId).status, 200);
    QCOMPARE(auditedEvents(audited, clientId), QStringList{QStringLiteral("revoked alice refresh")});
    QCOMPARE(refresh(clientId, refreshToken).status, 400);
    QCOMPARE(mcp(rotated.json().value(QStringLiteral("access_token")).toString(), Initialize).status, 401);
}

// --- client authentication (issue 11, item 5d) ----------------------------------------------

void tst_AuthorizationServer::clientAuthentication_data()
{
    QTest::addColumn<QString>("method");    // registered token_endpoint_auth_method
    QTest::addColumn<QString>("presented"); // see addCredentials()
    QTest::addColumn<int>("status");
    QTest::addColumn<QString>("error");
    QTest::addColumn<bool>("basicChallenge"); // WWW-Authenticate: Basic on the 401

    const QString none = QStringLiteral("none");
    const QString post = QStringLiteral("client_secret_post");
    const QString basic = QStringLiteral("client_secret_basic");
    const QString invalidClient = QStringLiteral("invalid_client");
    QTest::newRow("public: client_id only") << none << QStringLiteral("id") << 200 << QString() << false;
    QTest::newRow("public: a client_secret in the body")
        << none << QStringLiteral("post-wrong") << 401 << invalidClient << false;
    QTest::newRow("public: HTTP Basic")
        << none << QStringLiteral("basic-wrong") << 401 << invalidClient << true;
    QTest::newRow("public: HTTP Basic with an empty password")
        << none << QStringLiteral("basic-empty") << 401 << invalidClient << true;
    QTest::newRow("client_secret_post: right secret")
        << post << QStringLiteral("post") << 200 << QString() << false;
    QTest::newRow("client_secret_post: wrong secret")
        << post << QStringLiteral("post-wrong") << 401 << invalidClient << false;
    QTest::newRow("client_secret_post: no secret")
        << post << QStringLiteral("id") << 401 << invalidClient << false;
    QTest::newRow("client_secret_post: the right secret in HTTP Basic")
        << post << QStringLiteral("basic") << 401 << invalidClient << true;
    QTest::newRow("client_secret_basic: right secret")
        << basic << QStringLiteral("basic") << 200 << QString() << false;
    QTest::newRow("client_secret_basic: wrong secret")
        << basic << QStringLiteral("basic-wrong") << 401 << invalidClient << true;
    QTest::newRow("client_secret_basic: the right secret in the body")
        << basic << QStringLiteral("post") << 401 << invalidClient << false;
    QTest::newRow("client_secret_basic: no secret")
        << basic << QStringLiteral("id") << 401 << invalidClient << false;
    QTest::newRow("client_secret_basic: malformed header")
        << basic << QStringLiteral("basic-malformed") << 401 << invalidClient << true;
    QTest::newRow("client_secret_basic: Basic and client_secret both")
        << basic << QStringLiteral("basic+post") << 400 << QStringLiteral("invalid_request") << false;
    QTest::newRow("client_secret_basic: another client_id in the body")
        << basic << QStringLiteral("basic+other-id") << 400 << QStringLiteral("invalid_request") << false;
}

void tst_AuthorizationServer::clientAuthentication()
{
    QFETCH(QString, method);
    QFETCH(QString, presented);
    QFETCH(int, status);
    QFETCH(QString, error);
    QFETCH(bool, basicChallenge);
    const HttpResult registered = registerJson(
        QJsonDocument(QJsonObject{{QStringLiteral("client_name"), QString(QStringLiteral("Auth ") + method)},
                                  {QStringLiteral("redirect_uris"), QJsonArray{ClientRedirect}},
                                  {QStringLiteral("token_endpoint_auth_method"), method}})
            .toJson(QJsonDocument::Compact));
    QVERIFY2(registered.status == 201, registered.describe().constData());
    const QString clientId = registered.json().value(QStringLiteral("client_id")).toString();
    const QString secret = registered.json().value(QStringLiteral("client_secret")).toString();
    QCOMPARE(registered.json().value(QStringLiteral("token_endpoint_auth_method")).toString(), method);
    QCOMPARE(secret.isEmpty(), method == QLatin1String("none"));
    // RFC 7591 §3.2.1: 0 = the secret never expires.
    QCOMPARE(registered.json().value(QStringLiteral("client_secret_expires_at")).toInteger(-1),
             secret.isEmpty() ? -1 : 0);
    Result<fmb::ClientRecord> stored = m_store->findClient(clientId);
    QVERIFY(stored.ok());
    QCOMPARE(stored.value().tokenEndpointAuthMethod, method);
    QCOMPARE(stored.value().secretHash.isNull(), secret.isEmpty());
    if (!secret.isEmpty())
        QCOMPARE(stored.value().secretHash, fmb::TokenHash::of(secret.toUtf8()));

    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString code = codeFor(*m_browser, clientId, verifier);
    QVERIFY(!code.isEmpty());
    auto exchange = [&](const QString &how) {
        auto fields = codeExchangeFields(clientId, code, verifier);
        fields.removeIf([](const auto &field) { return field.first == QLatin1String("client_id"); });
        fmbtest::Headers headers;
        addCredentials(how, clientId, secret, &fields, &headers);
        return tokenRequest(fields, "application/x-www-form-urlencoded", headers);
    };
    const HttpResult answer = exchange(presented);
    QVERIFY2(answer.status == status, answer.describe().constData());
    QString refreshToken = answer.json().value(QStringLiteral("refresh_token")).toString();
    if (status != 200) {
        QCOMPARE(answer.json().value(QStringLiteral("error")).toString(), error);
        QVERIFY(!answer.json().contains(QStringLiteral("access_token")));
        QCOMPARE(answer.header("WWW-Authenticate").startsWith("Basic realm="), basicChallenge);
        // Authentication comes first: the refused attempt did not spend the code.
        const HttpResult right = exchange(rightCredentials(method));
        QVERIFY2(right.status == 200, right.describe().constData());
        refreshToken = right.json().value(QStringLiteral("refresh_token")).toString();
    }

    // The same rules at refresh and revocation.
    auto post = [&](const QString &path, QList<std::pair<QString, QString>> fields, const QString &how) {
        fmbtest::Headers headers{{"Content-Type", "application/x-www-form-urlencoded"}};
        addCredentials(how, clientId, secret, &fields, &headers);
        HttpResult result =
            fmbtest::http(m_network, "POST", broker(path), fmbtest::encodeForm(fields), headers);
        remember(result.json().value(QStringLiteral("access_token")).toString());
        remember(result.json().value(QStringLiteral("refresh_token")).toString());
        return result;
    };
    const QList<std::pair<QString, QString>> refreshFields{
        {QStringLiteral("grant_type"), QStringLiteral("refresh_token")},
        {QStringLiteral("refresh_token"), refreshToken}};
    HttpResult refreshed = post(QStringLiteral("/oauth/token"), refreshFields, presented);
    QVERIFY2(refreshed.status == status, refreshed.describe().constData());
    if (status != 200)
        refreshed = post(QStringLiteral("/oauth/token"), refreshFields, rightCredentials(method));
    QVERIFY2(refreshed.status == 200, refreshed.describe().constData());
    const QString access = refreshed.json().value(QStringLiteral("access_token")).toString();
    const QList<std::pair<QString, QString>> revokeFields{{QStringLiteral("token"), access}};
    QCOMPARE(post(QStringLiteral("/oauth/revoke"), revokeFields, presented).status, status);
    if (status != 200) {
        QCOMPARE(mcp(access, Initialize).status, 200);
        QCOMPARE(post(QStringLiteral("/oauth/revoke"), revokeFields, rightCredentials(method)).status, 200);
    }
    QCOMPARE(mcp(access, Initialize).status, 401);
}

// --- real MCP clients (issue 11, item 1) ----------------------------------------------------

void tst_AuthorizationServer::realClientSignsIn_data()
{
    QTest::addColumn<QByteArray>("registration"); // RFC 7591 body; empty: a metadata document
    QTest::addColumn<QString>("documentPath");    // where the metadata document is served
    QTest::addColumn<QByteArray>("document");     // "@self" becomes its URL
    QTest::addColumn<QString>("redirect");        // the redirect_uri the client authorizes with
    QTest::addColumn<QString>("scope");           // null: the client sends none
    QTest::addColumn<QString>("target");          // what the consent page shows as the destination
    QTest::addColumn<QString>("warning");         // a phrase of the page's warning; empty: none

    // What each client sends, from its issue reports and published sources.
    const QByteArray grants =
        R"("grant_types":["authorization_code","refresh_token"],"response_types":["code"])";
    const QByteArray cursor =
        R"({"client_name":"Cursor","redirect_uris":["cursor://anysphere.cursor-mcp/oauth/callback",)"
        R"("https://www.cursor.com/agents/mcp/oauth/callback","http://localhost:8787/callback"],)" +
        grants + R"(,"token_endpoint_auth_method":"none"})";
    const QByteArray vscode =
        R"({"client_name":"Visual Studio Code","client_uri":"https://code.visualstudio.com",)" + grants +
        R"(,"redirect_uris":["https://insiders.vscode.dev/redirect","https://vscode.dev/redirect",)"
        R"("http://127.0.0.1/","http://127.0.0.1:33418/"],"scope":"mcp:tools",)"
        R"("token_endpoint_auth_method":"none","application_type":"native"})";
    const QString app = QStringLiteral("opens an app");
    const QString local = QStringLiteral("your own computer");
    QTest::newRow("Cursor, cursor:// redirect")
        << cursor << QString() << QByteArray()
        << QStringLiteral("cursor://anysphere.cursor-mcp/oauth/callback") << QString()
        << QStringLiteral("cursor://anysphere.cursor-mcp") << app;
    QTest::newRow("Cursor, loopback redirect")
        << cursor << QString() << QByteArray() << QStringLiteral("http://localhost:8787/callback")
        << QString() << QStringLiteral("http://localhost:8787") << local;
    QTest::newRow("VS Code, port 33418")
        << vscode << QString() << QByteArray() << QStringLiteral("http://127.0.0.1:33418/") << Scope
        << QStringLiteral("http://127.0.0.1:33418") << local;
    const QString busy = QString::number(QRandomGenerator::global()->bounded(40000, 60000));
    QTest::newRow("VS Code, 33418 busy: a random port")
        << vscode << QString() << QByteArray() << QStringLiteral("http://127.0.0.1:%1/").arg(busy) << Scope
        << QStringLiteral("http://127.0.0.1:%1").arg(busy) << local;
    QTest::newRow("VS Code, vscode.dev")
        << vscode << QString() << QByteArray() << QStringLiteral("https://vscode.dev/redirect") << Scope
        << QStringLiteral("https://vscode.dev") << QString();
    QTest::newRow("Claude, confidential (client_secret_post), unadvertised scope")
        << QByteArray(
               R"({"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],)" +
               grants + R"(,"token_endpoint_auth_method":"client_secret_post","scope":"claudeai"})")
        << QString() << QByteArray() << QStringLiteral("https://claude.ai/api/mcp/auth_callback")
        << QStringLiteral("claudeai") << QStringLiteral("https://claude.ai") << QString();
    const QByteArray claudeCodeDocument =
        R"({"client_id":"@self","client_name":"Claude Code","client_uri":"https://claude.ai",)"
        R"("redirect_uris":["http://localhost/callback","http://127.0.0.1/callback"],)" +
        grants + R"(,"token_endpoint_auth_method":"none"})";
    const QString ephemeral = QString::number(QRandomGenerator::global()->bounded(40000, 60000));
    QTest::newRow("Claude Code, metadata document, localhost ephemeral port")
        << QByteArray() << QStringLiteral("/oauth/claude-code-client-metadata") << claudeCodeDocument
        << QStringLiteral("http://localhost:%1/callback").arg(ephemeral) << QString()
        << QStringLiteral("http://localhost:%1").arg(ephemeral) << local;
    QTest::newRow("Claude Code, metadata document, 127.0.0.1 ephemeral port")
        << QByteArray() << QStringLiteral("/oauth/claude-code-client-metadata-2") << claudeCodeDocument
        << QStringLiteral("http://127.0.0.1:%1/callback").arg(ephemeral) << QString()
        << QStringLiteral("http://127.0.0.1:%1").arg(ephemeral) << local;
    QTest::newRow("Claude Code, dynamic registration")
        << QByteArray(R"x({"client_name":"Claude Code (forgejo)","redirect_uris":["http://localhost:)x" +
                      ephemeral.toLatin1() + R"(/callback"],)" + grants +
                      R"(,"token_endpoint_auth_method":"none"})")
        << QString() << QByteArray() << QStringLiteral("http://localhost:%1/callback").arg(ephemeral)
        << QString() << QStringLiteral("http://localhost:%1").arg(ephemeral) << local;
    QTest::newRow("ChatGPT")
        << QByteArray(
               R"({"client_name":"ChatGPT","redirect_uris":["https://chatgpt.com/connector_platform_oauth_redirect"],)" +
               grants + R"(,"token_endpoint_auth_method":"none"})")
        << QString() << QByteArray()
        << QStringLiteral("https://chatgpt.com/connector_platform_oauth_redirect") << QString()
        << QStringLiteral("https://chatgpt.com") << QString();
    const QByteArray inspector =
        R"({"client_name":"MCP Inspector","client_uri":"https://github.com/modelcontextprotocol/inspector",)"
        R"("redirect_uris":["http://localhost:6274/oauth/callback","http://localhost:6274/oauth/callback/debug"],)" +
        grants + R"(,"token_endpoint_auth_method":"none","scope":"mcp:tools"})";
    QTest::newRow("MCP Inspector") << inspector << QString() << QByteArray()
                                   << QStringLiteral("http://localhost:6274/oauth/callback") << Scope
                                   << QStringLiteral("http://localhost:6274") << local;
    QTest::newRow("MCP Inspector, debug flow") << inspector << QString() << QByteArray()
                                               << QStringLiteral("http://localhost:6274/oauth/callback/debug")
                                               << Scope << QStringLiteral("http://localhost:6274") << local;
    QTest::newRow("A confidential client with client_secret_basic")
        << QByteArray(R"({"client_name":"Basic client","redirect_uris":["https://agent.example/oauth/cb"],)" +
                      grants + R"(,"token_endpoint_auth_method":"client_secret_basic"})")
        << QString() << QByteArray() << QStringLiteral("https://agent.example/oauth/cb") << QString()
        << QStringLiteral("https://agent.example") << QString();
}

// Registration (or a metadata document) -> /authorize -> consent -> Forgejo
// -> code at the client's actual redirect -> token -> /mcp -> refresh.
void tst_AuthorizationServer::realClientSignsIn()
{
    QFETCH(QByteArray, registration);
    QFETCH(QString, documentPath);
    QFETCH(QByteArray, document);
    QFETCH(QString, redirect);
    QFETCH(QString, scope);
    QFETCH(QString, target);
    QFETCH(QString, warning);

    QString clientId;
    QString secret;
    QString method = QStringLiteral("none");
    if (!registration.isEmpty()) {
        const HttpResult registered = registerJson(registration);
        QVERIFY2(registered.status == 201, registered.describe().constData());
        clientId = registered.json().value(QStringLiteral("client_id")).toString();
        secret = registered.json().value(QStringLiteral("client_secret")).toString();
        method = registered.json().value(QStringLiteral("token_endpoint_auth_method")).toString();
        QCOMPARE(secret.isEmpty(), method == QLatin1String("none"));
    } else {
        clientId = m_documents->url(documentPath).toString();
        document.replace("@self", clientId.toUtf8());
        m_documents->setAnswer(documentPath.toUtf8(), {200, "application/json", document, {}});
    }

    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    QList<std::pair<QString, QString>> fields{
        {QStringLiteral("response_type"), QStringLiteral("code")},
        {QStringLiteral("client_id"), clientId},
        {QStringLiteral("redirect_uri"), redirect},
        {QStringLiteral("code_challenge"), fmb::Pkce::s256(verifier)},
        {QStringLiteral("code_challenge_method"), QStringLiteral("S256")},
        {QStringLiteral("state"), QStringLiteral("client-state")},
        {QStringLiteral("resource"), resource()}};
    if (!scope.isNull())
        fields.append({QStringLiteral("scope"), scope});
    const HttpResult page = m_browser->get(authorizeUrl(fields));
    QVERIFY2(page.status == 200, page.describe().constData());
    QVERIFY2(page.body.contains(QByteArray("<strong>" + target.toUtf8() + "</strong>")),
             page.body.constData());
    for (const QString &phrase : {QStringLiteral("opens an app"), QStringLiteral("your own computer")})
        QCOMPARE(page.body.contains(phrase.toUtf8()), phrase == warning);

    const HttpResult back = authorizeAndApprove(*m_browser, authorizeUrl(fields), redirect);
    QVERIFY2(back.status == 302 && back.location().toString().startsWith(redirect + QLatin1Char('?')),
             back.describe().constData());
    const auto query = fmbtest::queryOf(back.location());
    QCOMPARE(query.value(QStringLiteral("state")), QStringLiteral("client-state"));
    QCOMPARE(query.value(QStringLiteral("iss")), m_publicUrl);
    const QString code = query.value(QStringLiteral("code"));
    QVERIFY(!code.isEmpty());
    remember(code);

    QList<std::pair<QString, QString>> exchange{
        {QStringLiteral("grant_type"), QStringLiteral("authorization_code")},
        {QStringLiteral("code"), code},
        {QStringLiteral("redirect_uri"), redirect},
        {QStringLiteral("code_verifier"), verifier},
        {QStringLiteral("resource"), resource()}};
    fmbtest::Headers headers;
    addCredentials(rightCredentials(method), clientId, secret, &exchange, &headers);
    const HttpResult tokens = tokenRequest(exchange, "application/x-www-form-urlencoded", headers);
    QVERIFY2(tokens.status == 200, tokens.describe().constData());
    // Unknown scopes ("claudeai") are ignored: the client gets what the broker has.
    QCOMPARE(tokens.json().value(QStringLiteral("scope")).toString(), Scope);
    const HttpResult initialized =
        mcp(tokens.json().value(QStringLiteral("access_token")).toString(), Initialize);
    QVERIFY2(initialized.status == 200, initialized.describe().constData());

    QList<std::pair<QString, QString>> refreshFields{
        {QStringLiteral("grant_type"), QStringLiteral("refresh_token")},
        {QStringLiteral("refresh_token"), tokens.json().value(QStringLiteral("refresh_token")).toString()}};
    if (!scope.isNull())
        refreshFields.append({QStringLiteral("scope"), scope});
    fmbtest::Headers refreshHeaders;
    addCredentials(rightCredentials(method), clientId, secret, &refreshFields, &refreshHeaders);
    const HttpResult refreshed =
        tokenRequest(refreshFields, "application/x-www-form-urlencoded", refreshHeaders);
    QVERIFY2(refreshed.status == 200, refreshed.describe().constData());
    QCOMPARE(mcp(refreshed.json().value(QStringLiteral("access_token")).toString(), Initialize).status, 200);
}

// --- client ID metadata documents ----------------------------------------------------------

void tst_AuthorizationServer::metadataDocumentClient()
{
    const QString clientId = m_documents->url(QStringLiteral("/clients/good.json")).toString();
    const QJsonObject document{
        {QStringLiteral("client_id"), clientId},
        {QStringLiteral("client_name"), QStringLiteral("Document client")},
        {QStringLiteral("redirect_uris"), QJsonArray{ClientRedirect}},
        {QStringLiteral("grant_types"),
         QJsonArray{QStringLiteral("authorization_code"), QStringLiteral("refresh_token")}},
        {QStringLiteral("token_endpoint_auth_method"), QStringLiteral("none")}};
    m_documents->setAnswer(
        "/clients/good.json",
        {200, "application/json", QJsonDocument(document).toJson(QJsonDocument::Compact), {}});
    const int fetchesBefore = m_documents->requests();
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const HttpResult page =
        m_browser->get(authorizeUrl(authorizeFields(clientId, verifier, QStringLiteral("st"))));
    QVERIFY2(page.status == 200, page.describe().constData());
    QVERIFY(page.body.contains("Document client"));
    QVERIFY(page.body.contains("published by <strong>127.0.0.1</strong>"));
    const HttpResult back = authorizeAndApprove(
        *m_browser, authorizeUrl(authorizeFields(clientId, verifier, QStringLiteral("st"))));
    const QString code = fmbtest::queryOf(back.location()).value(QStringLiteral("code"));
    QVERIFY2(!code.isEmpty(), back.describe().constData());
    remember(code);
    const HttpResult tokens = tokenRequest(codeExchangeFields(clientId, code, verifier));
    QVERIFY2(tokens.status == 200, tokens.describe().constData());
    QCOMPARE(mcp(tokens.json().value(QStringLiteral("access_token")).toString(), Initialize).status, 200);
    // Fetched once, then served from the cache for the second /authorize.
    QCOMPARE(m_documents->requests() - fetchesBefore, 1);
    Result<fmb::ClientRecord> stored = m_store->findClient(clientId);
    QVERIFY(stored.ok());
    QCOMPARE(stored.value().kind, fmb::ClientKind::MetadataDocument);
}

void tst_AuthorizationServer::metadataDocumentRejects_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body"); // "@self" becomes the document's URL
    QTest::addColumn<QString>("reason");  // on the error page

    const QByteArray redirect = ClientRedirect.toUtf8();
    QTest::newRow("client_id differs from the URL")
        << QStringLiteral("/d/mismatch.json") << 200
        << QByteArray(R"({"client_id":"https://elsewhere.example/c.json","redirect_uris":[")" + redirect +
                      R"("]})")
        << QStringLiteral("is not its URL");
    QTest::newRow("no redirect_uris") << QStringLiteral("/d/no-redirects.json") << 200
                                      << QByteArray(R"({"client_id":"@self","client_name":"x"})")
                                      << QStringLiteral("redirect_uris is required");
    QTest::newRow("redirect_uri not in the document")
        << QStringLiteral("/d/other-redirect.json") << 200
        << QByteArray(R"({"client_id":"@self","redirect_uris":["http://127.0.0.1:45999/elsewhere"]})")
        << QStringLiteral("is not one that this client registered");
    QTest::newRow("a client secret in the document")
        << QStringLiteral("/d/secret.json") << 200
        << QByteArray(R"({"client_id":"@self","client_secret":"x","redirect_uris":[")" + redirect + R"("]})")
        << QStringLiteral("carries a client secret");
    QTest::newRow("client_secret_post authentication")
        << QStringLiteral("/d/secret-post.json") << 200
        << QByteArray(
               R"({"client_id":"@self","token_endpoint_auth_method":"client_secret_post","redirect_uris":[")" +
               redirect + R"("]})")
        << QStringLiteral("is not supported (supported: none)");
    QTest::newRow("not JSON") << QStringLiteral("/d/html.json") << 200 << QByteArray("<html></html>")
                              << QStringLiteral("is not a JSON object");
    QTest::newRow("HTTP 404") << QStringLiteral("/d/missing.json") << 404 << QByteArray("{}")
                              << QStringLiteral("gave HTTP 404");
    QTest::newRow("a redirect") << QStringLiteral("/d/moved.json") << 302 << QByteArray()
                                << QStringLiteral("redirects are not followed");
    QTest::newRow("larger than 64 KiB")
        << QStringLiteral("/d/huge.json") << 200
        << QByteArray(R"({"client_id":"@self","redirect_uris":[")" + redirect + R"("],"pad":")") +
               QByteArray(70 * 1024, 'x') + QByteArray(R"("})")
        << QStringLiteral("larger than 65536 bytes");
}

void tst_AuthorizationServer::metadataDocumentRejects()
{
    QFETCH(QString, path);
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(QString, reason);
    const QString clientId = m_documents->url(path).toString();
    body.replace("@self", clientId.toUtf8());
    m_documents->setAnswer(path.toUtf8(),
                           {status, "application/json", body, {{"Location", "https://example.com/"}}});
    const HttpResult answer = m_browser->get(authorizeUrl(
        authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st"))));
    QVERIFY2(answer.status == 400, answer.describe().constData());
    QVERIFY(answer.header("Location").isEmpty());
    QVERIFY(answer.header("Content-Type").startsWith("text/html"));
    QVERIFY2(answer.body.contains(reason.toUtf8()), answer.body.constData());
}

// --- restart ------------------------------------------------------------------------------

void tst_AuthorizationServer::restartKeepsTokens()
{
    const QString clientId = registerClient();
    const Tokens tokens = tokensFor(*m_browser, clientId);
    QCOMPARE(mcp(tokens.access, Initialize).status, 200);

    stopBroker();
    const HttpResult down = mcp(tokens.access, Initialize); // no guard: refused, never let through
    QCOMPARE(down.status, 503);
    QCOMPARE(down.header("Retry-After"), QByteArray("5"));
    startBroker();

    QCOMPARE(mcp(tokens.access, Initialize).status, 200);
    const HttpResult rotated = refresh(clientId, tokens.refresh);
    QVERIFY2(rotated.status == 200, rotated.describe().constData());
    // The login cookie key survived too: the approved client skips the consent page.
    const HttpResult direct = m_browser->get(authorizeUrl(
        authorizeFields(clientId, QString::fromLatin1(fmb::Pkce::generateVerifier()), QStringLiteral("st"))));
    QCOMPARE(direct.status, 302);
}

void tst_AuthorizationServer::storeFailureIsUnavailable()
{
    const QString clientId = registerClient();
    const Tokens tokens = tokensFor(*m_browser, clientId);
    QCOMPARE(mcp(tokens.access, Initialize).status, 200);

    // The token cannot be checked: neither let through nor called invalid
    // (a 401 would send the client back to a sign-in it does not need).
    m_store->close();
    const HttpResult answer = mcp(tokens.access, Initialize);
    QCOMPARE(answer.status, 503);
    QCOMPARE(answer.header("Retry-After"), QByteArray("5"));
    QVERIFY(answer.header("WWW-Authenticate").isEmpty());

    stopBroker();
    startBroker();
    QCOMPARE(mcp(tokens.access, Initialize).status, 200);
}

void tst_AuthorizationServer::noSecretsInLogs()
{
    QVERIFY(m_secrets.size() > 20);
    std::lock_guard lock(logCapture().mutex);
    QVERIFY(logCapture().lines.size() > 20);
    for (const QString &line : std::as_const(logCapture().lines)) {
        for (const QByteArray &secret : std::as_const(m_secrets)) {
            if (secret.size() < 8)
                continue;
            QVERIFY2(!line.contains(QString::fromUtf8(secret)),
                     qPrintable(QStringLiteral("a secret reached the log: ") + line));
        }
    }
}

QTEST_GUILESS_MAIN(tst_AuthorizationServer)
#include "tst_authorizationserver.moc"
