// configChanges(): which settings differ between two configurations, as the
// SIGHUP reload reports them.
#include <QTest>

#include "config/ConfigDiff.h"

using fmb::BrokerConfig;

class tst_ConfigDiff : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void changes_data();
    void changes();
};

using Change = void (*)(BrokerConfig &config);
Q_DECLARE_METATYPE(Change)

void tst_ConfigDiff::changes_data()
{
    QTest::addColumn<Change>("change");
    QTest::addColumn<QStringList>("expected"); // "key before -> after"

    QTest::newRow("nothing") << Change([](BrokerConfig &) {}) << QStringList{};
    QTest::newRow("a count") << Change([](BrokerConfig &c) { c.maxSessions = 5; })
                             << QStringList{QStringLiteral("max_sessions 1000 -> 5")};
    QTest::newRow("a duration, as --help writes it")
        << Change([](BrokerConfig &c) { c.idleTimeout = std::chrono::seconds(600); })
        << QStringList{QStringLiteral("idle_timeout 15m -> 10m")};
    QTest::newRow("a list") << Change([](BrokerConfig &c) {
        c.allowedOrigins = {QStringLiteral("https://a.example")};
    }) << QStringList{QStringLiteral("allowed_origins none -> https://a.example")};
    QTest::newRow("two, in --help order")
        << Change([](BrokerConfig &c) {
               c.eventLoop = fmb::EventLoop::Qt;
               c.listenPort = 9000;
           })
        << QStringList{QStringLiteral("listen 127.0.0.1:8080 -> 127.0.0.1:9000"),
                       QStringLiteral("event_loop epoll -> qt")};
    // child_env values are secrets: described by name only, yet a change counts.
    QTest::newRow("a child_env value only") << Change([](BrokerConfig &c) {
        c.childEnv = {{QStringLiteral("TOKEN"), QStringLiteral("new-secret")}};
    }) << QStringList{QStringLiteral("child_env TOKEN=... -> TOKEN=...")};
}

void tst_ConfigDiff::changes()
{
    QFETCH(Change, change);
    QFETCH(QStringList, expected);

    BrokerConfig before;
    before.childEnv = {{QStringLiteral("TOKEN"), QStringLiteral("old-secret")}};
    BrokerConfig after = before;
    change(after);
    QStringList actual;
    for (const fmb::ConfigChange &entry : fmb::configChanges(before, after)) {
        actual.append(entry.key + QLatin1Char(' ') + entry.before + QLatin1String(" -> ") + entry.after);
        QVERIFY(!entry.before.contains(QLatin1String("secret")) &&
                !entry.after.contains(QLatin1String("secret")));
    }
    QCOMPARE(actual, expected);
}

QTEST_GUILESS_MAIN(tst_ConfigDiff)
#include "tst_configdiff.moc"
