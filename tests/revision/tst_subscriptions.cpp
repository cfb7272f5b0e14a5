#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include "revision/Subscriptions.h"

using namespace fmb;
using namespace fmb::Subscriptions;

// subscriptions/listen and per-request logLevel of 2026-07-28 (issue 13
// point 6): filters, what a child honours, which notifications a stream
// receives, subscription counting across a user's listeners, level filtering.
class tst_Subscriptions : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void filterOf_data();
    void filterOf();
    void resourceSubscriptionsAreBounded_data();
    void resourceSubscriptionsAreBounded();
    void honoured_data();
    void honoured();
    void wants_data();
    void wants();
    void taggedKeepsTheNotification();
    void acknowledgedNamesTheSubscription();
    void countsSubscribeOncePerUri();
    void countsUnsubscribeWithTheLastHolder();
    void passes_data();
    void passes();
};

namespace {

QJsonObject json(const char *text)
{
    return QJsonDocument::fromJson(QByteArray(text)).object();
}

QJsonObject notification(const QString &method, const QJsonObject &params = {})
{
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
            {QStringLiteral("method"), method},
            {QStringLiteral("params"), params}};
}

QJsonObject logMessage(const QString &level)
{
    return notification(QStringLiteral("notifications/message"),
                        {{QStringLiteral("level"), level}, {QStringLiteral("data"), QStringLiteral("x")}});
}

Filter filter(bool tools, bool prompts, bool resources, const QStringList &uris)
{
    Filter f;
    f.toolsListChanged = tools;
    f.promptsListChanged = prompts;
    f.resourcesListChanged = resources;
    f.resourceSubscriptions = uris;
    return f;
}

} // namespace

Q_DECLARE_METATYPE(fmb::Subscriptions::Filter)

void tst_Subscriptions::filterOf_data()
{
    QTest::addColumn<QJsonObject>("params");
    QTest::addColumn<Filter>("expected");
    QTest::newRow("nothing asked") << QJsonObject() << Filter();
    QTest::newRow("all three list changes")
        << json(
               R"({"notifications":{"toolsListChanged":true,"promptsListChanged":true,"resourcesListChanged":true}})")
        << filter(true, true, true, {});
    QTest::newRow("uris: duplicates and non-strings dropped")
        << json(R"({"notifications":{"resourceSubscriptions":["urn:a:1",7,"urn:a:1","","urn:a:2"]}})")
        << filter(false, false, false, {QStringLiteral("urn:a:1"), QStringLiteral("urn:a:2")});
    QTest::newRow("wrong types count as not asked")
        << json(R"({"notifications":{"toolsListChanged":"yes","resourceSubscriptions":"urn:a:1"}})")
        << Filter();
}

void tst_Subscriptions::filterOf()
{
    QFETCH(QJsonObject, params);
    QFETCH(Filter, expected);
    const std::optional<Filter> got = Subscriptions::filterOf(params);
    QVERIFY(got);
    QCOMPARE(*got, expected);
}

void tst_Subscriptions::resourceSubscriptionsAreBounded_data()
{
    QTest::addColumn<int>("distinct");
    QTest::addColumn<int>("repeats");
    QTest::addColumn<bool>("accepted");
    QTest::newRow("at the cap") << int(Subscriptions::MaxResourceSubscriptions) << 1 << true;
    QTest::newRow("one over the cap") << int(Subscriptions::MaxResourceSubscriptions) + 1 << 1 << false;
    QTest::newRow("duplicates do not count") << int(Subscriptions::MaxResourceSubscriptions) << 3 << true;
    QTest::newRow("far over the cap") << 200000 << 1 << false;
}

void tst_Subscriptions::resourceSubscriptionsAreBounded()
{
    QFETCH(int, distinct);
    QFETCH(int, repeats);
    QFETCH(bool, accepted);
    QJsonArray uris;
    for (int repeat = 0; repeat < repeats; ++repeat) {
        for (int i = 0; i < distinct; ++i)
            uris.append(QStringLiteral("urn:a:%1").arg(i));
    }
    const QJsonObject params{
        {QStringLiteral("notifications"), QJsonObject{{QStringLiteral("resourceSubscriptions"), uris}}}};
    const std::optional<Filter> got = Subscriptions::filterOf(params);
    QCOMPARE(bool(got), accepted);
    if (got)
        QCOMPARE(got->resourceSubscriptions.size(), qsizetype(distinct));
}

void tst_Subscriptions::honoured_data()
{
    QTest::addColumn<QJsonObject>("capabilities");
    QTest::addColumn<Filter>("expected");
    const QStringList uris{QStringLiteral("urn:a:1")};
    QTest::newRow("child declares nothing") << QJsonObject() << Filter();
    QTest::newRow("subscribe only") << json(R"({"resources":{"subscribe":true},"tools":{}})")
                                    << filter(false, false, false, uris);
    QTest::newRow("listChanged everywhere")
        << json(
               R"({"resources":{"listChanged":true},"tools":{"listChanged":true},"prompts":{"listChanged":true}})")
        << filter(true, true, true, {});
    QTest::newRow("tools listChanged only")
        << json(R"({"tools":{"listChanged":true},"resources":{}})") << filter(true, false, false, {});
}

void tst_Subscriptions::honoured()
{
    QFETCH(QJsonObject, capabilities);
    QFETCH(Filter, expected);
    const Filter requested = filter(true, true, true, {QStringLiteral("urn:a:1")});
    QCOMPARE(Subscriptions::honoured(requested, capabilities), expected);
    // Never more than was asked.
    QCOMPARE(Subscriptions::honoured(Filter(), capabilities), Filter());
}

void tst_Subscriptions::wants_data()
{
    QTest::addColumn<Filter>("listener");
    QTest::addColumn<QJsonObject>("message");
    QTest::addColumn<bool>("expected");
    const Filter tools = filter(true, false, false, {});
    const Filter uri1 = filter(false, false, false, {QStringLiteral("urn:a:1")});
    const QJsonObject updated1 = notification(QStringLiteral("notifications/resources/updated"),
                                              {{QStringLiteral("uri"), QStringLiteral("urn:a:1")}});
    const QJsonObject updated2 = notification(QStringLiteral("notifications/resources/updated"),
                                              {{QStringLiteral("uri"), QStringLiteral("urn:a:2")}});
    QTest::newRow("tools list change, asked")
        << tools << notification(QStringLiteral("notifications/tools/list_changed")) << true;
    QTest::newRow("prompts list change, not asked")
        << tools << notification(QStringLiteral("notifications/prompts/list_changed")) << false;
    QTest::newRow("resources list change, not asked")
        << uri1 << notification(QStringLiteral("notifications/resources/list_changed")) << false;
    QTest::newRow("update of a subscribed uri") << uri1 << updated1 << true;
    QTest::newRow("update of another uri") << uri1 << updated2 << false;
    QTest::newRow("update, tools listener") << tools << updated1 << false;
    QTest::newRow("a log message is not a subscription")
        << tools << logMessage(QStringLiteral("info")) << false;
    QTest::newRow("stray progress") << tools << notification(QStringLiteral("notifications/progress"))
                                    << false;
}

void tst_Subscriptions::wants()
{
    QFETCH(Filter, listener);
    QFETCH(QJsonObject, message);
    QFETCH(bool, expected);
    QCOMPARE(Subscriptions::wants(listener, message), expected);
}

void tst_Subscriptions::taggedKeepsTheNotification()
{
    const QJsonObject original = json(
        R"({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"urn:a:1","_meta":{"k":1}}})");
    const QJsonObject out = tagged(original, QStringLiteral("listen:0"));
    const QJsonObject params = out.value(QLatin1String("params")).toObject();
    QCOMPARE(params.value(QLatin1String("uri")).toString(), QStringLiteral("urn:a:1"));
    const QJsonObject meta = params.value(QLatin1String("_meta")).toObject();
    QCOMPARE(meta.value(QLatin1String("k")).toInt(), 1);
    QCOMPARE(meta.value(SubscriptionIdMeta).toString(), QStringLiteral("listen:0"));
    // A numeric id stays numeric: the listen request's id verbatim.
    QCOMPARE(tagged(original, 7)
                 .value(QLatin1String("params"))
                 .toObject()
                 .value(QLatin1String("_meta"))
                 .toObject()
                 .value(SubscriptionIdMeta),
             QJsonValue(7));
}

void tst_Subscriptions::acknowledgedNamesTheSubscription()
{
    const QJsonObject ack =
        acknowledged(filter(true, false, false, {QStringLiteral("urn:a:1")}), QStringLiteral("s"));
    QCOMPARE(ack.value(QLatin1String("method")).toString(),
             QStringLiteral("notifications/subscriptions/acknowledged"));
    QVERIFY(!ack.contains(QLatin1String("id")));
    const QJsonObject params = ack.value(QLatin1String("params")).toObject();
    QCOMPARE(params.value(QLatin1String("notifications")).toObject(),
             json(R"({"toolsListChanged":true,"resourceSubscriptions":["urn:a:1"]})"));
    QCOMPARE(params.value(QLatin1String("_meta")).toObject().value(SubscriptionIdMeta).toString(),
             QStringLiteral("s"));
    const QJsonObject closed = closedResult(QStringLiteral("s"));
    QCOMPARE(closed.value(QLatin1String("id")).toString(), QStringLiteral("s"));
    QCOMPARE(closed.value(QLatin1String("result"))
                 .toObject()
                 .value(QLatin1String("_meta"))
                 .toObject()
                 .value(SubscriptionIdMeta)
                 .toString(),
             QStringLiteral("s"));
}

void tst_Subscriptions::countsSubscribeOncePerUri()
{
    SubscriptionCounts counts;
    QCOMPARE(counts.add({QStringLiteral("urn:a:1"), QStringLiteral("urn:a:2")}),
             QStringList({QStringLiteral("urn:a:1"), QStringLiteral("urn:a:2")}));
    QCOMPARE(counts.add({QStringLiteral("urn:a:2"), QStringLiteral("urn:a:3")}),
             QStringList{QStringLiteral("urn:a:3")});
    QCOMPARE(counts.holders(QStringLiteral("urn:a:2")), 2);
    QCOMPARE(counts.size(), 3);
}

void tst_Subscriptions::countsUnsubscribeWithTheLastHolder()
{
    SubscriptionCounts counts;
    (void)counts.add({QStringLiteral("urn:a:1"), QStringLiteral("urn:a:2")});
    (void)counts.add({QStringLiteral("urn:a:2")});
    QCOMPARE(counts.remove({QStringLiteral("urn:a:1"), QStringLiteral("urn:a:2")}),
             QStringList{QStringLiteral("urn:a:1")});
    QCOMPARE(counts.holders(QStringLiteral("urn:a:2")), 1);
    QCOMPARE(counts.remove({QStringLiteral("urn:a:2")}), QStringList{QStringLiteral("urn:a:2")});
    QCOMPARE(counts.size(), 0);
    // Removing what nobody holds changes nothing.
    QCOMPARE(counts.remove({QStringLiteral("urn:a:2")}), QStringList());
    QCOMPARE(counts.size(), 0);
}

void tst_Subscriptions::passes_data()
{
    QTest::addColumn<QString>("wanted"); // empty: the request asked for no logs
    QTest::addColumn<QString>("level");
    QTest::addColumn<bool>("expected");
    QTest::newRow("no logLevel: nothing") << QString() << QStringLiteral("emergency") << false;
    QTest::newRow("debug gets debug") << QStringLiteral("debug") << QStringLiteral("debug") << true;
    QTest::newRow("info drops debug") << QStringLiteral("info") << QStringLiteral("debug") << false;
    QTest::newRow("warning gets error") << QStringLiteral("warning") << QStringLiteral("error") << true;
    QTest::newRow("warning drops notice") << QStringLiteral("warning") << QStringLiteral("notice") << false;
    QTest::newRow("emergency gets emergency")
        << QStringLiteral("emergency") << QStringLiteral("emergency") << true;
    QTest::newRow("unknown message level dropped")
        << QStringLiteral("debug") << QStringLiteral("loud") << false;
}

void tst_Subscriptions::passes()
{
    QFETCH(QString, wanted);
    QFETCH(QString, level);
    QFETCH(bool, expected);
    const QJsonObject meta = wanted.isEmpty() ? QJsonObject() : QJsonObject{{LogLevelMeta, wanted}};
    QCOMPARE(Subscriptions::passes(requestedLogLevel(meta), logMessage(level)), expected);
}

QTEST_GUILESS_MAIN(tst_Subscriptions)
#include "tst_subscriptions.moc"
