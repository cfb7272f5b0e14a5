// The admin protocol's pure parts: request parsing (malformed input
// included), encoding, line framing, the activity throttle, evict target
// resolution, targets and default paths. No event loop.
#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include "admin/AdminPaths.h"
#include "admin/AdminProtocol.h"
#include "admin/AdminTarget.h"
#include "admin/EventThrottle.h"

using namespace fmb;

Q_DECLARE_METATYPE(fmb::EvictSelector)

class tst_AdminProtocol : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void parseRequest_data();
    void parseRequest();
    void evictSelectors_data();
    void evictSelectors();
    void replyRoundTrip();
    void errorRoundTrip();
    void eventRoundTrip();
    void invalidMessages_data();
    void invalidMessages();
    void lineReader();
    void lineReaderOverflow_data();
    void lineReaderOverflow();
    void sessionInfoJson();
    void sessionInfoNoToken();
    void daemonInfoCounters();
    void sessionInfoKind();
    void sessionListJson();
    void evictSelectorWire_data();
    void evictSelectorWire();
    void daemonInfoJson();
    void revokeOutcomeJson();
    void brokerListJson();
    void resolveEvict_data();
    void resolveEvict();
    void throttle();
    void sshSpec_data();
    void sshSpec();
    void settingsString();
    void defaultSocketPath_data();
    void defaultSocketPath();
};

void tst_AdminProtocol::parseRequest_data()
{
    QTest::addColumn<QByteArray>("line");
    QTest::addColumn<QString>("errorCode"); // empty: good
    QTest::addColumn<QJsonValue>("id");

    const QJsonValue null(QJsonValue::Null);
    QTest::newRow("info, numeric id")
        << QByteArray(R"({"v":1,"id":7,"cmd":"info"})") << QString() << QJsonValue(7);
    QTest::newRow("list, string id") << QByteArray(R"({"v":1,"id":"a","cmd":"list"})") << QString()
                                     << QJsonValue(QStringLiteral("a"));
    QTest::newRow("subscribe, no id") << QByteArray(R"({"v":1,"cmd":"subscribe"})") << QString() << null;
    QTest::newRow("unsubscribe") << QByteArray(R"({"v":1,"id":1,"cmd":"unsubscribe"})") << QString()
                                 << QJsonValue(1);
    QTest::newRow("not JSON") << QByteArray("{\"v\":1,") << QStringLiteral("bad_json") << null;
    QTest::newRow("binary garbage") << QByteArray("\xff\xfe\x00\x01", 4) << QStringLiteral("bad_json")
                                    << null;
    QTest::newRow("JSON array") << QByteArray("[1,2]") << QStringLiteral("bad_request") << null;
    QTest::newRow("JSON string") << QByteArray("\"info\"") << QStringLiteral("bad_json") << null;
    QTest::newRow("id is an object") << QByteArray(R"({"v":1,"id":{},"cmd":"info"})")
                                     << QStringLiteral("bad_request") << null;
    QTest::newRow("missing v") << QByteArray(R"({"id":3,"cmd":"info"})") << QStringLiteral("missing_field")
                               << QJsonValue(3);
    QTest::newRow("v 2") << QByteArray(R"({"v":2,"id":3,"cmd":"info"})")
                         << QStringLiteral("unsupported_version") << QJsonValue(3);
    QTest::newRow("v as string") << QByteArray(R"({"v":"1","id":3,"cmd":"info"})")
                                 << QStringLiteral("unsupported_version") << QJsonValue(3);
    QTest::newRow("missing cmd") << QByteArray(R"({"v":1,"id":4})") << QStringLiteral("missing_field")
                                 << QJsonValue(4);
    QTest::newRow("cmd not a string")
        << QByteArray(R"({"v":1,"id":4,"cmd":5})") << QStringLiteral("bad_request") << QJsonValue(4);
    QTest::newRow("unknown cmd") << QByteArray(R"({"v":1,"id":5,"cmd":"reboot"})")
                                 << QStringLiteral("unknown_command") << QJsonValue(5);
    QTest::newRow("evict without selector")
        << QByteArray(R"({"v":1,"id":6,"cmd":"evict"})") << QStringLiteral("missing_field") << QJsonValue(6);
    QTest::newRow("revoke a user") << QByteArray(R"({"v":1,"id":8,"cmd":"revoke","user":"alice"})")
                                   << QString() << QJsonValue(8);
    QTest::newRow("revoke without user")
        << QByteArray(R"({"v":1,"id":8,"cmd":"revoke"})") << QStringLiteral("missing_field") << QJsonValue(8);
    QTest::newRow("revoke, user empty") << QByteArray(R"({"v":1,"id":8,"cmd":"revoke","user":""})")
                                        << QStringLiteral("bad_request") << QJsonValue(8);
    QTest::newRow("revoke, user a number") << QByteArray(R"({"v":1,"id":8,"cmd":"revoke","user":7})")
                                           << QStringLiteral("bad_request") << QJsonValue(8);
    QTest::newRow("brokers (issue 14)")
        << QByteArray(R"({"v":1,"id":9,"cmd":"brokers"})") << QString() << QJsonValue(9);
}

void tst_AdminProtocol::parseRequest()
{
    QFETCH(QByteArray, line);
    QFETCH(QString, errorCode);
    QFETCH(QJsonValue, id);
    const ParsedAdminRequest parsed = parseAdminRequest(line);
    QCOMPARE(parsed.problem.code, errorCode);
    QCOMPARE(parsed.ok(), errorCode.isEmpty());
    if (!parsed.ok())
        QVERIFY2(!parsed.problem.message.isEmpty(), "every error says why");
    QCOMPARE(parsed.request.id, id);
}

void tst_AdminProtocol::evictSelectors_data()
{
    QTest::addColumn<QByteArray>("line");
    QTest::addColumn<QString>("errorCode");
    QTest::addColumn<QStringList>("sessions");
    QTest::addColumn<QString>("user");
    QTest::addColumn<bool>("all");

    QTest::newRow("several ids") << QByteArray(R"({"v":1,"id":1,"cmd":"evict","sessions":["aa","bb"]})")
                                 << QString() << QStringList{QStringLiteral("aa"), QStringLiteral("bb")}
                                 << QString() << false;
    QTest::newRow("one id") << QByteArray(R"({"v":1,"id":1,"cmd":"evict","session":"aa"})") << QString()
                            << QStringList{QStringLiteral("aa")} << QString() << false;
    QTest::newRow("user") << QByteArray(R"({"v":1,"id":1,"cmd":"evict","user":"alice"})") << QString()
                          << QStringList() << QStringLiteral("alice") << false;
    QTest::newRow("all") << QByteArray(R"({"v":1,"id":1,"cmd":"evict","all":true})") << QString()
                         << QStringList() << QString() << true;
    QTest::newRow("all false") << QByteArray(R"({"v":1,"id":1,"cmd":"evict","all":false})")
                               << QStringLiteral("bad_request") << QStringList() << QString() << false;
    QTest::newRow("sessions not an array")
        << QByteArray(R"({"v":1,"id":1,"cmd":"evict","sessions":"aa"})") << QStringLiteral("bad_request")
        << QStringList() << QString() << false;
    QTest::newRow("sessions empty") << QByteArray(R"({"v":1,"id":1,"cmd":"evict","sessions":[]})")
                                    << QStringLiteral("missing_field") << QStringList() << QString() << false;
    QTest::newRow("sessions with a number")
        << QByteArray(R"({"v":1,"id":1,"cmd":"evict","sessions":["a",1]})") << QStringLiteral("bad_request")
        << QStringList() << QString() << false;
    QTest::newRow("user empty") << QByteArray(R"({"v":1,"id":1,"cmd":"evict","user":""})")
                                << QStringLiteral("bad_request") << QStringList() << QString() << false;
    QTest::newRow("two selectors") << QByteArray(R"({"v":1,"id":1,"cmd":"evict","user":"a","all":true})")
                                   << QStringLiteral("bad_request") << QStringList() << QString() << false;
}

void tst_AdminProtocol::evictSelectors()
{
    QFETCH(QByteArray, line);
    QFETCH(QString, errorCode);
    QFETCH(QStringList, sessions);
    QFETCH(QString, user);
    QFETCH(bool, all);
    const ParsedAdminRequest parsed = parseAdminRequest(line);
    QCOMPARE(parsed.problem.code, errorCode);
    if (!parsed.ok())
        return;
    QCOMPARE(parsed.request.command, AdminCommand::Evict);
    QCOMPARE(parsed.request.sessions, sessions);
    QCOMPARE(parsed.request.user, user);
    QCOMPARE(parsed.request.all, all);
}

void tst_AdminProtocol::replyRoundTrip()
{
    const QByteArray line = encodeAdminResult(42, QJsonObject{{QStringLiteral("x"), 1}});
    QVERIFY(line.endsWith('\n'));
    QCOMPARE(line.count('\n'), 1);
    const AdminMessage message = parseAdminMessage(line.chopped(1));
    QCOMPARE(message.kind, AdminMessage::Kind::Reply);
    QVERIFY(message.ok);
    QCOMPARE(message.id, QJsonValue(42));
    QCOMPARE(message.result.toObject().value(QLatin1String("x")), QJsonValue(1));
    QCOMPARE(message.object.value(QLatin1String("v")), QJsonValue(1));

    const ParsedAdminRequest request = parseAdminRequest(
        encodeAdminRequest(9, QStringLiteral("evict"), {{QStringLiteral("user"), QStringLiteral("bob")}}));
    QVERIFY(request.ok());
    QCOMPARE(request.request.id, QJsonValue(9));
    QCOMPARE(request.request.user, QStringLiteral("bob"));
}

void tst_AdminProtocol::errorRoundTrip()
{
    const AdminMessage message = parseAdminMessage(
        encodeAdminError(QStringLiteral("x"), QStringLiteral("unknown_command"), QStringLiteral("nope")));
    QCOMPARE(message.kind, AdminMessage::Kind::Reply);
    QVERIFY(!message.ok);
    QCOMPARE(message.id, QJsonValue(QStringLiteral("x")));
    QCOMPARE(message.error.code, QStringLiteral("unknown_command"));
    QCOMPARE(message.error.message, QStringLiteral("nope"));
}

void tst_AdminProtocol::eventRoundTrip()
{
    SessionInfo info;
    info.id = QStringLiteral("abc");
    info.user = QStringLiteral("local");
    const AdminMessage message = parseAdminMessage(encodeAdminEvent(
        QString(AdminEventName::SessionEnded),
        {{QStringLiteral("session"), info.toJson()}, {QStringLiteral("reason"), QStringLiteral("idle")}}));
    QCOMPARE(message.kind, AdminMessage::Kind::Event);
    QCOMPARE(message.event, QStringLiteral("session.ended"));
    QCOMPARE(message.object.value(QLatin1String("reason")).toString(), QStringLiteral("idle"));
    QCOMPARE(SessionInfo::fromJson(message.object.value(QLatin1String("session")).toObject())->id, info.id);
}

void tst_AdminProtocol::invalidMessages_data()
{
    QTest::addColumn<QByteArray>("line");
    QTest::newRow("not JSON") << QByteArray("hello");
    QTest::newRow("array") << QByteArray("[]");
    QTest::newRow("other version") << QByteArray(R"({"v":2,"id":1,"ok":true})");
    QTest::newRow("reply without ok") << QByteArray(R"({"v":1,"id":1})");
}

void tst_AdminProtocol::invalidMessages()
{
    QFETCH(QByteArray, line);
    const AdminMessage message = parseAdminMessage(line);
    QCOMPARE(message.kind, AdminMessage::Kind::Invalid);
    QVERIFY(!message.error.message.isEmpty());
}

void tst_AdminProtocol::lineReader()
{
    AdminLineReader reader(100);
    AdminLineReader::Chunk chunk = reader.feed("{\"a\":1}\n{\"b\"");
    QCOMPARE(chunk.lines, QList<QByteArray>{QByteArray("{\"a\":1}")});
    QVERIFY(!chunk.overflow);
    chunk = reader.feed(":2}\r\n\n\n{\"c\":3}\n");
    QCOMPARE(chunk.lines, (QList<QByteArray>{QByteArray("{\"b\":2}"), QByteArray("{\"c\":3}")}));
    QCOMPARE(reader.buffered(), 0);
}

void tst_AdminProtocol::lineReaderOverflow_data()
{
    QTest::addColumn<QList<QByteArray>>("chunks");
    QTest::addColumn<int>("goodLines");
    const QByteArray big(101, 'x');
    QTest::newRow("one long line with newline") << QList<QByteArray>{big + '\n'} << 0;
    QTest::newRow("long line without newline") << QList<QByteArray>{big} << 0;
    QTest::newRow("grows past the limit across chunks")
        << QList<QByteArray>{QByteArray(60, 'x'), QByteArray(60, 'y')} << 0;
    QTest::newRow("good line, then a long one") << QList<QByteArray>{"{}\n" + big + "\n{}\n"} << 1;
    QTest::newRow("exactly the limit is fine") << QList<QByteArray>{QByteArray(100, 'x') + '\n', big} << 1;
}

void tst_AdminProtocol::lineReaderOverflow()
{
    QFETCH(QList<QByteArray>, chunks);
    QFETCH(int, goodLines);
    AdminLineReader reader(100);
    int lines = 0;
    bool overflow = false;
    for (const QByteArray &bytes : chunks) {
        const AdminLineReader::Chunk chunk = reader.feed(bytes);
        lines += int(chunk.lines.size());
        overflow = overflow || chunk.overflow;
    }
    QVERIFY(overflow);
    QCOMPARE(lines, goodLines);
    QVERIFY(reader.overflowed());
    QVERIFY(reader.buffered() <= 100);
    // Nothing is taken after an overflow.
    QCOMPARE(reader.feed("{}\n").lines.size(), 0);
}

void tst_AdminProtocol::sessionInfoJson()
{
    SessionInfo info;
    info.id = QStringLiteral("0123456789abcdef");
    info.user = QStringLiteral("alice");
    info.client = QStringLiteral("claude-code");
    info.state = QStringLiteral("ready");
    info.createdMs = 1767225600123; // 2026-01-01T00:00:00.123Z
    info.lastActiveMs = 1767225660000;
    info.idleMs = 5000;
    info.active = true;
    info.tokenExpiresMs = 1767229200000;
    info.childPid = 4242;
    info.pendingRequests = 2;
    const QJsonObject json = info.toJson();
    QCOMPARE(json.value(QLatin1String("created")).toString(), QStringLiteral("2026-01-01T00:00:00.123Z"));
    QCOMPARE(json.value(QLatin1String("idle_seconds")).toInt(), 5);
    QCOMPARE(json.value(QLatin1String("child_pid")).toInt(), 4242);
    QCOMPARE(json.value(QLatin1String("token_expires")).toString(),
             QStringLiteral("2026-01-01T01:00:00.000Z"));
    const std::optional<SessionInfo> back = SessionInfo::fromJson(json);
    QVERIFY(back);
    QCOMPARE(*back, info);
}

void tst_AdminProtocol::sessionInfoNoToken()
{
    SessionInfo info;
    info.id = QStringLiteral("x");
    const QJsonObject json = info.toJson();
    QVERIFY(json.contains(QLatin1String("token_expires")));
    QVERIFY(json.value(QLatin1String("token_expires")).isNull());
    QVERIFY(json.value(QLatin1String("child_pid")).isNull());
    QVERIFY(json.value(QLatin1String("client")).isNull());
    QCOMPARE(SessionInfo::fromJson(json)->tokenExpiresMs, 0);
    QVERIFY(!SessionInfo::fromJson(QJsonObject{}));
}

// "info" carries the activity counters both ways; a daemon that predates them
// (no "counters") reads as all zero, and negative or junk values as zero.
void tst_AdminProtocol::daemonInfoCounters()
{
    DaemonInfo info;
    info.sessions = 3;
    info.counters = ActivityCounters{123456789012, 7, 2, 5};
    const QJsonObject json = info.toJson();
    const QJsonObject counters = json.value(QLatin1String("counters")).toObject();
    QCOMPARE(counters.value(QLatin1String("requests")).toDouble(), 123456789012.0);
    QCOMPARE(counters.value(QLatin1String("refresh_failures")).toInt(), 2);
    QCOMPARE(DaemonInfo::fromJson(json).counters, info.counters);

    QJsonObject old = json;
    old.remove(QLatin1String("counters"));
    QCOMPARE(DaemonInfo::fromJson(old).counters, ActivityCounters{});
    const QJsonObject junk{{QStringLiteral("requests"), -4}, {QStringLiteral("errors"), QStringLiteral("x")}};
    QCOMPARE(ActivityCounters::fromJson(junk), ActivityCounters{});
}

// issue 13: a user child is listed with its kind; an entry from a daemon
// that predates kinds is a session.
void tst_AdminProtocol::sessionInfoKind()
{
    SessionInfo info;
    info.id = QStringLiteral("u");
    info.kind = QStringLiteral("user child");
    info.pendingRequests = 3;
    const QJsonObject json = info.toJson();
    QCOMPARE(json.value(QLatin1String("kind")).toString(), QStringLiteral("user child"));
    QCOMPARE(*SessionInfo::fromJson(json), info);
    QVERIFY(SessionInfo::fromJson(json)->isUserChild());
    QJsonObject old = json;
    old.remove(QLatin1String("kind"));
    QCOMPARE(SessionInfo::fromJson(old)->kind, QStringLiteral("session"));
    QVERIFY(!SessionInfo::fromJson(old)->isUserChild());
}

// What list and subscribe answer, both ways; entries without an id are skipped.
void tst_AdminProtocol::sessionListJson()
{
    SessionInfo a;
    a.id = QStringLiteral("aaaaaaaa");
    a.user = QStringLiteral("alice");
    a.state = QStringLiteral("ready");
    SessionInfo b;
    b.id = QStringLiteral("bbbbbbbb");
    b.user = QStringLiteral("bob");
    b.childPid = 42;
    const QJsonObject result = sessionListToJson({a, b});
    QCOMPARE(result.keys(), QStringList{QStringLiteral("sessions")});
    QCOMPARE(result.value(QLatin1String("sessions")).toArray(), (QJsonArray{a.toJson(), b.toJson()}));
    QCOMPARE(sessionListFromJson(result), (QList<SessionInfo>{a, b}));

    QJsonArray withJunk{a.toJson(), QJsonObject{{QStringLiteral("user"), QStringLiteral("no id")}}, 7};
    QCOMPARE(sessionListFromJson(QJsonObject{{QStringLiteral("sessions"), withJunk}}), QList<SessionInfo>{a});
    QCOMPARE(sessionListFromJson(QJsonObject{}), QList<SessionInfo>{});
    QCOMPARE(sessionListFromJson(QJsonValue()), QList<SessionInfo>{});
}

// The typed evict call puts on the wire what brokerctl and the console wrote
// by hand before (issue 12: the protocol stays as it is).
void tst_AdminProtocol::evictSelectorWire_data()
{
    QTest::addColumn<EvictSelector>("selector");
    QTest::addColumn<QByteArray>("line");

    QTest::newRow("ids") << EvictSelector::ofSessions(
                                {QStringLiteral("abcdef12"), QStringLiteral("0123456789")})
                         << QByteArray(R"({"cmd":"evict","id":3,"sessions":["abcdef12","0123456789"],"v":1})"
                                       "\n");
    QTest::newRow("user") << EvictSelector::ofUser(QStringLiteral("alice"))
                          << QByteArray(R"({"cmd":"evict","id":3,"user":"alice","v":1})"
                                        "\n");
    QTest::newRow("all") << EvictSelector::everything()
                         << QByteArray(R"({"all":true,"cmd":"evict","id":3,"v":1})"
                                       "\n");
}

void tst_AdminProtocol::evictSelectorWire()
{
    QFETCH(EvictSelector, selector);
    QFETCH(QByteArray, line);

    const QByteArray sent = encodeAdminRequest(3, QStringLiteral("evict"), selector.toJson());
    QCOMPARE(sent, line);
    const ParsedAdminRequest parsed = parseAdminRequest(QByteArrayView(sent).chopped(1));
    QVERIFY2(parsed.ok(), qPrintable(parsed.problem.message));
    QCOMPARE(parsed.request.command, AdminCommand::Evict);
    QCOMPARE(parsed.request.sessions, selector.sessions);
    QCOMPARE(parsed.request.user, selector.user);
    QCOMPARE(parsed.request.all, selector.all);
}

void tst_AdminProtocol::revokeOutcomeJson()
{
    const RevokeOutcome outcome{QStringLiteral("alice"), 2, 3, 8, 3};
    const QJsonObject json = outcome.toJson();
    QCOMPARE(json.value(QLatin1String("broker_tokens")).toInt(), 8);
    QCOMPARE(json.value(QLatin1String("upstream_tokens")).toInt(), 3);
    QCOMPARE(RevokeOutcome::fromJson(json), outcome);
    const ParsedAdminRequest parsed =
        parseAdminRequest(QByteArrayView(encodeAdminRequest(1, QStringLiteral("revoke"),
                                                            {{QStringLiteral("user"), outcome.user}}))
                              .chopped(1));
    QVERIFY2(parsed.ok(), qPrintable(parsed.problem.message));
    QCOMPARE(parsed.request.command, AdminCommand::Revoke);
    QCOMPARE(parsed.request.user, outcome.user);
    QCOMPARE(adminCommandName(parsed.request.command), QStringLiteral("revoke"));
}

// Issue 14: "brokers" answers one object per broker; what goes out comes back.
void tst_AdminProtocol::brokerListJson()
{
    const ParsedAdminRequest parsed = parseAdminRequest(encodeAdminRequest(3, QStringLiteral("brokers")));
    QVERIFY(parsed.ok());
    QCOMPARE(adminCommandName(parsed.request.command), QStringLiteral("brokers"));

    BrokerStatus up;
    up.nodeId = QStringLiteral("web1");
    up.host = QStringLiteral("host1");
    up.pid = 42;
    up.listenUrl = QStringLiteral("http://127.0.0.1:8080");
    up.startedMs = 1767225600000;
    up.heartbeatMs = 1767225605000;
    up.heartbeatAgeMs = 1200;
    up.staleAfterMs = 15000;
    up.sessions = 3;
    up.userChildren = 1;
    up.self = true;
    BrokerStatus gone = up;
    gone.nodeId = QStringLiteral("web2");
    gone.heartbeatAgeMs = 60000;
    gone.stale = true;
    gone.self = false;
    BrokerStatus stopped = up;
    stopped.nodeId = QStringLiteral("web3");
    stopped.stoppedMs = 1767225609000;
    stopped.self = false;
    const BrokerList list{QStringLiteral("database"), {up, gone, stopped}};
    const QJsonObject json = list.toJson();
    QCOMPARE(json.value(QLatin1String("source")).toString(), QStringLiteral("database"));
    const QJsonObject first = json.value(QLatin1String("brokers")).toArray().at(0).toObject();
    QCOMPARE(first.value(QLatin1String("node_id")).toString(), QStringLiteral("web1"));
    QCOMPARE(first.value(QLatin1String("heartbeat_age_ms")).toInteger(), qint64(1200));
    QCOMPARE(first.value(QLatin1String("stale")).toBool(), false);
    QVERIFY(first.value(QLatin1String("stopped")).isNull());
    QCOMPARE(first.value(QLatin1String("heartbeat")).toString(), QStringLiteral("2026-01-01T00:00:05.000Z"));

    const BrokerList back = BrokerList::fromJson(json);
    QCOMPARE(back.source, list.source);
    QCOMPARE(back.brokers.size(), 3);
    QCOMPARE(back.brokers.at(0), up);
    QCOMPARE(back.brokers.at(1), gone);
    QCOMPARE(back.brokers.at(2), stopped);
}

void tst_AdminProtocol::daemonInfoJson()
{
    DaemonInfo info;
    info.version = QStringLiteral("0.1.0");
    info.nodeId = QStringLiteral("web1-8080");
    info.listenUrl = QStringLiteral("http://127.0.0.1:8080");
    info.authMode = QStringLiteral("none");
    info.sessions = 3;
    info.startedMs = 1767225600000;
    const DaemonInfo back = DaemonInfo::fromJson(info.toJson());
    QCOMPARE(back.version, info.version);
    QCOMPARE(back.nodeId, QStringLiteral("web1-8080"));
    QCOMPARE(back.listenUrl, info.listenUrl);
    QCOMPARE(back.sessions, 3);
    QCOMPARE(back.startedMs, info.startedMs);
    QCOMPARE(back.refreshLeadSeconds, 300);
}

void tst_AdminProtocol::resolveEvict_data()
{
    QTest::addColumn<QStringList>("asked");
    QTest::addColumn<QStringList>("evicted");
    QTest::addColumn<QStringList>("notFound");
    QTest::addColumn<QStringList>("ambiguous");
    const QString a = QStringLiteral("aaaaaa111111");
    const QString b = QStringLiteral("aaaaaa222222");
    const QString c = QStringLiteral("cccccc333333");
    Q_UNUSED(b)
    QTest::newRow("full id") << QStringList{c} << QStringList{c} << QStringList() << QStringList();
    QTest::newRow("unique prefix") << QStringList{QStringLiteral("cccccc")} << QStringList{c} << QStringList()
                                   << QStringList();
    QTest::newRow("prefix too short") << QStringList{QStringLiteral("ccc")} << QStringList()
                                      << QStringList{QStringLiteral("ccc")} << QStringList();
    QTest::newRow("ambiguous prefix") << QStringList{QStringLiteral("aaaaaa")} << QStringList()
                                      << QStringList() << QStringList{QStringLiteral("aaaaaa")};
    QTest::newRow("unknown and known") << QStringList{QStringLiteral("zzzzzzzz"), a} << QStringList{a}
                                       << QStringList{QStringLiteral("zzzzzzzz")} << QStringList();
    QTest::newRow("same twice") << QStringList{a, QStringLiteral("aaaaaa1")} << QStringList{a}
                                << QStringList() << QStringList();
    // Issue 14: ids carry a node id; the log names them by their random part.
    const QString prefixed = QStringLiteral("broker-a-") + QString(48, QLatin1Char('d'));
    QTest::newRow("the logged part of a node-prefixed id")
        << QStringList{QStringLiteral("dddddddd")} << QStringList{prefixed} << QStringList() << QStringList();
    QTest::newRow("a node-prefixed id's prefix") << QStringList{QStringLiteral("broker-a-ddd")}
                                                 << QStringList{prefixed} << QStringList() << QStringList();
}

void tst_AdminProtocol::resolveEvict()
{
    QFETCH(QStringList, asked);
    QFETCH(QStringList, evicted);
    QFETCH(QStringList, notFound);
    QFETCH(QStringList, ambiguous);
    const QStringList live = {QStringLiteral("aaaaaa111111"), QStringLiteral("aaaaaa222222"),
                              QStringLiteral("cccccc333333"),
                              QStringLiteral("broker-a-") + QString(48, QLatin1Char('d'))};
    const EvictOutcome outcome = resolveEvictTargets(asked, live);
    QCOMPARE(outcome.evicted, evicted);
    QCOMPARE(outcome.notFound, notFound);
    QCOMPARE(outcome.ambiguous, ambiguous);
    const EvictOutcome back = EvictOutcome::fromJson(outcome.toJson());
    QCOMPARE(back.evicted, evicted);
    QCOMPARE(back.notFound, notFound);
}

void tst_AdminProtocol::throttle()
{
    EventThrottle throttle(1000);
    const QString s1 = QStringLiteral("s1");
    const QString s2 = QStringLiteral("s2");
    QVERIFY(throttle.offer(s1, 0));    // first: at once
    QVERIFY(!throttle.offer(s1, 100)); // within the interval: held
    QVERIFY(!throttle.offer(s1, 200)); // folded into the same one
    QVERIFY(throttle.offer(s2, 300));  // keys are independent
    QVERIFY(throttle.hasHeld());
    QCOMPARE(throttle.msUntilNextDue(300), 700);
    QCOMPARE(throttle.takeDue(999), QStringList());
    QCOMPARE(throttle.takeDue(1000), QStringList{s1});
    QVERIFY(!throttle.hasHeld());
    QCOMPARE(throttle.msUntilNextDue(1000), -1);
    QVERIFY(!throttle.offer(s1, 1500)); // sent at 1000: held again
    throttle.forget(s1);
    QVERIFY(!throttle.hasHeld());
    QVERIFY(throttle.offer(s1, 1600)); // forgotten: at once
}

void tst_AdminProtocol::sshSpec_data()
{
    QTest::addColumn<QString>("spec");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("destination");
    QTest::addColumn<QString>("remote");
    QTest::newRow("host") << QStringLiteral("broker.example.org") << true
                          << QStringLiteral("broker.example.org") << QString();
    QTest::newRow("user@host") << QStringLiteral("ops@broker") << true << QStringLiteral("ops@broker")
                               << QString();
    QTest::newRow("host:path") << QStringLiteral("broker:/run/fmb/admin.sock") << true
                               << QStringLiteral("broker") << QStringLiteral("/run/fmb/admin.sock");
    QTest::newRow("user@host:path") << QStringLiteral("root@127.0.0.1:/tmp/a.sock") << true
                                    << QStringLiteral("root@127.0.0.1") << QStringLiteral("/tmp/a.sock");
    QTest::newRow("ipv6 in brackets") << QStringLiteral("[::1]:/tmp/a.sock") << true
                                      << QStringLiteral("[::1]") << QStringLiteral("/tmp/a.sock");
    QTest::newRow("port is not a path") << QStringLiteral("host:2222") << false << QString() << QString();
    QTest::newRow("option injection")
        << QStringLiteral("-oProxyCommand=x") << false << QString() << QString();
    QTest::newRow("empty") << QString() << false << QString() << QString();
    QTest::newRow("space in host") << QStringLiteral("a b") << false << QString() << QString();
    QTest::newRow("no host after user") << QStringLiteral("ops@") << false << QString() << QString();
}

void tst_AdminProtocol::sshSpec()
{
    QFETCH(QString, spec);
    QFETCH(bool, ok);
    QFETCH(QString, destination);
    QFETCH(QString, remote);
    const Result<AdminTarget> target = AdminTarget::fromSshSpec(spec);
    QCOMPARE(target.ok(), ok);
    if (!ok) {
        QVERIFY(target.error().message.contains(QLatin1String("--ssh")));
        return;
    }
    QCOMPARE(target.value().kind, AdminTarget::Kind::Ssh);
    QCOMPARE(target.value().sshDestination, destination);
    QCOMPARE(target.value().socketPath, remote);
    QCOMPARE(AdminTarget::fromSshSpec(target.value().sshSpec()).value(), target.value());
}

void tst_AdminProtocol::settingsString()
{
    const AdminTarget local = AdminTarget::local(QStringLiteral("/run/x.sock"));
    QCOMPARE(AdminTarget::fromSettingsString(local.toSettingsString()).value(), local);
    const AdminTarget ssh = AdminTarget::fromSshSpec(QStringLiteral("ops@h:/r.sock")).value();
    QCOMPARE(ssh.toSettingsString(), QStringLiteral("ssh:ops@h:/r.sock"));
    QCOMPARE(AdminTarget::fromSettingsString(ssh.toSettingsString()).value(), ssh);
    QVERIFY(!AdminTarget::fromSettingsString(QStringLiteral("ftp:x")).ok());
    QVERIFY(!AdminTarget::fromSettingsString(QStringLiteral("local:")).ok());
}

void tst_AdminProtocol::defaultSocketPath_data()
{
    QTest::addColumn<QString>("runtimeDir");
    QTest::addColumn<QString>("expected");
    QTest::newRow("runtime dir") << QStringLiteral("/run/user/1000")
                                 << QStringLiteral("/run/user/1000/forgejo-mcp-broker/admin.sock");
    QTest::newRow("runtime dir with a trailing slash")
        << QStringLiteral("/run/user/1000/")
        << QStringLiteral("/run/user/1000/forgejo-mcp-broker/admin.sock");
    QTest::newRow("no runtime dir") << QString() << QStringLiteral("/tmp/forgejo-mcp-broker-1000/admin.sock");
    QTest::newRow("relative runtime dir is ignored")
        << QStringLiteral("run") << QStringLiteral("/tmp/forgejo-mcp-broker-1000/admin.sock");
}

void tst_AdminProtocol::defaultSocketPath()
{
    QFETCH(QString, runtimeDir);
    QFETCH(QString, expected);
    QProcessEnvironment env;
    if (!runtimeDir.isEmpty())
        env.insert(QStringLiteral("XDG_RUNTIME_DIR"), runtimeDir);
    QCOMPARE(defaultAdminSocketPath(env, 1000), expected);
}

QTEST_GUILESS_MAIN(tst_AdminProtocol)
#include "tst_adminprotocol.moc"
