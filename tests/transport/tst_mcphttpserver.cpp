#include <functional>
#include <memory>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

#include "RawHttpClient.h"
#include "TestSink.h"
#include "base/Metrics.h"
#include "child/ChildProcess.h"
#include "jsonrpc/JsonRpc.h"
#include "session/SessionRegistry.h"
#include "transport/McpHttpServer.h"

using namespace fmb;
using fmb::test::RawHttpClient;
using fmb::test::RawResponse;
using fmb::test::sseMessages;
using fmb::test::toolText;

// /mcp over a real socket, with a real SessionRegistry whose sessions run the
// test MCP server (tests/fakes): the status code, the JSON-RPC error code and
// the headers of every answer the endpoint gives, failures above all (the
// table in ARCHITECTURE.md). The authenticator is a stand-in that reads the
// bearer token as the user's name, so each of its failures can be asked for.
class tst_McpHttpServer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void refused_data();
    void refused();
    void initializeAnswersWithSessionId();
    void failedInitializeIs502();
    void sessionCapIs503();
    void sessionOfAnotherOwnerIs403();
    void notificationOnlyPostIs202();
    void duplicateRequestIdIs400();
    void secondGetStreamIs409();
    void deleteEndsTheSession();
    void refusalHonoursConnectionClose();
    void statelessAnswerListsServedRevisions_data();
    void statelessAnswerListsServedRevisions();
    void reconfigureTakesOriginsAndLimits();
    void statelessDiscoverFromTheUserChild();
    void statelessRequestsOfOneUserShareAChild();
    void statelessProgressTokensAreRewritten();
    void statelessClosedStreamCancels();
    void userChildIsNoSession();
    void checkAnsweredLaterServesTheRequest();
    void heldCheckHoldsOnlyItsRequest();
    void clientGoneBeforeTheCheckGetsNothing();
    void initializeWithoutItsEnvironment();

private:
    // A new session of `user`; its id, or empty.
    QByteArray initialize(const QByteArray &user);

    std::unique_ptr<SessionRegistry> m_registry;
    std::unique_ptr<McpHttpServer> m_server;
    quint16 m_port = 0;
};

namespace {

constexpr qint64 MaxBodyBytes = 64 * 1024;
constexpr int RetryAfterSeconds = 7;
constexpr int MaxSessionsPerOwner = 2;
const QByteArray Challenge =
    R"(Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp")";

// The caller a token names: "<user>" is that user; a few names are the
// guard's failures.
AuthResult ownerOf(const QString &user)
{
    if (user == QLatin1String("store-down"))
        return AuthFailure{ErrorCode::Unavailable, {}, QStringLiteral("Service Unavailable: store")};
    if (user == QLatin1String("banned"))
        return AuthFailure{ErrorCode::Forbidden, {}, QStringLiteral("Forbidden: banned")};
    return SessionOwner{user, QStringLiteral("grant-") + user};
}

// Checks of "held-<user>" tokens, waiting for the test to answer them.
QList<std::function<void()>> &heldChecks()
{
    static QList<std::function<void()>> held;
    return held;
}
int laterChecks = 0; // checks answered later so far

// Stands in for the bearer guard: "Bearer <token>" is ownerOf(token), now;
// "later-<token>" is answered from the event loop, as the guard answers a
// token it must look up in the store; "held-<token>" once the test says.
AuthVerdict authenticate(const QHttpServerRequest &request)
{
    if (request.url().query().contains(QLatin1String("access_token")))
        return AuthFailure{ErrorCode::InvalidArgument, R"(Bearer error="invalid_request")",
                           QStringLiteral("Bad Request: token in the query")};
    const QByteArray authorization = request.value("authorization");
    if (!authorization.startsWith("Bearer "))
        return AuthFailure{ErrorCode::Unauthorized, Challenge, QStringLiteral("Unauthorized")};
    const QString token = QString::fromLatin1(authorization.mid(7));
    for (const QLatin1String prefix : {QLatin1String("later-"), QLatin1String("held-")}) {
        if (!token.startsWith(prefix))
            continue;
        const bool held = prefix == QLatin1String("held-");
        return AuthVerdict::later(
            [user = token.mid(prefix.size()), held](QObject *context, std::function<void(AuthResult)> done) {
                QPointer<QObject> alive(context);
                auto answer = [alive, user, done] {
                    ++laterChecks;
                    if (alive)
                        done(ownerOf(user));
                };
                if (held)
                    heldChecks().append(answer);
                else
                    QTimer::singleShot(0, context, answer);
            });
    }
    return ownerOf(token);
}

QByteArray message(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

QJsonObject request(int id, const QString &method, const QJsonObject &params = {})
{
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
            {QStringLiteral("id"), id},
            {QStringLiteral("method"), method},
            {QStringLiteral("params"), params}};
}

QByteArray initializeBody()
{
    return message(request(
        1, QStringLiteral("initialize"),
        {{QStringLiteral("protocolVersion"), QStringLiteral("2025-06-18")},
         {QStringLiteral("capabilities"), QJsonObject{}},
         {QStringLiteral("clientInfo"), QJsonObject{{QStringLiteral("name"), QStringLiteral("tst")},
                                                    {QStringLiteral("version"), QStringLiteral("1")}}}}));
}

QByteArray initializedBody()
{
    return message({{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                    {QStringLiteral("method"), QStringLiteral("notifications/initialized")}});
}

QByteArray slowCallBody(int id, int ms)
{
    return message(request(id, QStringLiteral("tools/call"),
                           {{QStringLiteral("name"), QStringLiteral("slow")},
                            {QStringLiteral("arguments"), QJsonObject{{QStringLiteral("ms"), ms}}}}));
}

// The headers of a well-formed POST by `user`, plus `extra`.
QList<QByteArray> postHeaders(const QByteArray &user, const QList<QByteArray> &extra = {})
{
    QList<QByteArray> headers{"Authorization: Bearer " + user, "Accept: application/json, text/event-stream",
                              "Content-Type: application/json"};
    headers.append(extra);
    return headers;
}

int rpcCode(const RawResponse &response)
{
    return QJsonDocument::fromJson(response.body)
        .object()
        .value(QLatin1String("error"))
        .toObject()
        .value(QLatin1String("code"))
        .toInt();
}

// A tools/call as @modelcontextprotocol/client 2.4.0 pinned to 2026-07-28
// sends it (captured from the wire), with `version` as its revision.
QByteArray statelessCallBody(const QByteArray &version = "2026-07-28")
{
    return R"({"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"},"_meta":{)"
           R"("io.modelcontextprotocol/protocolVersion":")" +
           version +
           R"(","io.modelcontextprotocol/clientInfo":{"name":"cap","version":"1.0.0"},)"
           R"("io.modelcontextprotocol/clientCapabilities":{}}},"jsonrpc":"2.0","id":0})";
}

// Its headers: MCP-Protocol-Version, Mcp-Method, Mcp-Name, and `extra`.
QList<QByteArray> statelessHeaders(const QList<QByteArray> &extra = {},
                                   const QList<QByteArray> &mirrored = {"MCP-Protocol-Version: 2026-07-28",
                                                                        "Mcp-Method: tools/call",
                                                                        "Mcp-Name: echo"})
{
    return postHeaders("alice", mirrored + extra);
}

// A 2026-07-28 request of `method` with `params` and the _meta every such
// request carries, plus `meta`.
QByteArray statelessBody(const QJsonValue &id, const QString &method, QJsonObject params,
                         const QJsonObject &meta = {})
{
    QJsonObject all = meta;
    all.insert(QStringLiteral("io.modelcontextprotocol/protocolVersion"), QStringLiteral("2026-07-28"));
    all.insert(QStringLiteral("io.modelcontextprotocol/clientCapabilities"), QJsonObject());
    params.insert(QStringLiteral("_meta"), all);
    return message({{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                    {QStringLiteral("id"), id},
                    {QStringLiteral("method"), method},
                    {QStringLiteral("params"), params}});
}

QByteArray statelessTool(const QJsonValue &id, const QString &tool, const QJsonObject &arguments,
                         const QJsonObject &meta = {})
{
    return statelessBody(id, QStringLiteral("tools/call"),
                         {{QStringLiteral("name"), tool}, {QStringLiteral("arguments"), arguments}}, meta);
}

QList<QByteArray> statelessHeadersOf(const QByteArray &user, const QByteArray &method,
                                     const QByteArray &name = {})
{
    QList<QByteArray> mirrored{"MCP-Protocol-Version: 2026-07-28", "Mcp-Method: " + method};
    if (!name.isEmpty())
        mirrored.append("Mcp-Name: " + name);
    return postHeaders(user, mirrored);
}

QString testServerPath()
{
    return QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server");
}

} // namespace

void tst_McpHttpServer::init()
{
    RegistryLimits limits;
    limits.maxSessionsPerOwner = MaxSessionsPerOwner;
    m_registry = std::make_unique<SessionRegistry>(
        limits, [](const SessionOwner &owner, const QString &) -> std::unique_ptr<Backend> {
            ChildSpec spec;
            // "broken" gets a program that cannot start: initialize fails.
            spec.program = owner.user == QLatin1String("broken")
                               ? QStringLiteral("/nonexistent/fmb-no-server")
                               : testServerPath();
            spec.environment.insert(QStringLiteral("PATH"), QStringLiteral("/usr/bin:/bin"));
            spec.stopGrace = std::chrono::milliseconds(2000);
            spec.label = QStringLiteral("test child");
            // "env-down" and "env-gone" get no environment: the token store
            // is unavailable, or has no token for them.
            if (owner.user.startsWith(QLatin1String("env-"))) {
                const ErrorCode code =
                    owner.user == QLatin1String("env-down") ? ErrorCode::Unavailable : ErrorCode::NotFound;
                spec.environmentProvider = [code](QObject *context, EnvironmentAnswer done) {
                    QTimer::singleShot(0, context, [code, done] {
                        done(Error{code, QStringLiteral("grant"), QStringLiteral("no token")});
                    });
                };
            }
            return std::make_unique<ChildProcess>(spec);
        });
    HttpConfig config;
    config.maxBodyBytes = MaxBodyBytes;
    config.retryAfterSeconds = RetryAfterSeconds;
    m_server = std::make_unique<McpHttpServer>(
        config, OriginPolicy({}, QStringLiteral("127.0.0.1"), QString()), m_registry.get(), authenticate);
    const Result<quint16> port = m_server->listenOn(QHostAddress::LocalHost, 0);
    QVERIFY(port.ok());
    m_port = port.value();
}

void tst_McpHttpServer::cleanup()
{
    heldChecks().clear();
    m_server.reset();
    if (m_registry) {
        QSignalSpy allStopped(m_registry.get(), &SessionRegistry::allStopped);
        m_registry->shutdown();
        QTRY_VERIFY_WITH_TIMEOUT(allStopped.count() > 0, 10000);
    }
    m_registry.reset();
}

QByteArray tst_McpHttpServer::initialize(const QByteArray &user)
{
    RawHttpClient client(m_port);
    const RawResponse answer = client.exchange("POST", "/mcp", postHeaders(user), initializeBody());
    if (answer.status != 200)
        return {};
    const QByteArray id = answer.header("mcp-session-id");
    const RawResponse initialized =
        client.exchange("POST", "/mcp", postHeaders(user, {"Mcp-Session-Id: " + id}), initializedBody());
    return initialized.status == 202 ? id : QByteArray();
}

void tst_McpHttpServer::refused_data()
{
    QTest::addColumn<QByteArray>("method");
    QTest::addColumn<QByteArray>("target");
    QTest::addColumn<QList<QByteArray>>("headers");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("rpcCode");       // 0: no body
    QTest::addColumn<QByteArray>("header"); // a header the answer must carry
    QTest::addColumn<QByteArray>("value");  // its value; empty: any

    const QByteArray init = initializeBody();
    const QByteArray call = slowCallBody(2, 0);
    const int server = JsonRpcError::ServerError;
    const int invalid = JsonRpcError::InvalidRequest;
    QTest::newRow("foreign Host") << QByteArray("POST") << QByteArray("/mcp")
                                  << postHeaders("alice", {"Host: evil.example"}) << init << 403 << server
                                  << QByteArray() << QByteArray();
    QTest::newRow("foreign Origin") << QByteArray("POST") << QByteArray("/mcp")
                                    << postHeaders("alice", {"Origin: http://evil.example"}) << init << 403
                                    << server << QByteArray() << QByteArray();
    QTest::newRow("OPTIONS preflight")
        << QByteArray("OPTIONS") << QByteArray("/mcp") << QList<QByteArray>{"Origin: http://127.0.0.1:3000"}
        << QByteArray() << 204 << 0 << QByteArray("Access-Control-Allow-Methods")
        << QByteArray("GET, POST, DELETE, OPTIONS");
    QTest::newRow("no bearer") << QByteArray("POST") << QByteArray("/mcp")
                               << QList<QByteArray>{"Accept: application/json, text/event-stream",
                                                    "Content-Type: application/json"}
                               << init << 401 << server << QByteArray("WWW-Authenticate") << Challenge;
    QTest::newRow("token in the query")
        << QByteArray("POST") << QByteArray("/mcp?access_token=secret") << postHeaders("alice") << init << 400
        << server << QByteArray("WWW-Authenticate") << QByteArray(R"(Bearer error="invalid_request")");
    QTest::newRow("the check failed")
        << QByteArray("POST") << QByteArray("/mcp") << postHeaders("store-down") << init << 503 << server
        << QByteArray("Retry-After") << QByteArray::number(RetryAfterSeconds);
    QTest::newRow("refused caller") << QByteArray("POST") << QByteArray("/mcp") << postHeaders("banned")
                                    << init << 403 << server << QByteArray() << QByteArray();
    QTest::newRow("PUT") << QByteArray("PUT") << QByteArray("/mcp") << postHeaders("alice") << init << 405
                         << server << QByteArray("Allow") << QByteArray("GET, POST, DELETE, OPTIONS");
    QTest::newRow("POST accepting JSON only")
        << QByteArray("POST") << QByteArray("/mcp")
        << QList<QByteArray>{"Authorization: Bearer alice", "Accept: application/json",
                             "Content-Type: application/json"}
        << init << 406 << server << QByteArray() << QByteArray();
    QTest::newRow("GET not accepting SSE")
        << QByteArray("GET") << QByteArray("/mcp")
        << QList<QByteArray>{"Authorization: Bearer alice", "Accept: application/json"} << QByteArray() << 406
        << server << QByteArray() << QByteArray();
    QTest::newRow("not JSON media type")
        << QByteArray("POST") << QByteArray("/mcp")
        << QList<QByteArray>{"Authorization: Bearer alice", "Accept: application/json, text/event-stream",
                             "Content-Type: text/plain"}
        << init << 415 << server << QByteArray() << QByteArray();
    QTest::newRow("body over the limit")
        << QByteArray("POST") << QByteArray("/mcp") << postHeaders("alice")
        << QByteArray(MaxBodyBytes + 1, ' ') << 413 << server << QByteArray() << QByteArray();
    QTest::newRow("not JSON") << QByteArray("POST") << QByteArray("/mcp") << postHeaders("alice")
                              << QByteArray("{not json") << 400 << int(JsonRpcError::ParseError)
                              << QByteArray() << QByteArray();
    QTest::newRow("not JSON-RPC") << QByteArray("POST") << QByteArray("/mcp") << postHeaders("alice")
                                  << QByteArray(R"({"hello":"world"})") << 400 << invalid << QByteArray()
                                  << QByteArray();
    QTest::newRow("initialize in a batch")
        << QByteArray("POST") << QByteArray("/mcp") << postHeaders("alice") << '[' + init + ',' + call + ']'
        << 400 << invalid << QByteArray() << QByteArray();
    QTest::newRow("initialize with a session id")
        << QByteArray("POST") << QByteArray("/mcp") << postHeaders("alice", {"Mcp-Session-Id: abc"}) << init
        << 400 << invalid << QByteArray() << QByteArray();
    QTest::newRow("no session id") << QByteArray("POST") << QByteArray("/mcp") << postHeaders("alice") << call
                                   << 400 << server << QByteArray() << QByteArray();
    QTest::newRow("unsupported protocol version")
        << QByteArray("POST") << QByteArray("/mcp")
        << postHeaders("alice", {"Mcp-Session-Id: abc", "MCP-Protocol-Version: 1999-01-01"}) << call << 400
        << int(JsonRpcError::UnsupportedProtocolVersion) << QByteArray() << QByteArray();

    // 2026-07-28 (issue 13): told apart per request and validated in the
    // revision's order (subscriptions/listen: tst_listenhub).
    const QByteArray stateless = statelessCallBody();
    const int unsupported = JsonRpcError::UnsupportedProtocolVersion;
    const int mismatch = JsonRpcError::HeaderMismatch;
    QTest::newRow("2026: the _meta claim alone routes it")
        << QByteArray("POST") << QByteArray("/mcp") << statelessHeaders({}, {"Mcp-Method: tools/call"})
        << stateless << 400 << mismatch << QByteArray() << QByteArray();
    QTest::newRow("2026: unknown version")
        << QByteArray("POST") << QByteArray("/mcp")
        << statelessHeaders({},
                            {"MCP-Protocol-Version: 2099-01-01", "Mcp-Method: tools/call", "Mcp-Name: echo"})
        << statelessCallBody("2099-01-01") << 400 << unsupported << QByteArray() << QByteArray();
    QTest::newRow("2026: Mcp-Method missing")
        << QByteArray("POST") << QByteArray("/mcp")
        << statelessHeaders({}, {"MCP-Protocol-Version: 2026-07-28", "Mcp-Name: echo"}) << stateless << 400
        << mismatch << QByteArray() << QByteArray();
    QTest::newRow("2026: Mcp-Name not the body's")
        << QByteArray("POST") << QByteArray("/mcp")
        << statelessHeaders({},
                            {"MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call", "Mcp-Name: add"})
        << stateless << 400 << mismatch << QByteArray() << QByteArray();
    QTest::newRow("2026: Mcp-Name in base64, not the body's")
        << QByteArray("POST") << QByteArray("/mcp")
        << statelessHeaders({}, {"MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/call",
                                 "Mcp-Name: =?base64?YWRk?="})
        << stateless << 400 << mismatch << QByteArray() << QByteArray();
    QTest::newRow("2026: _meta without clientCapabilities")
        << QByteArray("POST") << QByteArray("/mcp") << statelessHeaders()
        << QByteArray(stateless).replace(R"(,"io.modelcontextprotocol/clientCapabilities":{})", "") << 400
        << int(JsonRpcError::InvalidParams) << QByteArray() << QByteArray();
    QTest::newRow("2026: the header alone, no _meta")
        << QByteArray("POST") << QByteArray("/mcp")
        << statelessHeaders({}, {"MCP-Protocol-Version: 2026-07-28", "Mcp-Method: tools/list"})
        << message(request(3, QStringLiteral("tools/list"))) << 400 << int(JsonRpcError::InvalidParams)
        << QByteArray() << QByteArray();
    QTest::newRow("2026: removed method")
        << QByteArray("POST") << QByteArray("/mcp")
        << statelessHeaders({}, {"MCP-Protocol-Version: 2026-07-28", "Mcp-Method: ping"})
        << QByteArray(stateless).replace(R"("tools/call")", R"("ping")") << 404
        << int(JsonRpcError::MethodNotFound) << QByteArray() << QByteArray();
    QTest::newRow("2026: a batch") << QByteArray("POST") << QByteArray("/mcp") << statelessHeaders()
                                   << '[' + stateless + ']' << 400 << invalid << QByteArray() << QByteArray();
    QTest::newRow("2026: GET without a session")
        << QByteArray("GET") << QByteArray("/mcp")
        << QList<QByteArray>{"Authorization: Bearer alice", "Accept: text/event-stream",
                             "MCP-Protocol-Version: 2026-07-28"}
        << QByteArray() << 405 << server << QByteArray("Allow") << QByteArray();
    QTest::newRow("2026: DELETE without a session")
        << QByteArray("DELETE") << QByteArray("/mcp")
        << QList<QByteArray>{"Authorization: Bearer alice", "MCP-Protocol-Version: 2026-07-28"}
        << QByteArray() << 405 << server << QByteArray("Allow") << QByteArray();
    // With Mcp-Session-Id the _meta claim is the session's business: not a
    // 2026-07-28 request (which would be a header mismatch here), but a session
    // request, and that session is unknown.
    QTest::newRow("2026 claim with a session id: the session's")
        << QByteArray("POST") << QByteArray("/mcp")
        << statelessHeaders({"Mcp-Session-Id: 0123456789abcdef"},
                            {"MCP-Protocol-Version: 2025-11-25", "Mcp-Method: tools/call", "Mcp-Name: echo"})
        << stateless << 404 << server << QByteArray() << QByteArray();
    QTest::newRow("unknown session") << QByteArray("POST") << QByteArray("/mcp")
                                     << postHeaders("alice", {"Mcp-Session-Id: 0123456789abcdef"}) << call
                                     << 404 << server << QByteArray() << QByteArray();
    QTest::newRow("GET of an unknown session")
        << QByteArray("GET") << QByteArray("/mcp")
        << QList<QByteArray>{"Authorization: Bearer alice", "Accept: text/event-stream",
                             "Mcp-Session-Id: 0123456789abcdef"}
        << QByteArray() << 404 << server << QByteArray() << QByteArray();
    QTest::newRow("DELETE of an unknown session")
        << QByteArray("DELETE") << QByteArray("/mcp")
        << QList<QByteArray>{"Authorization: Bearer alice", "Mcp-Session-Id: 0123456789abcdef"}
        << QByteArray() << 404 << server << QByteArray() << QByteArray();
}

void tst_McpHttpServer::refused()
{
    QFETCH(QByteArray, method);
    QFETCH(QByteArray, target);
    QFETCH(QList<QByteArray>, headers);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    QFETCH(int, rpcCode);
    QFETCH(QByteArray, header);
    QFETCH(QByteArray, value);

    RawHttpClient client(m_port);
    QVERIFY(client.connected());
    const RawResponse answer = client.exchange(method, target, headers, body);
    QCOMPARE(answer.status, status);
    if (rpcCode != 0) {
        QCOMPARE(answer.header("content-type"), QByteArray("application/json"));
        QCOMPARE(::rpcCode(answer), rpcCode);
        QVERIFY(!answer.hasHeader("mcp-session-id"));
    } else {
        QVERIFY(answer.body.isEmpty());
    }
    if (!header.isEmpty()) {
        QVERIFY2(answer.hasHeader(header), answer.head.constData());
        if (!value.isEmpty())
            QCOMPARE(answer.header(header), value);
    }
    QCOMPARE(m_registry->count(), 0); // nothing was started
}

void tst_McpHttpServer::initializeAnswersWithSessionId()
{
    RawHttpClient client(m_port);
    const RawResponse answer = client.exchange("POST", "/mcp", postHeaders("alice"), initializeBody());
    QCOMPARE(answer.status, 200);
    QCOMPARE(answer.header("content-type"), QByteArray("application/json"));
    const QByteArray id = answer.header("mcp-session-id");
    QCOMPARE(id.size(), 48);
    QVERIFY(m_registry->find(QString::fromLatin1(id)));
    const QJsonObject reply = QJsonDocument::fromJson(answer.body).object();
    QCOMPARE(reply.value(QLatin1String("id")).toInt(), 1);
    QVERIFY(reply.contains(QLatin1String("result")));
}

void tst_McpHttpServer::failedInitializeIs502()
{
    RawHttpClient client(m_port);
    const RawResponse answer = client.exchange("POST", "/mcp", postHeaders("broken"), initializeBody());
    QCOMPARE(answer.status, 502);
    QVERIFY(!answer.hasHeader("mcp-session-id")); // only a success names the session
    const int code = rpcCode(answer);
    QVERIFY2(code == JsonRpcError::BackendExited || code == JsonRpcError::BackendUnavailable,
             qPrintable(QString::number(code)));
}

void tst_McpHttpServer::sessionCapIs503()
{
    for (int i = 0; i < MaxSessionsPerOwner; ++i)
        QVERIFY(!initialize("carol").isEmpty());
    const quint64 refusedBefore = metrics::value(metrics::Counter::RefusedSessions);
    RawHttpClient client(m_port);
    const RawResponse answer = client.exchange("POST", "/mcp", postHeaders("carol"), initializeBody());
    QCOMPARE(answer.status, 503);
    QCOMPARE(metrics::value(metrics::Counter::RefusedSessions), refusedBefore + 1);
    QCOMPARE(answer.header("retry-after"), QByteArray::number(RetryAfterSeconds));
    QCOMPARE(rpcCode(answer), int(JsonRpcError::ServerError));
    QCOMPARE(m_registry->countFor(QStringLiteral("carol")), MaxSessionsPerOwner);
}

void tst_McpHttpServer::sessionOfAnotherOwnerIs403()
{
    const QByteArray id = initialize("alice");
    QVERIFY(!id.isEmpty());
    RawHttpClient client(m_port);
    const RawResponse answer =
        client.exchange("POST", "/mcp", postHeaders("bob", {"Mcp-Session-Id: " + id}), slowCallBody(2, 0));
    QCOMPARE(answer.status, 403);
    QCOMPARE(rpcCode(answer), int(JsonRpcError::ServerError));
    const RawResponse get = client.exchange(
        "GET", "/mcp", {"Authorization: Bearer bob", "Accept: text/event-stream", "Mcp-Session-Id: " + id});
    QCOMPARE(get.status, 403);
    QVERIFY(m_registry->find(QString::fromLatin1(id))); // still alice's
}

void tst_McpHttpServer::notificationOnlyPostIs202()
{
    const QByteArray id = initialize("alice");
    QVERIFY(!id.isEmpty());
    RawHttpClient client(m_port);
    const RawResponse answer =
        client.exchange("POST", "/mcp", postHeaders("alice", {"Mcp-Session-Id: " + id}), initializedBody());
    QCOMPARE(answer.status, 202);
    QVERIFY(answer.body.isEmpty());
    // A request on the same connection is answered after it (keep-alive).
    const RawResponse call =
        client.exchange("POST", "/mcp", postHeaders("alice", {"Mcp-Session-Id: " + id}), slowCallBody(3, 0));
    QCOMPARE(call.status, 200);
    QCOMPARE(QJsonDocument::fromJson(call.body).object().value(QLatin1String("id")).toInt(), 3);
}

void tst_McpHttpServer::duplicateRequestIdIs400()
{
    const QByteArray id = initialize("alice");
    QVERIFY(!id.isEmpty());
    RawHttpClient first(m_port);
    first.send("POST", "/mcp", postHeaders("alice", {"Mcp-Session-Id: " + id}), slowCallBody(7, 3000));
    Session *session = m_registry->find(QString::fromLatin1(id));
    QVERIFY(session);
    RawHttpClient second(m_port);
    // Retried until the first has reached the session: then its id is pending.
    RawResponse answer;
    QTRY_VERIFY_WITH_TIMEOUT(
        (answer = second.exchange("POST", "/mcp", postHeaders("alice", {"Mcp-Session-Id: " + id}),
                                  slowCallBody(7, 0)))
                .status == 400,
        10000);
    QCOMPARE(rpcCode(answer), int(JsonRpcError::InvalidRequest));
    QCOMPARE(first.read().status, 200); // the first is still answered
}

void tst_McpHttpServer::secondGetStreamIs409()
{
    const QByteArray id = initialize("alice");
    QVERIFY(!id.isEmpty());
    const QList<QByteArray> get{"Authorization: Bearer alice", "Accept: text/event-stream",
                                "Mcp-Session-Id: " + id};
    RawHttpClient first(m_port);
    const RawResponse stream = first.exchange("GET", "/mcp", get);
    QCOMPARE(stream.status, 200);
    QCOMPARE(stream.header("content-type"), QByteArray("text/event-stream"));
    QCOMPARE(stream.header("transfer-encoding"), QByteArray("chunked"));
    QTRY_COMPARE(m_server->openStreams(), 1);

    RawHttpClient second(m_port);
    const RawResponse refused = second.exchange("GET", "/mcp", get);
    QCOMPARE(refused.status, 409);
    QCOMPARE(rpcCode(refused), int(JsonRpcError::ServerError));
    QVERIFY(first.connected()); // the first stream is untouched
}

void tst_McpHttpServer::deleteEndsTheSession()
{
    const QByteArray id = initialize("alice");
    QVERIFY(!id.isEmpty());
    QSignalSpy ended(m_registry.get(), &SessionRegistry::sessionEnded);
    RawHttpClient client(m_port);
    const QList<QByteArray> headers{"Authorization: Bearer alice", "Mcp-Session-Id: " + id};
    const RawResponse answer = client.exchange("DELETE", "/mcp", headers);
    QCOMPARE(answer.status, 200);
    QVERIFY(answer.body.isEmpty());
    QCOMPARE(ended.count(), 1);
    QCOMPARE(client.exchange("DELETE", "/mcp", headers).status, 404); // the spec's "initialize again"
}

void tst_McpHttpServer::refusalHonoursConnectionClose()
{
    // Every answer goes out through the exchange, so a refusal closes like
    // a session's answer does when the client asked for it.
    RawHttpClient client(m_port);
    const RawResponse answer = client.exchange(
        "POST", "/mcp", postHeaders("alice", {"Mcp-Session-Id: 0123456789abcdef", "Connection: close"}),
        slowCallBody(2, 0));
    QCOMPARE(answer.status, 404);
    QCOMPARE(answer.header("connection"), QByteArray("close"));
    QVERIFY(client.waitClosed());

    RawHttpClient kept(m_port); // without it, the connection stays for the next request
    QCOMPARE(kept.exchange("GET", "/healthz", {}).status, 200);
    QVERIFY(kept.connected());
    QCOMPARE(kept.exchange("GET", "/healthz", {}).status, 200);
}

void tst_McpHttpServer::statelessAnswerListsServedRevisions_data()
{
    QTest::addColumn<QList<QByteArray>>("headers");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("error"); // the answer's id and error.data, compact

    const QByteArray served =
        R"("supported":["2026-07-28","2025-11-25","2025-06-18","2025-03-26","2024-11-05"])";
    QTest::newRow("a revision after 2026-07-28")
        << statelessHeaders({},
                            {"MCP-Protocol-Version: 2099-01-01", "Mcp-Method: tools/call", "Mcp-Name: echo"})
        << statelessCallBody("2099-01-01") << QByteArray(R"(0 {"requested":"2099-01-01",)" + served + '}');
    QTest::newRow("session request with an unknown revision")
        << postHeaders("alice", {"Mcp-Session-Id: abc", "MCP-Protocol-Version: 1999-01-01"})
        << slowCallBody(2, 0) << QByteArray(R"(null {"requested":"1999-01-01",)" + served + '}');
}

// -32022 as 2026-07-28 basic/versioning gives it: the request's id,
// data.requested and data.supported (every revision served), the shape on
// which the SDK v2 client falls back (auto) or reports the list (pinned).
void tst_McpHttpServer::statelessAnswerListsServedRevisions()
{
    QFETCH(QList<QByteArray>, headers);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, error);

    RawHttpClient client(m_port);
    const RawResponse answer = client.exchange("POST", "/mcp", headers, body);
    QCOMPARE(answer.status, 400);
    const QJsonObject reply = QJsonDocument::fromJson(answer.body).object();
    const QJsonObject rpcError = reply.value(QLatin1String("error")).toObject();
    QCOMPARE(rpcError.value(QLatin1String("code")).toInt(), int(JsonRpcError::UnsupportedProtocolVersion));
    const QByteArray id =
        QJsonDocument(QJsonArray{reply.value(QLatin1String("id"))}).toJson(QJsonDocument::Compact);
    QCOMPARE(
        id.mid(1, id.size() - 2) + ' ' +
            QJsonDocument(rpcError.value(QLatin1String("data")).toObject()).toJson(QJsonDocument::Compact),
        error);
    QCOMPARE(m_registry->count(), 0);
}

// SIGHUP's path (issue 15): a new Origin policy and body limit apply to the
// next request on the listener already open.
void tst_McpHttpServer::reconfigureTakesOriginsAndLimits()
{
    const QList<QByteArray> fromApp = postHeaders("alice", {"Origin: https://app.example"});
    RawHttpClient before(m_port);
    QCOMPARE(before.exchange("POST", "/mcp", fromApp, initializeBody()).status, 403);

    HttpConfig config;
    config.maxBodyBytes = 1024;
    m_server->reconfigure(config, OriginPolicy({QStringLiteral("https://app.example")},
                                               QStringLiteral("127.0.0.1"), QString()));
    RawHttpClient after(m_port);
    QCOMPARE(after.exchange("POST", "/mcp", fromApp, initializeBody()).status, 200);
    RawHttpClient large(m_port);
    QCOMPARE(large.exchange("POST", "/mcp", postHeaders("alice"), QByteArray(2048, ' ')).status, 413);
}

// issue 13: server/discover is built from the initialize result of the
// child the broker started for the user, and lists 2026-07-28 as served.
void tst_McpHttpServer::statelessDiscoverFromTheUserChild()
{
    RawHttpClient client(m_port);
    const RawResponse answer =
        client.exchange("POST", "/mcp", statelessHeadersOf("alice", "server/discover"),
                        statelessBody(QStringLiteral("probe"), QStringLiteral("server/discover"), {}));
    QCOMPARE(answer.status, 200);
    QVERIFY(!answer.hasHeader("mcp-session-id"));
    const QJsonObject reply = QJsonDocument::fromJson(answer.body).object();
    QCOMPARE(reply.value(QLatin1String("id")).toString(), QStringLiteral("probe"));
    const QJsonObject result = reply.value(QLatin1String("result")).toObject();
    QCOMPARE(result.value(QLatin1String("supportedVersions")).toArray().first().toString(),
             QStringLiteral("2026-07-28"));
    QCOMPARE(result.value(QLatin1String("resultType")).toString(), QStringLiteral("complete"));
    QCOMPARE(result.value(QLatin1String("cacheScope")).toString(), QStringLiteral("private"));
    QVERIFY(result.value(QLatin1String("capabilities")).toObject().contains(QLatin1String("tools")));
    QCOMPARE(result.value(QLatin1String("_meta"))
                 .toObject()
                 .value(QLatin1String("io.modelcontextprotocol/serverInfo"))
                 .toObject()
                 .value(QLatin1String("name"))
                 .toString(),
             QStringLiteral("fmb-test-mcp-server"));
    Session *child = m_registry->findUserChild(QStringLiteral("alice"));
    QVERIFY(child);
    QCOMPARE(child->kind(), SessionKind::UserChild);
    QCOMPARE(m_registry->count(), 1);
}

// Several 2026-07-28 clients of one user, with the same request id at the
// same time, share one child and each get their own answer; another user
// gets a child of their own. The child saw the broker's initialize.
void tst_McpHttpServer::statelessRequestsOfOneUserShareAChild()
{
    RawHttpClient first(m_port);
    RawHttpClient second(m_port);
    first.send("POST", "/mcp", statelessHeadersOf("alice", "tools/call", "slow"),
               statelessTool(7, QStringLiteral("slow"),
                             {{QStringLiteral("ms"), 300}, {QStringLiteral("text"), QStringLiteral("one")}}));
    second.send("POST", "/mcp", statelessHeadersOf("alice", "tools/call", "=?base64?c2xvdw==?="),
                statelessTool(7, QStringLiteral("slow"),
                              {{QStringLiteral("ms"), 10}, {QStringLiteral("text"), QStringLiteral("two")}}));
    const RawResponse two = second.read();
    const RawResponse one = first.read();
    QCOMPARE(one.status, 200);
    QCOMPARE(two.status, 200);
    const QJsonObject oneReply = QJsonDocument::fromJson(one.body).object();
    const QJsonObject twoReply = QJsonDocument::fromJson(two.body).object();
    QCOMPARE(oneReply.value(QLatin1String("id")).toInt(), 7);
    QCOMPARE(twoReply.value(QLatin1String("id")).toInt(), 7);
    QCOMPARE(toolText(oneReply), QStringLiteral("one"));
    QCOMPARE(toolText(twoReply), QStringLiteral("two"));
    QCOMPARE(oneReply.value(QLatin1String("result")).toObject().value(QLatin1String("resultType")).toString(),
             QStringLiteral("complete"));
    QCOMPARE(m_registry->count(), 1);

    const RawResponse state =
        first.exchange("POST", "/mcp", statelessHeadersOf("alice", "tools/call", "state"),
                       statelessTool(8, QStringLiteral("state"), {}));
    const QJsonObject seen =
        QJsonDocument::fromJson(toolText(QJsonDocument::fromJson(state.body).object()).toUtf8()).object();
    const QJsonObject init = seen.value(QLatin1String("initializeParams")).toObject();
    QCOMPARE(init.value(QLatin1String("protocolVersion")).toString(), QStringLiteral("2025-11-25"));
    QCOMPARE(init.value(QLatin1String("clientInfo")).toObject().value(QLatin1String("name")).toString(),
             QStringLiteral("forgejo-mcp-broker"));
    for (const QLatin1String capability :
         {QLatin1String("sampling"), QLatin1String("elicitation"), QLatin1String("roots")})
        QVERIFY2(init.value(QLatin1String("capabilities")).toObject().contains(capability),
                 capability.data());
    QCOMPARE(seen.value(QLatin1String("initializedCount")).toInt(), 1);

    RawHttpClient bob(m_port);
    const RawResponse bobs = bob.exchange(
        "POST", "/mcp", statelessHeadersOf("bob", "tools/call", "echo"),
        statelessTool(1, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("b")}}));
    QCOMPARE(toolText(QJsonDocument::fromJson(bobs.body).object()), QStringLiteral("b"));
    QCOMPARE(m_registry->count(), 2);
    QVERIFY(m_registry->findUserChild(QStringLiteral("alice")) !=
            m_registry->findUserChild(QStringLiteral("bob")));
}

// Two clients pick the same progress token for requests in flight at once:
// each stream gets its own progress, with the token it chose.
void tst_McpHttpServer::statelessProgressTokensAreRewritten()
{
    RawHttpClient first(m_port);
    RawHttpClient second(m_port);
    const QJsonObject token{{QStringLiteral("progressToken"), QStringLiteral("mine")}};
    const QJsonObject arguments{{QStringLiteral("count"), 3}, {QStringLiteral("intervalMs"), 50}};
    first.send("POST", "/mcp", statelessHeadersOf("alice", "tools/call", "notify"),
               statelessTool(1, QStringLiteral("notify"), arguments, token));
    second.send("POST", "/mcp", statelessHeadersOf("alice", "tools/call", "notify"),
                statelessTool(2, QStringLiteral("notify"), arguments, token));
    for (RawHttpClient *client : {&first, &second}) {
        const RawResponse head = client->read();
        QCOMPARE(head.status, 200);
        QCOMPARE(head.header("content-type"), QByteArray("text/event-stream"));
    }
    const QList<QJsonObject> ones = sseMessages(first.readStream("\r\n0\r\n"));
    const QList<QJsonObject> twos = sseMessages(second.readStream("\r\n0\r\n"));
    for (const QList<QJsonObject> &stream : {ones, twos}) {
        int progress = 0;
        for (const QJsonObject &event : stream) {
            if (event.value(QLatin1String("method")).toString() != QLatin1String("notifications/progress"))
                continue;
            ++progress;
            QCOMPARE(event.value(QLatin1String("params"))
                         .toObject()
                         .value(QLatin1String("progressToken"))
                         .toString(),
                     QStringLiteral("mine"));
        }
        QCOMPARE(progress, 3);
        // No notification without a token (the server's log message) lands on a client's stream.
        QCOMPARE(stream.size(), 4);
    }
    QCOMPARE(ones.last().value(QLatin1String("id")).toInt(), 1);
    QCOMPARE(twos.last().value(QLatin1String("id")).toInt(), 2);
}

// 2026-07-28 cancels by closing the request's stream: the child gets
// notifications/cancelled for the broker's id of that request.
void tst_McpHttpServer::statelessClosedStreamCancels()
{
    {
        RawHttpClient leaving(m_port);
        leaving.send("POST", "/mcp", statelessHeadersOf("alice", "tools/call", "slow"),
                     statelessTool(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 30000}}));
        Session *child = nullptr;
        QTRY_VERIFY((child = m_registry->findUserChild(QStringLiteral("alice"))) &&
                    child->pendingRequests() == 1);
    } // the client goes
    Session *child = m_registry->findUserChild(QStringLiteral("alice"));
    QTRY_COMPARE(child->pendingRequests(), 0);
    RawHttpClient client(m_port);
    const RawResponse state =
        client.exchange("POST", "/mcp", statelessHeadersOf("alice", "tools/call", "state"),
                        statelessTool(2, QStringLiteral("state"), {}));
    const QJsonObject seen =
        QJsonDocument::fromJson(toolText(QJsonDocument::fromJson(state.body).object()).toUtf8()).object();
    QCOMPARE(seen.value(QLatin1String("cancelled")).toArray().size(), 1);
    QCOMPARE(seen.value(QLatin1String("pendingSlow")).toInt(), 0);
}

// A user child's id is never a session a client can name.
void tst_McpHttpServer::userChildIsNoSession()
{
    RawHttpClient client(m_port);
    QCOMPARE(client
                 .exchange("POST", "/mcp", statelessHeadersOf("alice", "tools/list"),
                           statelessBody(1, QStringLiteral("tools/list"), {}))
                 .status,
             200);
    const QByteArray id = m_registry->findUserChild(QStringLiteral("alice"))->id().toLatin1();
    const RawResponse answer =
        client.exchange("POST", "/mcp", postHeaders("alice", {"Mcp-Session-Id: " + id}), slowCallBody(2, 0));
    QCOMPARE(answer.status, 404);
}

void tst_McpHttpServer::checkAnsweredLaterServesTheRequest()
{
    // Issue 14: a bearer check that must ask the token store answers later,
    // and the request goes on from a copy of what its handlers read: every
    // method, the headers read after the check, and the refusals.
    laterChecks = 0;
    RawHttpClient client(m_port);
    const RawResponse created = client.exchange("POST", "/mcp", postHeaders("later-carol"), initializeBody());
    QCOMPARE(created.status, 200);
    const QByteArray id = created.header("mcp-session-id");
    QVERIFY(!id.isEmpty());
    const Session *session = m_registry->find(QString::fromLatin1(id));
    QVERIFY(session);
    QCOMPARE(session->owner().user, QStringLiteral("carol"));
    QCOMPARE(client
                 .exchange("POST", "/mcp", postHeaders("later-carol", {"Mcp-Session-Id: " + id}),
                           initializedBody())
                 .status,
             202);
    const RawResponse called = client.exchange(
        "POST", "/mcp", postHeaders("later-carol", {"Mcp-Session-Id: " + id}), slowCallBody(2, 0));
    QCOMPARE(called.status, 200);

    RawHttpClient streaming(m_port);
    const RawResponse stream = streaming.exchange(
        "GET", "/mcp",
        {"Authorization: Bearer later-carol", "Accept: text/event-stream", "Mcp-Session-Id: " + id});
    QCOMPARE(stream.status, 200);
    QCOMPARE(stream.header("content-type"), QByteArray("text/event-stream"));
    QTRY_COMPARE(m_server->openStreams(), 1);

    const RawResponse notAcceptable =
        client.exchange("POST", "/mcp",
                        {"Authorization: Bearer later-carol", "Accept: application/json",
                         "Content-Type: application/json", "Mcp-Session-Id: " + id},
                        slowCallBody(3, 0));
    QCOMPARE(notAcceptable.status, 406);
    const RawResponse foreign =
        client.exchange("DELETE", "/mcp", {"Authorization: Bearer later-dave", "Mcp-Session-Id: " + id});
    QCOMPARE(foreign.status, 403);
    const RawResponse down =
        client.exchange("POST", "/mcp", postHeaders("later-store-down"), initializeBody());
    QCOMPARE(down.status, 503);
    QCOMPARE(down.header("retry-after"), QByteArray::number(RetryAfterSeconds));

    QCOMPARE(client.exchange("DELETE", "/mcp", {"Authorization: Bearer later-carol", "Mcp-Session-Id: " + id})
                 .status,
             200);
    QVERIFY(!m_registry->find(QString::fromLatin1(id)));
    QCOMPARE(laterChecks, 8);
}

void tst_McpHttpServer::heldCheckHoldsOnlyItsRequest()
{
    // While a check waits, the server serves everyone else.
    RawHttpClient waiting(m_port);
    waiting.send("POST", "/mcp", postHeaders("held-erin"), initializeBody());
    QTRY_COMPARE(heldChecks().size(), 1);
    const QByteArray other = initialize("alice");
    QVERIFY(!other.isEmpty());
    RawHttpClient client(m_port);
    QCOMPARE(
        client
            .exchange("POST", "/mcp", postHeaders("alice", {"Mcp-Session-Id: " + other}), slowCallBody(2, 0))
            .status,
        200);

    heldChecks().takeFirst()();
    const RawResponse answer = waiting.read();
    QCOMPARE(answer.status, 200);
    const Session *session = m_registry->find(QString::fromLatin1(answer.header("mcp-session-id")));
    QVERIFY(session);
    QCOMPARE(session->owner().user, QStringLiteral("erin"));
}

void tst_McpHttpServer::clientGoneBeforeTheCheckGetsNothing()
{
    // A client that left while its check waited gets no session (and no
    // child started for nobody).
    {
        RawHttpClient gone(m_port);
        gone.send("POST", "/mcp", postHeaders("held-frank"), initializeBody());
        QTRY_COMPARE(heldChecks().size(), 1);
    }
    QTRY_VERIFY(m_server->findChildren<QTcpSocket *>().isEmpty());
    QSignalSpy created(m_registry.get(), &SessionRegistry::sessionCreated);
    heldChecks().takeFirst()();
    QCOMPARE(created.count(), 0);
    QCOMPARE(m_registry->count(), 0);
}

void tst_McpHttpServer::initializeWithoutItsEnvironment()
{
    // A child whose environment cannot be had (the user's Forgejo token,
    // from the token store) never starts: while the store is unavailable the
    // client is told to retry (503 + Retry-After), else the start failed (502).
    RawHttpClient client(m_port);
    const RawResponse down = client.exchange("POST", "/mcp", postHeaders("env-down"), initializeBody());
    QCOMPARE(down.status, 503);
    QCOMPARE(down.header("retry-after"), QByteArray::number(RetryAfterSeconds));
    QVERIFY(down.header("mcp-session-id").isEmpty());
    QCOMPARE(rpcCode(down), int(JsonRpcError::BackendExited));
    const RawResponse gone = client.exchange("POST", "/mcp", postHeaders("env-gone"), initializeBody());
    QCOMPARE(gone.status, 502);
    QVERIFY(gone.header("retry-after").isEmpty());
    QTRY_COMPARE(m_registry->count(), 0);
}

QTEST_GUILESS_MAIN(tst_McpHttpServer)
#include "tst_mcphttpserver.moc"
