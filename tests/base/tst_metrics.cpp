#include <QTest>

#include "base/Metrics.h"

using namespace fmb;
using namespace std::chrono_literals;

class tst_Metrics : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void methodOf_data();
    void methodOf();
    void methodNamesRoundTrip();
    void countResponseByClass_data();
    void countResponseByClass();
    void operationBuckets_data();
    void operationBuckets();
};

void tst_Metrics::methodOf_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<int>("method");

    QTest::newRow("tools/call") << "tools/call" << int(metrics::Method::ToolsCall);
    QTest::newRow("initialize") << "initialize" << int(metrics::Method::Initialize);
    QTest::newRow("resources/templates/list")
        << "resources/templates/list" << int(metrics::Method::ResourcesTemplatesList);
    QTest::newRow("logging/setLevel") << "logging/setLevel" << int(metrics::Method::LoggingSetLevel);
    // A client chooses the method: anything unknown shares one series.
    QTest::newRow("unknown") << "x/attacker-chosen-1234" << int(metrics::Method::Other);
    QTest::newRow("case differs") << "Tools/Call" << int(metrics::Method::Other);
    QTest::newRow("prefix only") << "tools/" << int(metrics::Method::Other);
    QTest::newRow("empty") << "" << int(metrics::Method::Other);
    QTest::newRow("the word other") << "other" << int(metrics::Method::Other);
}

void tst_Metrics::methodOf()
{
    QFETCH(QString, name);
    QFETCH(int, method);
    QCOMPARE(int(metrics::methodOf(name)), method);
}

void tst_Metrics::methodNamesRoundTrip()
{
    for (int i = 0; i < int(metrics::Method::Other); ++i) {
        const auto method = metrics::Method(i);
        QCOMPARE(int(metrics::methodOf(QString(metrics::methodName(method)))), i);
    }
    QCOMPARE(metrics::methodName(metrics::Method::Other), QLatin1StringView("other"));
}

void tst_Metrics::countResponseByClass_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("counter"); // -1: none moves

    QTest::newRow("200") << 200 << int(metrics::Counter::Responses2xx);
    QTest::newRow("202") << 202 << int(metrics::Counter::Responses2xx);
    QTest::newRow("302") << 302 << int(metrics::Counter::Responses3xx);
    QTest::newRow("401") << 401 << int(metrics::Counter::Responses4xx);
    QTest::newRow("404") << 404 << int(metrics::Counter::Responses4xx);
    QTest::newRow("503") << 503 << int(metrics::Counter::Responses5xx);
    QTest::newRow("101") << 101 << int(metrics::Counter::Responses1xx);
    QTest::newRow("600 is no class") << 600 << -1;
    QTest::newRow("0 is no class") << 0 << -1;
}

void tst_Metrics::countResponseByClass()
{
    QFETCH(int, status);
    QFETCH(int, counter);
    std::array<quint64, 5> before{};
    for (int i = 0; i < 5; ++i)
        before[size_t(i)] = metrics::value(metrics::Counter(int(metrics::Counter::Responses1xx) + i));
    metrics::countResponse(status);
    for (int i = 0; i < 5; ++i) {
        const auto which = metrics::Counter(int(metrics::Counter::Responses1xx) + i);
        const quint64 expected = before[size_t(i)] + (int(which) == counter ? 1 : 0);
        QCOMPARE(metrics::value(which), expected);
    }
}

void tst_Metrics::operationBuckets_data()
{
    QTest::addColumn<qint64>("nanoseconds");
    QTest::addColumn<int>("bucket"); // index into kDurationBounds; its size is +Inf

    QTest::newRow("100 µs: the first bucket") << qint64(100'000) << 0;
    QTest::newRow("exactly 0.5 ms: le=0.0005 (bounds are inclusive)") << qint64(500'000) << 0;
    QTest::newRow("just over 0.5 ms: le=0.001") << qint64(500'001) << 1;
    QTest::newRow("3 ms: le=0.005") << qint64(3'000'000) << 3;
    QTest::newRow("exactly 10 s: the last bound") << qint64(10'000'000'000) << 13;
    QTest::newRow("a minute: +Inf") << qint64(60'000'000'000) << 14;
    QTest::newRow("a negative clock step counts as 0") << qint64(-5) << 0;
}

void tst_Metrics::operationBuckets()
{
    QFETCH(qint64, nanoseconds);
    QFETCH(int, bucket);
    const metrics::Histogram before = metrics::operation(metrics::Method::PromptsGet);
    metrics::observeOperation(metrics::Method::PromptsGet, std::chrono::nanoseconds(nanoseconds));
    const metrics::Histogram after = metrics::operation(metrics::Method::PromptsGet);
    QCOMPARE(after.count, before.count + 1);
    for (size_t i = 0; i < after.buckets.size(); ++i)
        QCOMPARE(after.buckets[i], before.buckets[i] + (int(i) == bucket ? 1 : 0));
    const double added = after.sumSeconds - before.sumSeconds;
    QVERIFY2(qAbs(added - double(std::max<qint64>(nanoseconds, 0)) / 1e9) < 1e-9, QByteArray::number(added));
    // Another method's histogram did not move.
    QCOMPARE(metrics::operation(metrics::Method::PromptsList).count, quint64(0));
}

QTEST_APPLESS_MAIN(tst_Metrics)
#include "tst_metrics.moc"
