#include <functional>
#include <memory>

#include <QHttpServer>
#include <QHttpServerResponse>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QTest>
#include <QUrlQuery>

#include "OAuthTestSupport.h"
#include "oauth/OAuthHttp.h"

using fmb::HttpExchange;
using fmb::OAuthError;
using fmb::Http::HeaderList;
namespace OAuthHttp = fmb::OAuthHttp;

namespace {

// Records what an OAuth helper answers; the real socket path is
// tst_authorizationserver's.
class RecordingChannel final : public fmb::HttpChannel {
public:
    [[nodiscard]] bool isOpen() const override { return true; }
    [[nodiscard]] QHostAddress peerAddress() const override { return QHostAddress::LocalHost; }
    void write(int status, const HeaderList &headers, QByteArrayView body, bool) override
    {
        ++writes;
        lastStatus = status;
        lastHeaders = headers;
        lastBody = body.toByteArray();
    }
    [[nodiscard]] QByteArray header(const QByteArray &name) const
    {
        for (const auto &[key, value] : lastHeaders) {
            if (key.compare(name, Qt::CaseInsensitive) == 0)
                return value;
        }
        return {};
    }

    int writes = 0;
    int lastStatus = 0;
    HeaderList lastHeaders;
    QByteArray lastBody;
};

} // namespace

// The preamble and the responses every OAuth endpoint shares (OAuthHttp):
// real requests through a QHttpServer for the preamble, whose answers are
// recorded instead of sent.
class tst_OAuthHttp : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void preflightOnClientEndpoint();
    void browserEndpointHasNoPreflight();
    void wrongMethodOnClientEndpointIsJson405();
    void allowedMethodGoesOn();
    void bodyChecks_data();
    void bodyChecks();
    void storeFailureMapsUnavailableTo503();
    void oauthErrorIsUncachedJson();
    void redirectErrorCarriesStateAndIssuer();
    void redirectErrorWithoutStateOrDescription();

private:
    // Sends `verb` to the probe route; `onRequest` runs with the real request
    // and an exchange that records into `channel`.
    void probe(const QByteArray &verb, const QByteArray &body, const fmbtest::Headers &headers,
               const std::function<void(const QHttpServerRequest &, const HttpExchange &)> &onRequest,
               const std::shared_ptr<RecordingChannel> &channel);

    QHttpServer m_server;
    QNetworkAccessManager m_network;
    QUrl m_url;
    std::function<void(const QHttpServerRequest &)> m_onRequest;
};

void tst_OAuthHttp::initTestCase()
{
    m_server.route(QStringLiteral("/probe"), [this](const QHttpServerRequest &request) {
        if (m_onRequest)
            m_onRequest(request);
        return QHttpServerResponse(QHttpServerResponder::StatusCode::NoContent);
    });
    const quint16 port = m_server.listen(QHostAddress::LocalHost, 0);
    QVERIFY(port != 0);
    m_url = QUrl(QStringLiteral("http://127.0.0.1:%1/probe").arg(port));
}

void tst_OAuthHttp::probe(
    const QByteArray &verb, const QByteArray &body, const fmbtest::Headers &headers,
    const std::function<void(const QHttpServerRequest &, const HttpExchange &)> &onRequest,
    const std::shared_ptr<RecordingChannel> &channel)
{
    bool seen = false;
    m_onRequest = [&](const QHttpServerRequest &request) {
        seen = true;
        onRequest(request, HttpExchange(channel, false));
    };
    const fmbtest::HttpResult result = fmbtest::http(&m_network, verb, m_url, body, headers);
    m_onRequest = nullptr;
    QVERIFY2(seen, result.describe().constData());
}

void tst_OAuthHttp::preflightOnClientEndpoint()
{
    auto channel = std::make_shared<RecordingChannel>();
    bool goOn = true;
    probe(
        "OPTIONS", {}, {},
        [&](const QHttpServerRequest &request, const HttpExchange &exchange) {
            goOn = OAuthHttp::admitMethod(request, exchange, QHttpServerRequest::Method::Post,
                                          "POST, OPTIONS", OAuthHttp::Audience::Client);
        },
        channel);
    QVERIFY(!goOn);
    QCOMPARE(channel->writes, 1);
    QCOMPARE(channel->lastStatus, 204);
    QCOMPARE(channel->header("Access-Control-Allow-Origin"), QByteArray("*"));
    QCOMPARE(channel->header("Access-Control-Allow-Methods"), QByteArray("GET, POST, OPTIONS"));
    QVERIFY(channel->lastBody.isEmpty());
}

void tst_OAuthHttp::browserEndpointHasNoPreflight()
{
    auto channel = std::make_shared<RecordingChannel>();
    bool goOn = true;
    probe(
        "OPTIONS", {}, {},
        [&](const QHttpServerRequest &request, const HttpExchange &exchange) {
            goOn = OAuthHttp::admitMethod(request, exchange, QHttpServerRequest::Method::Get, "GET",
                                          OAuthHttp::Audience::Browser);
        },
        channel);
    QVERIFY(!goOn);
    QCOMPARE(channel->lastStatus, 405);
    QCOMPARE(channel->header("Allow"), QByteArray("GET"));
    QCOMPARE(channel->header("Content-Type"), QByteArray("text/html; charset=utf-8"));
    QCOMPARE(channel->header("X-Frame-Options"), QByteArray("DENY"));
    QVERIFY(channel->header("Access-Control-Allow-Origin").isEmpty());
    QVERIFY2(channel->lastBody.contains("Use GET here."), channel->lastBody.constData());
    // Allow comes after the page headers, as it always did.
    QCOMPARE(channel->lastHeaders.last().first, QByteArray("Allow"));
}

void tst_OAuthHttp::wrongMethodOnClientEndpointIsJson405()
{
    auto channel = std::make_shared<RecordingChannel>();
    bool goOn = true;
    probe(
        "GET", {}, {},
        [&](const QHttpServerRequest &request, const HttpExchange &exchange) {
            goOn = OAuthHttp::admitMethod(request, exchange, QHttpServerRequest::Method::Post,
                                          "POST, OPTIONS", OAuthHttp::Audience::Client);
        },
        channel);
    QVERIFY(!goOn);
    QCOMPARE(channel->lastStatus, 405);
    QCOMPARE(channel->header("Allow"), QByteArray("POST, OPTIONS"));
    QCOMPARE(channel->header("Content-Type"), QByteArray("application/json"));
    QCOMPARE(channel->header("Access-Control-Allow-Origin"), QByteArray("*"));
    QCOMPARE(
        channel->lastBody,
        QByteArray(
            R"({"error":"invalid_request","error_description":"method not allowed; use POST, OPTIONS"})"));
}

void tst_OAuthHttp::allowedMethodGoesOn()
{
    auto channel = std::make_shared<RecordingChannel>();
    bool goOn = false;
    probe(
        "POST", "x=1", {{"Content-Type", "application/x-www-form-urlencoded"}},
        [&](const QHttpServerRequest &request, const HttpExchange &exchange) {
            goOn = OAuthHttp::admitMethod(request, exchange, QHttpServerRequest::Method::Post,
                                          "POST, OPTIONS", OAuthHttp::Audience::Client);
        },
        channel);
    QVERIFY(goOn);
    QCOMPARE(channel->writes, 0);
}

void tst_OAuthHttp::bodyChecks_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<int>("fault");
    const QByteArray form = "application/x-www-form-urlencoded";
    QTest::newRow("fits") << QByteArray("a=b") << form << int(OAuthHttp::BodyFault::None);
    QTest::newRow("parameters and case")
        << QByteArray("a=b") << QByteArray("Application/X-WWW-Form-Urlencoded; charset=UTF-8")
        << int(OAuthHttp::BodyFault::None);
    QTest::newRow("at the limit") << QByteArray(16, 'a') << form << int(OAuthHttp::BodyFault::None);
    QTest::newRow("over the limit") << QByteArray(17, 'a') << form << int(OAuthHttp::BodyFault::TooLarge);
    QTest::newRow("size first") << QByteArray(17, 'a') << QByteArray("text/plain")
                                << int(OAuthHttp::BodyFault::TooLarge);
    QTest::newRow("wrong type") << QByteArray("{}") << QByteArray("application/json")
                                << int(OAuthHttp::BodyFault::WrongMediaType);
    QTest::newRow("no type") << QByteArray("a=b") << QByteArray()
                             << int(OAuthHttp::BodyFault::WrongMediaType);
}

void tst_OAuthHttp::bodyChecks()
{
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, contentType);
    QFETCH(int, fault);
    auto channel = std::make_shared<RecordingChannel>();
    int found = -1;
    fmbtest::Headers headers;
    if (!contentType.isEmpty())
        headers.append({"Content-Type", contentType});
    probe(
        "POST", body, headers,
        [&](const QHttpServerRequest &request, const HttpExchange &) {
            found = int(OAuthHttp::checkBody(request, 16, "application/x-www-form-urlencoded"));
        },
        channel);
    QCOMPARE(found, fault);
    QCOMPARE(channel->writes, 0);
}

void tst_OAuthHttp::oauthErrorIsUncachedJson()
{
    auto channel = std::make_shared<RecordingChannel>();
    OAuthHttp::sendOAuthError(HttpExchange(channel, false),
                              OAuthError{401,
                                         "invalid_client",
                                         QStringLiteral("unknown client_id"),
                                         {{"WWW-Authenticate", "Basic realm=\"x\""}}});
    QCOMPARE(channel->lastStatus, 401);
    QCOMPARE(channel->lastBody,
             QByteArray(R"({"error":"invalid_client","error_description":"unknown client_id"})"));
    QCOMPARE(channel->header("Cache-Control"), QByteArray("no-store"));
    QCOMPARE(channel->header("Pragma"), QByteArray("no-cache"));
    QCOMPARE(channel->header("Access-Control-Allow-Origin"), QByteArray("*"));
    QCOMPARE(channel->lastHeaders.last(),
             std::make_pair(QByteArray("WWW-Authenticate"), QByteArray("Basic realm=\"x\"")));

    OAuthHttp::sendOAuthError(HttpExchange(channel, false), OAuthError{500, "server_error", QString()});
    QCOMPARE(channel->lastStatus, 500);
    QCOMPARE(channel->lastBody, QByteArray(R"({"error":"server_error"})"));
}

void tst_OAuthHttp::redirectErrorCarriesStateAndIssuer()
{
    auto channel = std::make_shared<RecordingChannel>();
    OAuthHttp::ClientRedirect to;
    to.clientId = QStringLiteral("c1");
    to.redirectUri = QStringLiteral("http://127.0.0.1:5000/cb?keep=1");
    to.state = QStringLiteral("s 1");
    OAuthHttp::redirectError(HttpExchange(channel, false), QStringLiteral("https://broker.example"), to,
                             "access_denied", QStringLiteral("the user denied access"),
                             {{"Set-Cookie", "a=b"}});
    QCOMPARE(channel->lastStatus, 302);
    QCOMPARE(channel->header("Location"),
             QByteArray(
                 "http://127.0.0.1:5000/cb?keep=1&error=access_denied&error_description=the%20user%20denied%"
                 "20access&state=s%201&iss=https%3A%2F%2Fbroker.example"));
    QCOMPARE(channel->header("Cache-Control"), QByteArray("no-store"));
    QCOMPARE(channel->header("Set-Cookie"), QByteArray("a=b"));
}

void tst_OAuthHttp::redirectErrorWithoutStateOrDescription()
{
    auto channel = std::make_shared<RecordingChannel>();
    OAuthHttp::ClientRedirect to;
    to.clientId = QStringLiteral("c1");
    to.redirectUri = QStringLiteral("cursor://callback");
    OAuthHttp::redirectError(HttpExchange(channel, false), QStringLiteral("https://broker.example"), to,
                             "server_error", QString());
    QCOMPARE(channel->header("Location"),
             QByteArray("cursor://callback?error=server_error&iss=https%3A%2F%2Fbroker.example"));
}

void tst_OAuthHttp::storeFailureMapsUnavailableTo503()
{
    // Issue 14: an unreachable database is "try again", never a 500.
    const fmb::OAuthError away = fmb::storeFailure(
        fmb::Error{fmb::ErrorCode::Unavailable, QStringLiteral("db"), QStringLiteral("down")},
        QStringLiteral("the tokens could not be issued"));
    QCOMPARE(away.status, 503);
    QCOMPARE(away.error, QByteArray("temporarily_unavailable"));
    QCOMPARE(away.headers.size(), 1);
    QCOMPARE(away.headers.constFirst().first, QByteArray("Retry-After"));
    QVERIFY(away.headers.constFirst().second.toInt() > 0);
    const fmb::OAuthError broken =
        fmb::storeFailure(fmb::Error{fmb::ErrorCode::Io, QStringLiteral("db"), QStringLiteral("disk")},
                          QStringLiteral("the tokens could not be issued"));
    QCOMPARE(broken.status, 500);
    QCOMPARE(broken.error, QByteArray("server_error"));
    QVERIFY(broken.headers.isEmpty());
}

QTEST_GUILESS_MAIN(tst_OAuthHttp)
#include "tst_oauthhttp.moc"
