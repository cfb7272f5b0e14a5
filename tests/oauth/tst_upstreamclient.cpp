#include <memory>
#include <optional>

#include <QElapsedTimer>
#include <QNetworkAccessManager>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

#include "OAuthTestSupport.h"
#include "oauth/Pkce.h"
#include "oauth/UpstreamClient.h"

using fmb::ErrorCode;
using fmb::Result;
using fmb::UpstreamClient;
using fmb::UpstreamConfig;
using fmb::UpstreamTokens;
using fmb::UpstreamUser;
using fmbtest::CannedHttpServer;
using fmbtest::FakeForgejo;

namespace {

const QString ClientId = QStringLiteral("broker");
const QString ClientSecret = QStringLiteral("s3cret-for-tests");
const QString RedirectUri = QStringLiteral("http://127.0.0.1:9/oauth/callback");

// Waits for one callback of the client; the slot stays empty until then.
template <typename T>
struct Outcome {
    std::shared_ptr<std::optional<Result<T>>> slot = std::make_shared<std::optional<Result<T>>>();
    std::function<void(Result<T>)> callback()
    {
        auto target = slot;
        return [target](Result<T> result) { target->emplace(std::move(result)); };
    }
    bool wait(int ms = 15000)
    {
        return QTest::qWaitFor([this] { return slot->has_value(); }, ms);
    }
    const Result<T> &result() const { return **slot; }
};

template <typename T>
QByteArray describe(const Result<T> &result)
{
    if (result.ok())
        return "ok";
    return "error " + QByteArray::number(static_cast<int>(result.error().code)) + ": " +
           result.error().message.toUtf8();
}

} // namespace

class tst_UpstreamClient : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void authorizeUrlCarriesPkceAndState();
    void exchangeCode();
    void exchangeCodeWithWrongVerifierIsUnauthorized();
    void exchangeCodeWithWrongSecretIsUnauthorized();
    void refreshRotates();
    void refreshReuseIsUnauthorized();
    void refreshRefusedUpstreamIsUnauthorized();
    void fetchUser();
    void fetchUserWithBadTokenIsUnauthorized();
    void emptyInputAnswersLater();
    void unreachableIsUnavailable();
    void timeoutIsUnavailable();
    void cannedAnswers_data();
    void cannedAnswers();

private:
    UpstreamConfig configFor(const QUrl &base) const;
    // Signs the fake's current user in and returns a fresh upstream code.
    QString authorize(const QString &verifier);
    UpstreamTokens exchange();

    QNetworkAccessManager *m_network = nullptr;
    FakeForgejo m_fake;
    std::unique_ptr<UpstreamClient> m_client;
};

UpstreamConfig tst_UpstreamClient::configFor(const QUrl &base) const
{
    UpstreamConfig config;
    config.authorizeUrl = base.resolved(QUrl(QStringLiteral("/login/oauth/authorize")));
    config.tokenUrl = base.resolved(QUrl(QStringLiteral("/login/oauth/access_token")));
    config.userUrl = base.resolved(QUrl(QStringLiteral("/api/v1/user")));
    config.clientId = ClientId;
    config.clientSecret = ClientSecret.toUtf8();
    config.redirectUri = QUrl(RedirectUri);
    config.timeoutMs = 5000;
    return config;
}

void tst_UpstreamClient::initTestCase()
{
    m_network = new QNetworkAccessManager(this);
    QVERIFY2(m_fake.start(ClientId, ClientSecret, RedirectUri,
                          {QStringLiteral("--access-ttl"), QStringLiteral("120"), QStringLiteral("--user"),
                           QStringLiteral("alice:1"), QStringLiteral("--user"), QStringLiteral("bob:2")}),
             m_fake.output().constData());
    m_client = std::make_unique<UpstreamClient>(configFor(m_fake.url(QStringLiteral("/"))));
}

void tst_UpstreamClient::cleanupTestCase()
{
    m_client.reset();
    m_fake.stop();
}

void tst_UpstreamClient::init()
{
    QCOMPARE(
        m_fake.control(m_network, QStringLiteral("/_fake/fail-refresh"), {{QStringLiteral("enabled"), false}})
            .status,
        200);
    QCOMPARE(m_fake
                 .control(m_network, QStringLiteral("/_fake/login"),
                          {{QStringLiteral("login"), QStringLiteral("alice")}})
                 .status,
             200);
}

QString tst_UpstreamClient::authorize(const QString &verifier)
{
    const QUrl url = m_client->authorizeUrl(QStringLiteral("st-1"), fmb::Pkce::s256(verifier));
    const fmbtest::HttpResult answer = fmbtest::http(m_network, "GET", url);
    if (answer.status != 303)
        qWarning() << "authorize answered" << answer.describe();
    const auto query = fmbtest::queryOf(answer.location());
    return query.value(QStringLiteral("code"));
}

UpstreamTokens tst_UpstreamClient::exchange()
{
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString code = authorize(verifier);
    Outcome<UpstreamTokens> outcome;
    m_client->exchangeCode(code, verifier, outcome.callback());
    if (!outcome.wait() || !outcome.result().ok())
        return {};
    return outcome.result().value();
}

void tst_UpstreamClient::authorizeUrlCarriesPkceAndState()
{
    const QString challenge = fmb::Pkce::s256(QStringLiteral("v").repeated(43));
    const auto query = fmbtest::queryOf(m_client->authorizeUrl(QStringLiteral("a b+c"), challenge));
    QCOMPARE(query.value(QStringLiteral("response_type")), QStringLiteral("code"));
    QCOMPARE(query.value(QStringLiteral("client_id")), ClientId);
    QCOMPARE(query.value(QStringLiteral("redirect_uri")), RedirectUri);
    QCOMPARE(query.value(QStringLiteral("state")), QStringLiteral("a b+c"));
    QCOMPARE(query.value(QStringLiteral("code_challenge")), challenge);
    QCOMPARE(query.value(QStringLiteral("code_challenge_method")), QStringLiteral("S256"));
}

void tst_UpstreamClient::exchangeCode()
{
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString code = authorize(verifier);
    QVERIFY(!code.isEmpty());
    Outcome<UpstreamTokens> outcome;
    const QDateTime before = QDateTime::currentDateTimeUtc();
    m_client->exchangeCode(code, verifier, outcome.callback());
    QVERIFY(outcome.wait());
    QVERIFY2(outcome.result().ok(), describe(outcome.result()).constData());
    const UpstreamTokens &tokens = outcome.result().value();
    QVERIFY(tokens.accessToken.startsWith("gto_"));
    QVERIFY(tokens.refreshToken.startsWith("gtr_"));
    QVERIFY(tokens.accessExpiresAt.isValid());
    QVERIFY(tokens.accessExpiresAt >= before.addSecs(119));
    QVERIFY(tokens.accessExpiresAt <= QDateTime::currentDateTimeUtc().addSecs(121));
    // The fake logs fingerprints only; so must we (nothing of ours went to its stderr anyway).
    QVERIFY(!m_fake.output().contains(tokens.accessToken));
}

void tst_UpstreamClient::exchangeCodeWithWrongVerifierIsUnauthorized()
{
    const QString code = authorize(QString::fromLatin1(fmb::Pkce::generateVerifier()));
    Outcome<UpstreamTokens> outcome;
    m_client->exchangeCode(code, QString::fromLatin1(fmb::Pkce::generateVerifier()), outcome.callback());
    QVERIFY(outcome.wait());
    QVERIFY(!outcome.result().ok());
    QCOMPARE(outcome.result().error().code, ErrorCode::Unauthorized);
    QVERIFY2(outcome.result().error().message.contains(QLatin1String("unauthorized_client")),
             qPrintable(outcome.result().error().message));
}

void tst_UpstreamClient::exchangeCodeWithWrongSecretIsUnauthorized()
{
    UpstreamConfig config = configFor(m_fake.url(QStringLiteral("/")));
    config.clientSecret = "not-the-secret";
    UpstreamClient client(config);
    const QString verifier = QString::fromLatin1(fmb::Pkce::generateVerifier());
    const QString code = authorize(verifier);
    Outcome<UpstreamTokens> outcome;
    client.exchangeCode(code, verifier, outcome.callback());
    QVERIFY(outcome.wait());
    QVERIFY(!outcome.result().ok());
    QCOMPARE(outcome.result().error().code, ErrorCode::Unauthorized);
    QVERIFY(!outcome.result().error().message.contains(QLatin1String("not-the-secret")));
}

void tst_UpstreamClient::refreshRotates()
{
    const UpstreamTokens first = exchange();
    QVERIFY(!first.refreshToken.isEmpty());
    Outcome<UpstreamTokens> outcome;
    m_client->refresh(first.refreshToken, outcome.callback());
    QVERIFY(outcome.wait());
    QVERIFY2(outcome.result().ok(), describe(outcome.result()).constData());
    const UpstreamTokens &second = outcome.result().value();
    QVERIFY(!second.refreshToken.isEmpty());
    QVERIFY(second.refreshToken != first.refreshToken);
    QVERIFY(second.accessToken != first.accessToken);
    QVERIFY(second.accessExpiresAt.isValid());
}

void tst_UpstreamClient::refreshReuseIsUnauthorized()
{
    const UpstreamTokens first = exchange();
    Outcome<UpstreamTokens> rotated;
    m_client->refresh(first.refreshToken, rotated.callback());
    QVERIFY(rotated.wait());
    QVERIFY(rotated.result().ok());
    Outcome<UpstreamTokens> reused;
    m_client->refresh(first.refreshToken, reused.callback());
    QVERIFY(reused.wait());
    QVERIFY(!reused.result().ok());
    QCOMPARE(reused.result().error().code, ErrorCode::Unauthorized);
    QVERIFY2(reused.result().error().message.contains(QLatin1String("already used")),
             qPrintable(reused.result().error().message));
}

void tst_UpstreamClient::refreshRefusedUpstreamIsUnauthorized()
{
    const UpstreamTokens first = exchange();
    QCOMPARE(
        m_fake.control(m_network, QStringLiteral("/_fake/fail-refresh"), {{QStringLiteral("enabled"), true}})
            .status,
        200);
    Outcome<UpstreamTokens> outcome;
    m_client->refresh(first.refreshToken, outcome.callback());
    QVERIFY(outcome.wait());
    QVERIFY(!outcome.result().ok());
    QCOMPARE(outcome.result().error().code, ErrorCode::Unauthorized);
}

void tst_UpstreamClient::fetchUser()
{
    QCOMPARE(m_fake
                 .control(m_network, QStringLiteral("/_fake/login"),
                          {{QStringLiteral("login"), QStringLiteral("bob")}})
                 .status,
             200);
    const UpstreamTokens tokens = exchange();
    Outcome<UpstreamUser> outcome;
    m_client->fetchUser(tokens.accessToken, outcome.callback());
    QVERIFY(outcome.wait());
    QVERIFY2(outcome.result().ok(), describe(outcome.result()).constData());
    QCOMPARE(outcome.result().value().login, QStringLiteral("bob"));
    QCOMPARE(outcome.result().value().id, 2);
}

void tst_UpstreamClient::fetchUserWithBadTokenIsUnauthorized()
{
    Outcome<UpstreamUser> outcome;
    m_client->fetchUser("gto_0000000000000000000000000000000000000000000000000000000000000000",
                        outcome.callback());
    QVERIFY(outcome.wait());
    QVERIFY(!outcome.result().ok());
    QCOMPARE(outcome.result().error().code, ErrorCode::Unauthorized);
}

void tst_UpstreamClient::emptyInputAnswersLater()
{
    // The header promises: never a callback before the call returns.
    Outcome<UpstreamTokens> exchangeOutcome;
    m_client->exchangeCode(QString(), QStringLiteral("v"), exchangeOutcome.callback());
    QVERIFY(!exchangeOutcome.slot->has_value());
    Outcome<UpstreamTokens> refreshOutcome;
    m_client->refresh(QByteArray(), refreshOutcome.callback());
    QVERIFY(!refreshOutcome.slot->has_value());
    Outcome<UpstreamUser> userOutcome;
    m_client->fetchUser(QByteArray(), userOutcome.callback());
    QVERIFY(!userOutcome.slot->has_value());
    QVERIFY(exchangeOutcome.wait());
    QVERIFY(refreshOutcome.wait());
    QVERIFY(userOutcome.wait());
    QCOMPARE(exchangeOutcome.result().error().code, ErrorCode::InvalidArgument);
    QCOMPARE(refreshOutcome.result().error().code, ErrorCode::Unauthorized);
    QCOMPARE(userOutcome.result().error().code, ErrorCode::Unauthorized);
}

void tst_UpstreamClient::unreachableIsUnavailable()
{
    // A port that was just free: nothing listens there.
    QTcpServer probe;
    QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
    const quint16 port = probe.serverPort();
    probe.close();
    UpstreamClient client(configFor(QUrl(QStringLiteral("http://127.0.0.1:%1/").arg(port))));
    Outcome<UpstreamTokens> outcome;
    client.refresh("gtr_whatever", outcome.callback());
    QVERIFY(outcome.wait());
    QVERIFY(!outcome.result().ok());
    QCOMPARE(outcome.result().error().code, ErrorCode::Unavailable);
}

void tst_UpstreamClient::timeoutIsUnavailable()
{
    CannedHttpServer silent;
    silent.setSilent(true);
    QVERIFY(silent.start());
    UpstreamConfig config = configFor(silent.url(QStringLiteral("/")));
    config.timeoutMs = 300;
    UpstreamClient client(config);
    Outcome<UpstreamUser> outcome;
    QElapsedTimer elapsed;
    elapsed.start();
    client.fetchUser("gto_whatever", outcome.callback());
    QVERIFY(outcome.wait(10000));
    QVERIFY(!outcome.result().ok());
    QCOMPARE(outcome.result().error().code, ErrorCode::Unavailable);
    QVERIFY2(elapsed.elapsed() < 5000, QByteArray::number(elapsed.elapsed()).constData());
}

void tst_UpstreamClient::cannedAnswers_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<fmb::ErrorCode>("code");

    QTest::newRow("200 with tokens and expires_in")
        << 200
        << QByteArray(R"({"access_token":"a1","token_type":"bearer",)"
                      R"("expires_in":60,"refresh_token":"r1"})")
        << true << ErrorCode::Internal;
    QTest::newRow("200 with expires_in as a string")
        << 200 << QByteArray(R"({"access_token":"a1","expires_in":"60"})") << true << ErrorCode::Internal;
    QTest::newRow("200 without access_token")
        << 200 << QByteArray(R"({"token_type":"bearer"})") << false << ErrorCode::InvalidArgument;
    QTest::newRow("200 not JSON") << 200 << QByteArray("<html>login</html>") << false
                                  << ErrorCode::InvalidArgument;
    QTest::newRow("200 with a MAC token type")
        << 200 << QByteArray(R"({"access_token":"a1","token_type":"mac"})") << false
        << ErrorCode::InvalidArgument;
    QTest::newRow("400 invalid_grant")
        << 400 << QByteArray(R"({"error":"invalid_grant"})") << false << ErrorCode::Unauthorized;
    QTest::newRow("400 unauthorized_client (Forgejo: token was already used)")
        << 400
        << QByteArray(R"({"error":"unauthorized_client","error_description":"token was already used"})")
        << false << ErrorCode::Unauthorized;
    QTest::newRow("400 invalid_client")
        << 400 << QByteArray(R"({"error":"invalid_client"})") << false << ErrorCode::Unauthorized;
    QTest::newRow("400 invalid_request")
        << 400 << QByteArray(R"({"error":"invalid_request"})") << false << ErrorCode::InvalidArgument;
    QTest::newRow("401") << 401 << QByteArray("{}") << false << ErrorCode::Unauthorized;
    QTest::newRow("302 to a login page (redirects are not followed)")
        << 302 << QByteArray() << false << ErrorCode::Unavailable;
    QTest::newRow("429 rate limited") << 429 << QByteArray() << false << ErrorCode::Unavailable;
    QTest::newRow("500") << 500 << QByteArray("oops") << false << ErrorCode::Unavailable;
    QTest::newRow("503") << 503 << QByteArray() << false << ErrorCode::Unavailable;
}

void tst_UpstreamClient::cannedAnswers()
{
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(bool, ok);
    QFETCH(fmb::ErrorCode, code);
    CannedHttpServer server;
    QVERIFY(server.start());
    server.setDefaultAnswer({status, "application/json", body, {{"Location", "http://127.0.0.1:9/login"}}});
    UpstreamClient client(configFor(server.url(QStringLiteral("/"))));
    Outcome<UpstreamTokens> outcome;
    client.refresh("gtr_canned", outcome.callback());
    QVERIFY(outcome.wait());
    QCOMPARE(outcome.result().ok(), ok);
    if (ok) {
        QCOMPARE(outcome.result().value().accessToken, QByteArray("a1"));
        QVERIFY(outcome.result().value().accessExpiresAt > QDateTime::currentDateTimeUtc().addSecs(50));
    } else {
        QCOMPARE(outcome.result().error().code, code);
    }
    // The refresh request carried the client credentials in the form body, never the URL.
    QVERIFY(server.lastRequest().startsWith("POST /login/oauth/access_token HTTP/1.1"));
}

QTEST_GUILESS_MAIN(tst_UpstreamClient)
#include "tst_upstreamclient.moc"
