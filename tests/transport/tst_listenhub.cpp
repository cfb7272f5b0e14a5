#include <memory>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include "ChildProbe.h"
#include "RawHttpClient.h"
#include "UserChildEndpoint.h"
#include "jsonrpc/JsonRpc.h"

using namespace fmb;
using fmb::test::RawHttpClient;
using fmb::test::RawResponse;
using fmb::test::sseMessages;
using fmb::test::UserChildEndpoint;
using fmbtest::toolText;

// subscriptions/listen and per-request logLevel of 2026-07-28 (issue 13
// point 6) over real sockets with a real user child (the test MCP server,
// whose tool "emit" writes notifications that belong to no request): the
// acknowledgement carries what the child supports, resources/subscribe is
// counted across a user's listeners, notifications reach only the streams
// that asked (tagged with their subscription id), the child's log level is
// the lowest asked for and each stream gets its own level and above.
class tst_ListenHub : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void acknowledgesWhatTheChildSupports();
    void updatesReachOnlyTheStreamsThatAsked();
    void subscriptionsAreCountedAcrossListeners();
    void eachStreamGetsItsOwnLogLevel();
    void requestGetsLogsOnlyWhenItAsks();
    void listenersPerUserAreBounded();
    void resourceSubscriptionsPerListenAreBounded();
    void childEndClosesListenersGracefully();
    void tokenExpiryClosesItsListenersGracefully();
    void discoverAdvertisesWhatIsDelivered();

private:
    // Opens a listen stream as `user`; returns the raw stream up to its acknowledgement.
    QByteArray listen(RawHttpClient &client, const QByteArray &user, const QJsonValue &id,
                      const QJsonObject &notifications, const QString &logLevel = {});
    RawResponse call(RawHttpClient &client, const QByteArray &user, int id, const QString &tool,
                     const QJsonObject &arguments, const QString &logLevel = {});
    // Makes the child write `notifications` (through another connection).
    void emitFromChild(const QJsonArray &notifications);
    // The test server's recorded state (tool "state") of alice's child.
    QJsonObject childState();
    void restart(int maxListenersPerUser);

    std::unique_ptr<fmb::test::UserChildEndpoint> m_endpoint;
    quint16 m_port = 0;
    int m_nextId = 100;
};

namespace {

QJsonObject json(const char *text)
{
    return QJsonDocument::fromJson(QByteArray(text)).object();
}

QJsonObject updated(const QString &uri)
{
    return {{QStringLiteral("method"), QStringLiteral("notifications/resources/updated")},
            {QStringLiteral("params"), QJsonObject{{QStringLiteral("uri"), uri}}}};
}

QJsonObject logAt(const QString &level, const QString &text)
{
    return {{QStringLiteral("method"), QStringLiteral("notifications/message")},
            {QStringLiteral("params"),
             QJsonObject{{QStringLiteral("level"), level}, {QStringLiteral("data"), text}}}};
}

QJsonValue subscriptionIdOf(const QJsonObject &message)
{
    return message.value(QLatin1String("params"))
        .toObject()
        .value(QLatin1String("_meta"))
        .toObject()
        .value(QLatin1String("io.modelcontextprotocol/subscriptionId"));
}

QList<QByteArray> headersFor(const QByteArray &user, const QByteArray &method, const QByteArray &name = {})
{
    QList<QByteArray> headers{"Authorization: Bearer " + user, "Accept: application/json, text/event-stream",
                              "Content-Type: application/json", "MCP-Protocol-Version: 2026-07-28",
                              "Mcp-Method: " + method};
    if (!name.isEmpty())
        headers.append("Mcp-Name: " + name);
    return headers;
}

QJsonObject metaWith(const QString &logLevel)
{
    QJsonObject meta{
        {QStringLiteral("io.modelcontextprotocol/protocolVersion"), QStringLiteral("2026-07-28")},
        {QStringLiteral("io.modelcontextprotocol/clientCapabilities"), QJsonObject()}};
    if (!logLevel.isEmpty())
        meta.insert(QStringLiteral("io.modelcontextprotocol/logLevel"), logLevel);
    return meta;
}

} // namespace

void tst_ListenHub::init()
{
    restart(16);
}

void tst_ListenHub::restart(int maxListenersPerUser)
{
    m_endpoint.reset();
    HttpConfig config;
    config.maxListenersPerUser = maxListenersPerUser;
    m_endpoint = std::make_unique<UserChildEndpoint>(config);
    m_port = m_endpoint->port;
}

void tst_ListenHub::cleanup()
{
    m_endpoint.reset();
}

QByteArray tst_ListenHub::listen(RawHttpClient &client, const QByteArray &user, const QJsonValue &id,
                                 const QJsonObject &notifications, const QString &logLevel)
{
    const QJsonObject request{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("id"), id},
        {QStringLiteral("method"), QStringLiteral("subscriptions/listen")},
        {QStringLiteral("params"), QJsonObject{{QStringLiteral("notifications"), notifications},
                                               {QStringLiteral("_meta"), metaWith(logLevel)}}}};
    client.send("POST", "/mcp", headersFor(user, "subscriptions/listen"), encode(request));
    const RawResponse head = client.read();
    if (head.status != 200 || !head.header("content-type").startsWith("text/event-stream"))
        return head.body; // an answer, not a stream
    return client.readStream("subscriptions/acknowledged");
}

RawResponse tst_ListenHub::call(RawHttpClient &client, const QByteArray &user, int id, const QString &tool,
                                const QJsonObject &arguments, const QString &logLevel)
{
    const QJsonObject request{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("id"), id},
        {QStringLiteral("method"), QStringLiteral("tools/call")},
        {QStringLiteral("params"), QJsonObject{{QStringLiteral("name"), tool},
                                               {QStringLiteral("arguments"), arguments},
                                               {QStringLiteral("_meta"), metaWith(logLevel)}}}};
    return client.exchange("POST", "/mcp", headersFor(user, "tools/call", tool.toUtf8()), encode(request));
}

void tst_ListenHub::emitFromChild(const QJsonArray &notifications)
{
    RawHttpClient client(m_port);
    const RawResponse done = call(client, "alice", ++m_nextId, QStringLiteral("emit"),
                                  {{QStringLiteral("notifications"), notifications}});
    QCOMPARE(done.status, 200);
}

QJsonObject tst_ListenHub::childState()
{
    RawHttpClient client(m_port);
    const RawResponse state = call(client, "alice", ++m_nextId, QStringLiteral("state"), {});
    return QJsonDocument::fromJson(toolText(QJsonDocument::fromJson(state.body).object()).toUtf8()).object();
}

void tst_ListenHub::acknowledgesWhatTheChildSupports()
{
    RawHttpClient client(m_port);
    const QByteArray stream = listen(
        client, "alice", QStringLiteral("listen:0"),
        json(
            R"({"toolsListChanged":true,"promptsListChanged":true,"resourceSubscriptions":["urn:test:a"]})"));
    const QList<QJsonObject> messages = sseMessages(stream);
    QVERIFY2(!messages.isEmpty(), stream.constData());
    const QJsonObject ack = messages.first();
    QCOMPARE(ack.value(QLatin1String("method")).toString(),
             QStringLiteral("notifications/subscriptions/acknowledged"));
    // The test server declares tools.listChanged and resources.subscribe, no prompts.
    QCOMPARE(ack.value(QLatin1String("params")).toObject().value(QLatin1String("notifications")).toObject(),
             json(R"({"toolsListChanged":true,"resourceSubscriptions":["urn:test:a"]})"));
    QCOMPARE(subscriptionIdOf(ack), QJsonValue(QStringLiteral("listen:0")));
    QTRY_COMPARE(childState().value(QLatin1String("subscriptions")).toArray(),
                 QJsonArray{QStringLiteral("urn:test:a")});
}

void tst_ListenHub::updatesReachOnlyTheStreamsThatAsked()
{
    RawHttpClient first(m_port);
    RawHttpClient second(m_port);
    (void)listen(first, "alice", 1, json(R"({"resourceSubscriptions":["urn:test:a"]})"));
    (void)listen(second, "alice", 2,
                 json(R"({"toolsListChanged":true,"resourceSubscriptions":["urn:test:b"]})"));
    emitFromChild(
        {updated(QStringLiteral("urn:test:a")),
         QJsonObject{{QStringLiteral("method"), QStringLiteral("notifications/tools/list_changed")}},
         updated(QStringLiteral("urn:test:b"))});

    const QList<QJsonObject> toFirst = sseMessages(first.readStream("urn:test:a"));
    QCOMPARE(toFirst.size(), 1);
    QCOMPARE(toFirst.first().value(QLatin1String("params")).toObject().value(QLatin1String("uri")).toString(),
             QStringLiteral("urn:test:a"));
    QCOMPARE(subscriptionIdOf(toFirst.first()), QJsonValue(1));

    const QList<QJsonObject> toSecond = sseMessages(second.readStream("urn:test:b"));
    QCOMPARE(toSecond.size(), 2);
    QCOMPARE(toSecond.at(0).value(QLatin1String("method")).toString(),
             QStringLiteral("notifications/tools/list_changed"));
    QCOMPARE(toSecond.at(1).value(QLatin1String("params")).toObject().value(QLatin1String("uri")).toString(),
             QStringLiteral("urn:test:b"));
    QCOMPARE(subscriptionIdOf(toSecond.at(0)), QJsonValue(2));
    // The first stream heard nothing of b.
    emitFromChild({updated(QStringLiteral("urn:test:a"))});
    const QByteArray rest = first.readStream("urn:test:a");
    QVERIFY2(!rest.contains("urn:test:b") && !rest.contains("list_changed"), rest.constData());
}

void tst_ListenHub::subscriptionsAreCountedAcrossListeners()
{
    auto first = std::make_unique<RawHttpClient>(m_port);
    auto second = std::make_unique<RawHttpClient>(m_port);
    (void)listen(*first, "alice", 1, json(R"({"resourceSubscriptions":["urn:test:a","urn:test:b"]})"));
    (void)listen(*second, "alice", 2, json(R"({"resourceSubscriptions":["urn:test:a"]})"));
    // Subscribed once each, though a has two listeners.
    QTRY_COMPARE(childState().value(QLatin1String("subscriptions")).toArray(),
                 QJsonArray({QStringLiteral("urn:test:a"), QStringLiteral("urn:test:b")}));

    first.reset(); // its stream closes: b has no listener left, a still has one
    QTRY_COMPARE(childState().value(QLatin1String("subscriptions")).toArray(),
                 QJsonArray{QStringLiteral("urn:test:a")});
    second.reset();
    QTRY_COMPARE(childState().value(QLatin1String("subscriptions")).toArray(), QJsonArray());
}

void tst_ListenHub::eachStreamGetsItsOwnLogLevel()
{
    auto warnings = std::make_unique<RawHttpClient>(m_port);
    auto debug = std::make_unique<RawHttpClient>(m_port);
    RawHttpClient none(m_port);
    (void)listen(*warnings, "alice", 1, QJsonObject(), QStringLiteral("warning"));
    QTRY_COMPARE(childState().value(QLatin1String("logLevel")).toString(), QStringLiteral("warning"));
    (void)listen(*debug, "alice", 2, QJsonObject(), QStringLiteral("debug"));
    (void)listen(none, "alice", 3, json(R"({"toolsListChanged":true})"));
    // The lowest level asked for.
    QTRY_COMPARE(childState().value(QLatin1String("logLevel")).toString(), QStringLiteral("debug"));

    emitFromChild(
        {logAt(QStringLiteral("info"), QStringLiteral("first")),
         logAt(QStringLiteral("error"), QStringLiteral("second")),
         QJsonObject{{QStringLiteral("method"), QStringLiteral("notifications/tools/list_changed")}}});
    const QList<QJsonObject> toDebug = sseMessages(debug->readStream("second"));
    QCOMPARE(toDebug.size(), 2);
    QCOMPARE(subscriptionIdOf(toDebug.at(0)), QJsonValue(2));
    const QList<QJsonObject> toWarnings = sseMessages(warnings->readStream("second"));
    QCOMPARE(toWarnings.size(), 1);
    QCOMPARE(
        toWarnings.first().value(QLatin1String("params")).toObject().value(QLatin1String("data")).toString(),
        QStringLiteral("second"));
    // A stream without logLevel gets no log messages, only what it asked for.
    const QList<QJsonObject> toNone = sseMessages(none.readStream("list_changed"));
    QCOMPARE(toNone.size(), 1);
    QCOMPARE(toNone.first().value(QLatin1String("method")).toString(),
             QStringLiteral("notifications/tools/list_changed"));

    // The debug listener goes: the child's level rises to what is left.
    debug.reset();
    QTRY_COMPARE(childState().value(QLatin1String("logLevel")).toString(), QStringLiteral("warning"));
}

void tst_ListenHub::requestGetsLogsOnlyWhenItAsks()
{
    RawHttpClient client(m_port);
    // notify writes one notifications/message (info) before its result.
    const RawResponse quiet =
        call(client, "alice", 1, QStringLiteral("notify"), {{QStringLiteral("count"), 0}});
    QCOMPARE(quiet.status, 200);
    QVERIFY2(!quiet.body.contains("notifications/message"), quiet.body.constData());

    const RawResponse errorsOnly = call(client, "alice", 2, QStringLiteral("notify"),
                                        {{QStringLiteral("count"), 0}}, QStringLiteral("error"));
    QCOMPARE(errorsOnly.status, 200);
    QVERIFY2(!errorsOnly.body.contains("notifications/message"), errorsOnly.body.constData());

    client.send("POST", "/mcp", headersFor("alice", "tools/call", "notify"),
                encode(QJsonObject{
                    {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                    {QStringLiteral("id"), 3},
                    {QStringLiteral("method"), QStringLiteral("tools/call")},
                    {QStringLiteral("params"),
                     QJsonObject{{QStringLiteral("name"), QStringLiteral("notify")},
                                 {QStringLiteral("arguments"), QJsonObject{{QStringLiteral("count"), 0}}},
                                 {QStringLiteral("_meta"), metaWith(QStringLiteral("info"))}}}}));
    const RawResponse head = client.read();
    QCOMPARE(head.status, 200);
    QVERIFY(head.header("content-type").startsWith("text/event-stream"));
    const QByteArray raw = client.readStream("\"result\"");
    const QList<QJsonObject> messages = sseMessages(raw);
    QVERIFY2(messages.size() == 2, raw.constData());
    QCOMPARE(messages.at(0).value(QLatin1String("method")).toString(),
             QStringLiteral("notifications/message"));
    QCOMPARE(messages.at(1).value(QLatin1String("id")).toInt(), 3);
    // Nobody asks any more: the child keeps its logs.
    QTRY_COMPARE(childState().value(QLatin1String("logLevel")).toString(), QStringLiteral("emergency"));
}

void tst_ListenHub::listenersPerUserAreBounded()
{
    restart(1);
    RawHttpClient first(m_port);
    QVERIFY(!sseMessages(listen(first, "alice", 1, QJsonObject())).isEmpty());
    RawHttpClient second(m_port);
    const QJsonObject refused = QJsonDocument::fromJson(listen(second, "alice", 2, QJsonObject())).object();
    QCOMPARE(refused.value(QLatin1String("id")).toInt(), 2);
    QCOMPARE(refused.value(QLatin1String("error")).toObject().value(QLatin1String("code")).toInt(),
             int(JsonRpcError::LimitReached));
    // Another user has a cap of their own.
    RawHttpClient bob(m_port);
    QVERIFY(!sseMessages(listen(bob, "bob", 1, QJsonObject())).isEmpty());
}

void tst_ListenHub::resourceSubscriptionsPerListenAreBounded()
{
    // docs/limits.md: at most 1000 distinct URIs in one listen.
    QJsonArray uris;
    for (int i = 0; i <= 1000; ++i)
        uris.append(QStringLiteral("urn:test:%1").arg(i));
    RawHttpClient client(m_port);
    const QJsonObject refused =
        QJsonDocument::fromJson(listen(client, "alice", 1, {{QStringLiteral("resourceSubscriptions"), uris}}))
            .object();
    QCOMPARE(refused.value(QLatin1String("id")).toInt(), 1);
    QCOMPARE(refused.value(QLatin1String("error")).toObject().value(QLatin1String("code")).toInt(),
             int(JsonRpcError::LimitReached));
    // Nothing reached the child; one URI fewer is a stream.
    QCOMPARE(childState().value(QLatin1String("subscriptions")).toArray(), QJsonArray());
    uris.removeLast();
    RawHttpClient within(m_port);
    QVERIFY(!sseMessages(listen(within, "alice", 2, {{QStringLiteral("resourceSubscriptions"), uris}}))
                 .isEmpty());
}

void tst_ListenHub::childEndClosesListenersGracefully()
{
    RawHttpClient client(m_port);
    (void)listen(client, "alice", QStringLiteral("s1"), json(R"({"toolsListChanged":true})"));
    RawHttpClient crasher(m_port);
    (void)call(crasher, "alice", 1, QStringLiteral("crash"), {});
    const QList<QJsonObject> messages = sseMessages(client.readStream("\"result\""));
    QCOMPARE(messages.size(), 1);
    QCOMPARE(messages.first().value(QLatin1String("id")).toString(), QStringLiteral("s1"));
    QCOMPARE(messages.first()
                 .value(QLatin1String("result"))
                 .toObject()
                 .value(QLatin1String("_meta"))
                 .toObject()
                 .value(QLatin1String("io.modelcontextprotocol/subscriptionId"))
                 .toString(),
             QStringLiteral("s1"));
}

void tst_ListenHub::tokenExpiryClosesItsListenersGracefully()
{
    // "Bearer alice-brief" is alice with a token that expires a second after it is presented.
    m_endpoint.reset();
    HttpConfig config;
    config.maxListenersPerUser = 16;
    m_endpoint = std::make_unique<UserChildEndpoint>(
        config, [](const QHttpServerRequest &request) -> Result<SessionOwner, AuthFailure> {
            Result<SessionOwner, AuthFailure> owner = fmb::test::bearerIsUser(request);
            if (!owner || owner.value().user != QLatin1String("alice-brief"))
                return owner;
            return SessionOwner{QStringLiteral("alice"), QStringLiteral("grant-alice"),
                                QDateTime::currentDateTimeUtc().addSecs(1)};
        });
    m_port = m_endpoint->port;

    RawHttpClient lasting(m_port);
    (void)listen(lasting, "alice", QStringLiteral("lasting"),
                 json(R"({"resourceSubscriptions":["urn:test:a"]})"));
    RawHttpClient brief(m_port);
    (void)listen(brief, "alice-brief", QStringLiteral("brief"),
                 json(R"({"resourceSubscriptions":["urn:test:b"]})"));
    QTRY_COMPARE(childState().value(QLatin1String("subscriptions")).toArray(),
                 QJsonArray({QStringLiteral("urn:test:a"), QStringLiteral("urn:test:b")}));

    // The brief stream ends with its listen request's result, and the terminal chunk.
    const QByteArray ended = brief.readStream("0\r\n\r\n");
    const QList<QJsonObject> messages = sseMessages(ended);
    QVERIFY2(messages.size() == 1, ended.constData());
    QCOMPARE(messages.first().value(QLatin1String("id")).toString(), QStringLiteral("brief"));
    QVERIFY2(messages.first().contains(QLatin1String("result")), ended.constData());
    QVERIFY2(ended.endsWith("0\r\n\r\n"), ended.constData());
    // Its subscription is gone from the child; the lasting stream still hears a.
    QTRY_COMPARE(childState().value(QLatin1String("subscriptions")).toArray(),
                 QJsonArray{QStringLiteral("urn:test:a")});
    emitFromChild({updated(QStringLiteral("urn:test:a"))});
    const QList<QJsonObject> toLasting = sseMessages(lasting.readStream("urn:test:a"));
    QCOMPARE(toLasting.size(), 1);
    QCOMPARE(subscriptionIdOf(toLasting.first()), QJsonValue(QStringLiteral("lasting")));
}

void tst_ListenHub::discoverAdvertisesWhatIsDelivered()
{
    RawHttpClient client(m_port);
    const QJsonObject request{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("id"), 1},
        {QStringLiteral("method"), QStringLiteral("server/discover")},
        {QStringLiteral("params"), QJsonObject{{QStringLiteral("_meta"), metaWith({})}}}};
    const RawResponse answer =
        client.exchange("POST", "/mcp", headersFor("alice", "server/discover"), encode(request));
    const QJsonObject capabilities = QJsonDocument::fromJson(answer.body)
                                         .object()
                                         .value(QLatin1String("result"))
                                         .toObject()
                                         .value(QLatin1String("capabilities"))
                                         .toObject();
    QCOMPARE(capabilities.value(QLatin1String("tools")).toObject(), json(R"({"listChanged":true})"));
    QCOMPARE(capabilities.value(QLatin1String("resources")).toObject(), json(R"({"subscribe":true})"));
    QVERIFY(capabilities.contains(QLatin1String("logging")));
}

QTEST_GUILESS_MAIN(tst_ListenHub)
#include "tst_listenhub.moc"
