#include <memory>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include "../transport/RawHttpClient.h"
#include "../transport/UserChildEndpoint.h"
#include "ChildProbe.h"
#include "child/ChildProcess.h"
#include "jsonrpc/JsonRpc.h"
#include "session/SessionRegistry.h"
#include "transport/McpHttpServer.h"

using namespace fmb;
using fmb::test::RawHttpClient;
using fmb::test::RawResponse;
using fmbtest::toolText;

// Multi round-trip requests of 2026-07-28 (issue 13, basic/patterns/mrtr)
// over a real socket, with a real user child (the test MCP server, whose
// tool "sample" asks the client for sampling/createMessage): the call is
// parked and answered input_required; the retry with inputResponses and the
// requestState answers the child and gets the tool's result; state that is
// forged, another user's, another request's, replayed or expired is refused
// with -32602; a client without the capability gets -32021.
class tst_InputRequired : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void samplingRoundTrip();
    void replayedStateIsRefused();
    void refusedState_data();
    void refusedState();
    void missingInputIsAskedAgain();
    void undeclaredCapability();
    void expiredCallIsCancelled();
    void parkedCallsPerUserAreBounded();
    void loweredCapCancelsTheCallAskedAgain();
    void retryAsksForLogs();

private:
    // Posts a 2026-07-28 tools/call of `tool` as `user`.
    RawResponse call(RawHttpClient &client, const QByteArray &user, int id, const QString &tool,
                     const QJsonObject &capabilities, const QJsonObject &retry = {},
                     const QString &logLevel = {});
    void restart(ParkingLimits parking);

    std::unique_ptr<fmb::test::UserChildEndpoint> m_endpoint;
    SessionRegistry *m_registry = nullptr;
    quint16 m_port = 0;
};

namespace {

const QString Sample = QStringLiteral("sample");

QJsonObject sampling()
{
    return {{QStringLiteral("sampling"), QJsonObject()}};
}

QJsonObject body(const RawResponse &response)
{
    return QJsonDocument::fromJson(response.body).object();
}

QJsonObject resultOf(const RawResponse &response)
{
    return body(response).value(QLatin1String("result")).toObject();
}

int rpcCode(const RawResponse &response)
{
    return body(response).value(QLatin1String("error")).toObject().value(QLatin1String("code")).toInt();
}

// The one key of an input_required result's inputRequests.
QString inputKey(const RawResponse &response)
{
    const QStringList keys = resultOf(response).value(QLatin1String("inputRequests")).toObject().keys();
    return keys.size() == 1 ? keys.first() : QString();
}

QString requestState(const RawResponse &response)
{
    return resultOf(response).value(QLatin1String("requestState")).toString();
}

// The retry's params: the sampled message for `key`, and `state`.
QJsonObject sampled(const QString &key, const QString &state, const QString &text)
{
    const QJsonObject message{
        {QStringLiteral("role"), QStringLiteral("assistant")},
        {QStringLiteral("content"),
         QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), text}}},
        {QStringLiteral("model"), QStringLiteral("test-model")},
        {QStringLiteral("stopReason"), QStringLiteral("endTurn")}};
    return {{QStringLiteral("inputResponses"), QJsonObject{{key, message}}},
            {QStringLiteral("requestState"), state}};
}

} // namespace

void tst_InputRequired::init()
{
    restart(ParkingLimits{});
}

void tst_InputRequired::restart(ParkingLimits parking)
{
    m_endpoint.reset();
    HttpConfig config;
    config.parking = parking;
    m_endpoint = std::make_unique<fmb::test::UserChildEndpoint>(config);
    m_port = m_endpoint->port;
    m_registry = &m_endpoint->registry;
}

void tst_InputRequired::cleanup()
{
    m_endpoint.reset();
}

RawResponse tst_InputRequired::call(RawHttpClient &client, const QByteArray &user, int id,
                                    const QString &tool, const QJsonObject &capabilities,
                                    const QJsonObject &retry, const QString &logLevel)
{
    QJsonObject params = retry;
    params.insert(QStringLiteral("name"), tool);
    params.insert(QStringLiteral("arguments"),
                  QJsonObject{{QStringLiteral("prompt"), QStringLiteral("2+2?")}});
    QJsonObject meta{
        {QStringLiteral("io.modelcontextprotocol/protocolVersion"), QStringLiteral("2026-07-28")},
        {QStringLiteral("io.modelcontextprotocol/clientCapabilities"), capabilities}};
    if (!logLevel.isEmpty())
        meta.insert(QStringLiteral("io.modelcontextprotocol/logLevel"), logLevel);
    params.insert(QStringLiteral("_meta"), meta);
    const QJsonObject request{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                              {QStringLiteral("id"), id},
                              {QStringLiteral("method"), QStringLiteral("tools/call")},
                              {QStringLiteral("params"), params}};
    return client.exchange("POST", "/mcp",
                           {"Authorization: Bearer " + user, "Accept: application/json, text/event-stream",
                            "Content-Type: application/json", "MCP-Protocol-Version: 2026-07-28",
                            "Mcp-Method: tools/call", "Mcp-Name: " + tool.toUtf8()},
                           encode(request));
}

void tst_InputRequired::samplingRoundTrip()
{
    RawHttpClient client(m_port);
    const RawResponse asked = call(client, "alice", 1, Sample, sampling());
    QCOMPARE(asked.status, 200);
    QCOMPARE(body(asked).value(QLatin1String("id")).toInt(), 1);
    QCOMPARE(resultOf(asked).value(QLatin1String("resultType")).toString(), QStringLiteral("input_required"));
    const QString key = inputKey(asked);
    QVERIFY(!key.isEmpty());
    const QJsonObject input =
        resultOf(asked).value(QLatin1String("inputRequests")).toObject().value(key).toObject();
    QCOMPARE(input.value(QLatin1String("method")).toString(), QStringLiteral("sampling/createMessage"));
    QVERIFY(!input.contains(QLatin1String("id")));
    QVERIFY(!input.contains(QLatin1String("jsonrpc")));
    // The call is parked: still in flight in the child.
    Session *child = m_registry->findUserChild(QStringLiteral("alice"));
    QVERIFY(child);
    QCOMPARE(child->pendingRequests(), 1);

    const RawResponse done = call(client, "alice", 2, Sample, sampling(),
                                  sampled(key, requestState(asked), QStringLiteral("four")));
    QCOMPARE(done.status, 200);
    QCOMPARE(body(done).value(QLatin1String("id")).toInt(), 2);
    QCOMPARE(resultOf(done).value(QLatin1String("resultType")).toString(), QStringLiteral("complete"));
    QCOMPARE(toolText(body(done)), QStringLiteral("four"));
    QCOMPARE(child->pendingRequests(), 0);
}

void tst_InputRequired::replayedStateIsRefused()
{
    RawHttpClient client(m_port);
    const RawResponse asked = call(client, "alice", 1, Sample, sampling());
    const QJsonObject retry = sampled(inputKey(asked), requestState(asked), QStringLiteral("four"));
    QCOMPARE(toolText(body(call(client, "alice", 2, Sample, sampling(), retry))), QStringLiteral("four"));
    const RawResponse replayed = call(client, "alice", 3, Sample, sampling(), retry);
    QCOMPARE(rpcCode(replayed), int(JsonRpcError::InvalidParams));
    QCOMPARE(body(replayed).value(QLatin1String("id")).toInt(), 3);
    QCOMPARE(body(replayed)
                 .value(QLatin1String("error"))
                 .toObject()
                 .value(QLatin1String("data"))
                 .toObject()
                 .value(QLatin1String("reason")),
             QJsonValue(QStringLiteral("invalid_request_state")));
}

void tst_InputRequired::refusedState_data()
{
    QTest::addColumn<QByteArray>("user");
    QTest::addColumn<QString>("tool");
    QTest::addColumn<bool>("forge");
    QTest::newRow("another user's") << QByteArray("bob") << Sample << false;
    QTest::newRow("another tool's") << QByteArray("alice") << QStringLiteral("echo") << false;
    QTest::newRow("forged") << QByteArray("alice") << Sample << true;
}

void tst_InputRequired::refusedState()
{
    QFETCH(QByteArray, user);
    QFETCH(QString, tool);
    QFETCH(bool, forge);
    RawHttpClient client(m_port);
    const RawResponse asked = call(client, "alice", 1, Sample, sampling());
    QString state = requestState(asked);
    QVERIFY(!state.isEmpty());
    if (forge)
        state = QLatin1Char(state.at(0) == QLatin1Char('A') ? 'B' : 'A') + state.mid(1);
    const RawResponse refused =
        call(client, user, 2, tool, sampling(), sampled(inputKey(asked), state, QStringLiteral("x")));
    QCOMPARE(refused.status, 200);
    QCOMPARE(rpcCode(refused), int(JsonRpcError::InvalidParams));
    // The parked call is not spent by a refused retry: its client can still finish it.
    const RawResponse done = call(client, "alice", 3, Sample, sampling(),
                                  sampled(inputKey(asked), requestState(asked), QStringLiteral("four")));
    QCOMPARE(toolText(body(done)), QStringLiteral("four"));
}

void tst_InputRequired::missingInputIsAskedAgain()
{
    RawHttpClient client(m_port);
    const RawResponse asked = call(client, "alice", 1, Sample, sampling());
    const RawResponse again =
        call(client, "alice", 2, Sample, sampling(), {{QStringLiteral("requestState"), requestState(asked)}});
    QCOMPARE(resultOf(again).value(QLatin1String("resultType")).toString(), QStringLiteral("input_required"));
    QCOMPARE(inputKey(again), inputKey(asked));
    QVERIFY(requestState(again) != requestState(asked));
    // The first round's state is spent.
    QCOMPARE(rpcCode(call(client, "alice", 3, Sample, sampling(),
                          sampled(inputKey(asked), requestState(asked), QStringLiteral("x")))),
             int(JsonRpcError::InvalidParams));
    const RawResponse done = call(client, "alice", 4, Sample, sampling(),
                                  sampled(inputKey(again), requestState(again), QStringLiteral("four")));
    QCOMPARE(toolText(body(done)), QStringLiteral("four"));
}

void tst_InputRequired::undeclaredCapability()
{
    RawHttpClient client(m_port);
    const RawResponse refused = call(client, "alice", 1, Sample, {{QStringLiteral("roots"), QJsonObject()}});
    QCOMPARE(refused.status, 200);
    QCOMPARE(rpcCode(refused), int(JsonRpcError::MissingRequiredClientCapability));
    QCOMPARE(body(refused).value(QLatin1String("error")).toObject().value(QLatin1String("data")).toObject(),
             QJsonObject({{QStringLiteral("requiredCapabilities"), sampling()}}));
    // The child's call is cancelled, not left waiting.
    Session *child = m_registry->findUserChild(QStringLiteral("alice"));
    QVERIFY(child);
    QTRY_COMPARE(child->pendingRequests(), 0);
}

void tst_InputRequired::expiredCallIsCancelled()
{
    restart(ParkingLimits{200, 16});
    RawHttpClient client(m_port);
    const RawResponse asked = call(client, "alice", 1, Sample, sampling());
    QCOMPARE(resultOf(asked).value(QLatin1String("resultType")).toString(), QStringLiteral("input_required"));
    Session *child = m_registry->findUserChild(QStringLiteral("alice"));
    QVERIFY(child);
    QCOMPARE(child->pendingRequests(), 1);
    QTRY_COMPARE(child->pendingRequests(), 0); // cancelled in the child at expiry
    const RawResponse late = call(client, "alice", 2, Sample, sampling(),
                                  sampled(inputKey(asked), requestState(asked), QStringLiteral("x")));
    QCOMPARE(rpcCode(late), int(JsonRpcError::InvalidParams));
    // The child heard the cancellation and has no sampling left waiting.
    const RawResponse state = call(client, "alice", 3, QStringLiteral("state"), {});
    const QJsonObject seen = QJsonDocument::fromJson(toolText(body(state)).toUtf8()).object();
    QCOMPARE(seen.value(QLatin1String("cancelled")).toArray().size(), 1);
}

void tst_InputRequired::parkedCallsPerUserAreBounded()
{
    restart(ParkingLimits{120000, 1});
    RawHttpClient first(m_port);
    const RawResponse parked = call(first, "alice", 1, Sample, sampling());
    QCOMPARE(resultOf(parked).value(QLatin1String("resultType")).toString(),
             QStringLiteral("input_required"));
    // Over the cap the server's request is refused; the call ends as the server says.
    RawHttpClient second(m_port);
    const RawResponse refused = call(second, "alice", 2, Sample, sampling());
    QCOMPARE(resultOf(refused).value(QLatin1String("resultType")).toString(), QStringLiteral("complete"));
    QVERIFY(resultOf(refused).value(QLatin1String("isError")).toBool());
    QVERIFY(toolText(body(refused)).contains(QLatin1String("at most 1")));
    // Another user has a cap of its own.
    RawHttpClient bob(m_port);
    const RawResponse other = call(bob, "bob", 3, Sample, sampling());
    QCOMPARE(resultOf(other).value(QLatin1String("resultType")).toString(), QStringLiteral("input_required"));
}

void tst_InputRequired::loweredCapCancelsTheCallAskedAgain()
{
    restart(ParkingLimits{120000, 2});
    RawHttpClient client(m_port);
    const RawResponse first = call(client, "alice", 1, Sample, sampling());
    const RawResponse second = call(client, "alice", 2, Sample, sampling());
    QCOMPARE(resultOf(second).value(QLatin1String("resultType")).toString(),
             QStringLiteral("input_required"));
    Session *child = m_registry->findUserChild(QStringLiteral("alice"));
    QVERIFY(child);
    QCOMPARE(child->pendingRequests(), 2);

    // A reload lowers the cap to one; the first call's retry brings no input,
    // so it would park again next to the second: over the cap.
    HttpConfig config;
    config.parking = ParkingLimits{120000, 1};
    m_endpoint->server->reconfigure(config, OriginPolicy({}, QStringLiteral("127.0.0.1"), QString()));
    const RawResponse again =
        call(client, "alice", 3, Sample, sampling(), {{QStringLiteral("requestState"), requestState(first)}});
    QCOMPARE(again.status, 200);
    QCOMPARE(rpcCode(again), int(JsonRpcError::LimitReached));
    // The first call ends in the child; the second still waits for its input.
    QTRY_COMPARE(child->pendingRequests(), 1);
    const RawResponse done = call(client, "alice", 4, Sample, sampling(),
                                  sampled(inputKey(second), requestState(second), QStringLiteral("two")));
    QCOMPARE(toolText(body(done)), QStringLiteral("two"));
}

void tst_InputRequired::retryAsksForLogs()
{
    // The test server's recorded log level ("state" tool): null until the
    // broker sets one.
    const auto childLevel = [this] {
        RawHttpClient client(m_port);
        const RawResponse state = call(client, "alice", 99, QStringLiteral("state"), {});
        return QJsonDocument::fromJson(toolText(body(state)).toUtf8())
            .object()
            .value(QLatin1String("logLevel"));
    };
    RawHttpClient client(m_port);
    const RawResponse asked = call(client, "alice", 1, Sample, sampling());
    QCOMPARE(resultOf(asked).value(QLatin1String("resultType")).toString(), QStringLiteral("input_required"));
    QCOMPARE(childLevel(), QJsonValue(QJsonValue::Null));

    // The retry asks for logs: the child's level is set for it (as for any
    // request) and, once it is answered and nobody asks any more, lowered
    // to emergency. Without the watch the child never hears a level.
    const RawResponse done =
        call(client, "alice", 2, Sample, sampling(),
             sampled(inputKey(asked), requestState(asked), QStringLiteral("four")), QStringLiteral("debug"));
    QCOMPARE(resultOf(done).value(QLatin1String("resultType")).toString(), QStringLiteral("complete"));
    QTRY_COMPARE(childLevel(), QJsonValue(QStringLiteral("emergency")));
}

QTEST_GUILESS_MAIN(tst_InputRequired)
#include "tst_inputrequired.moc"
