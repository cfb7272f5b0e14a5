#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include "revision/StatelessTranslation.h"

using namespace fmb;
namespace T = fmb::StatelessTranslation;

// The 2026-07-28 <-> session-revision translation of the per-user child
// (issue 13): what the child gets, and what the client gets back.
class tst_StatelessTranslation : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void childRequestStripsReservedMeta();
    void childRequestWithoutMeta();
    void clientResponse_data();
    void clientResponse();
    void clientProgress();
    void discover();
};

namespace {

QJsonObject object(const QByteArray &json)
{
    return QJsonDocument::fromJson(json).object();
}

StatelessRequest call(const QJsonObject &meta)
{
    StatelessRequest request;
    request.method = QStringLiteral("tools/call");
    request.id = 7;
    request.meta = meta;
    request.params = QJsonObject{{QStringLiteral("name"), QStringLiteral("echo")},
                                 {QStringLiteral("arguments"), QJsonObject{{QStringLiteral("message"), 1}}},
                                 {QStringLiteral("_meta"), meta}};
    return request;
}

const QJsonObject ServerInfo{{QStringLiteral("name"), QStringLiteral("srv")},
                             {QStringLiteral("version"), QStringLiteral("1")}};

} // namespace

void tst_StatelessTranslation::childRequestStripsReservedMeta()
{
    const QJsonObject meta = object(R"({"io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":"info",
        "progressToken":"client-token","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate":"a=b","baggage":"k=v","com.example/x":1})");
    const QJsonObject out = T::childRequest(call(meta), QStringLiteral("fmb-u-1"), QStringLiteral("fmb-p-1"));
    QCOMPARE(out.value(QLatin1String("id")).toString(), QStringLiteral("fmb-u-1"));
    QCOMPARE(out.value(QLatin1String("method")).toString(), QStringLiteral("tools/call"));
    const QJsonObject params = out.value(QLatin1String("params")).toObject();
    QCOMPARE(params.value(QLatin1String("name")).toString(), QStringLiteral("echo"));
    const QJsonObject childMeta = params.value(QLatin1String("_meta")).toObject();
    QCOMPARE(
        childMeta,
        object(
            R"({"progressToken":"fmb-p-1","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                 "tracestate":"a=b","baggage":"k=v","com.example/x":1})"));
}

void tst_StatelessTranslation::childRequestWithoutMeta()
{
    const QJsonObject meta = object(R"({"io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientCapabilities":{}})");
    const QJsonObject out = T::childRequest(call(meta), 3, QJsonValue(QJsonValue::Undefined));
    QCOMPARE(out.value(QLatin1String("id")).toInt(), 3);
    QVERIFY(!out.value(QLatin1String("params")).toObject().contains(QLatin1String("_meta")));
}

void tst_StatelessTranslation::clientResponse_data()
{
    QTest::addColumn<QString>("method");
    QTest::addColumn<QByteArray>("child");
    QTest::addColumn<QByteArray>("expected");
    const QByteArray info = R"("_meta":{"io.modelcontextprotocol/serverInfo":{"name":"srv","version":"1"}})";
    QTest::newRow("tools/call: resultType and serverInfo")
        << QStringLiteral("tools/call")
        << QByteArray(R"({"jsonrpc":"2.0","id":"fmb-u-1","result":{"content":[]}})")
        << QByteArray(R"({"jsonrpc":"2.0","id":7,"result":{"content":[],"resultType":"complete",)" + info +
                      "}}");
    QTest::newRow("tools/list: cacheable, private by default")
        << QStringLiteral("tools/list")
        << QByteArray(R"({"jsonrpc":"2.0","id":"fmb-u-1","result":{"tools":[]}})")
        << QByteArray(R"({"jsonrpc":"2.0","id":7,"result":{"tools":[],"resultType":"complete","ttlMs":0,)"
                      R"("cacheScope":"private",)" +
                      info + "}}");
    QTest::newRow("resources/read: the server's cache hint kept")
        << QStringLiteral("resources/read")
        << QByteArray(
               R"({"jsonrpc":"2.0","id":"fmb-u-1","result":{"contents":[],"ttlMs":5000,"cacheScope":"public",)"
               R"("_meta":{"x":1}}})")
        << QByteArray(
               R"({"jsonrpc":"2.0","id":7,"result":{"contents":[],"resultType":"complete","ttlMs":5000,)"
               R"("cacheScope":"public","_meta":{"x":1,"io.modelcontextprotocol/serverInfo":{"name":"srv","version":"1"}}}})");
    QTest::newRow("error: -32002 with a uri is -32602")
        << QStringLiteral("resources/read")
        << QByteArray(
               R"({"jsonrpc":"2.0","id":"fmb-u-1","error":{"code":-32002,"message":"nf","data":{"uri":"a://b"}}})")
        << QByteArray(
               R"({"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"nf","data":{"uri":"a://b"}}})");
    QTest::newRow("error: the broker's -32002 (backend unavailable) is -32603")
        << QStringLiteral("tools/call")
        << QByteArray(R"({"jsonrpc":"2.0","id":"fmb-u-1","error":{"code":-32002,"message":"gone"}})")
        << QByteArray(R"({"jsonrpc":"2.0","id":7,"error":{"code":-32603,"message":"gone"}})");
    QTest::newRow("error: others pass")
        << QStringLiteral("tools/call")
        << QByteArray(R"({"jsonrpc":"2.0","id":"fmb-u-1","error":{"code":-32001,"message":"exited"}})")
        << QByteArray(R"({"jsonrpc":"2.0","id":7,"error":{"code":-32001,"message":"exited"}})");
}

void tst_StatelessTranslation::clientResponse()
{
    QFETCH(QString, method);
    QFETCH(QByteArray, child);
    QFETCH(QByteArray, expected);
    QCOMPARE(T::clientResponse(method, object(child), 7, ServerInfo), object(expected));
}

void tst_StatelessTranslation::clientProgress()
{
    const QJsonObject out = T::clientProgress(
        object(
            R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"fmb-p-2","progress":1,"total":3}})"),
        42);
    QCOMPARE(
        out,
        object(
            R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":42,"progress":1,"total":3}})"));
}

void tst_StatelessTranslation::discover()
{
    const QJsonObject init =
        object(R"({"protocolVersion":"2025-11-25","serverInfo":{"name":"srv","version":"1"},
        "instructions":"be nice","capabilities":{"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},
        "prompts":{},"logging":{},"completions":{},"tasks":{"list":{}},"experimental":{"x":{}}}})");
    const QJsonObject out =
        T::discoverResult(init, {QStringLiteral("2026-07-28"), QStringLiteral("2025-11-25")});
    QCOMPARE(out,
             object(R"({"supportedVersions":["2026-07-28","2025-11-25"],"resultType":"complete","ttlMs":0,
        "cacheScope":"private","instructions":"be nice",
        "capabilities":{"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},"prompts":{},
        "logging":{},"completions":{},"experimental":{"x":{}}},
        "_meta":{"io.modelcontextprotocol/serverInfo":{"name":"srv","version":"1"}}})"));
}

QTEST_GUILESS_MAIN(tst_StatelessTranslation)
#include "tst_statelesstranslation.moc"
