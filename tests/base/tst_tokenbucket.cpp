#include <QTest>

#include "base/TokenBucket.h"

using namespace fmb;

class tst_TokenBucket : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void allowsBurstThenRate_data();
    void allowsBurstThenRate();
    void takeSuppressedResets();
    void fractionalRateAndWait();
};

void tst_TokenBucket::allowsBurstThenRate_data()
{
    QTest::addColumn<int>("burst");
    QTest::addColumn<int>("perSecond");
    QTest::addColumn<qint64>("elapsedMs"); // between the burst and the second round
    QTest::addColumn<int>("allowedLater");

    QTest::newRow("no time passes: nothing more") << 5 << 10 << qint64(0) << 0;
    QTest::newRow("100 ms at 10/s: one more") << 5 << 10 << qint64(100) << 1;
    QTest::newRow("1 s at 1/s: one more") << 10 << 1 << qint64(1000) << 1;
    QTest::newRow("a long pause refills only up to the burst") << 3 << 10 << qint64(60000) << 3;
}

void tst_TokenBucket::allowsBurstThenRate()
{
    QFETCH(int, burst);
    QFETCH(int, perSecond);
    QFETCH(qint64, elapsedMs);
    QFETCH(int, allowedLater);

    qint64 now = 5000; // not 0: the bucket must not assume the clock starts there
    TokenBucket bucket(burst, perSecond, [&now] { return now; });
    for (int i = 0; i < burst; ++i)
        QVERIFY(bucket.take());
    QVERIFY(!bucket.take());
    QCOMPARE(bucket.suppressed(), 1);

    now += elapsedMs;
    int allowed = 0;
    for (int i = 0; i < burst + 5; ++i)
        allowed += bucket.take() ? 1 : 0;
    QCOMPARE(allowed, allowedLater);
    QCOMPARE(bucket.suppressed(), 1 + burst + 5 - allowedLater);
}

void tst_TokenBucket::takeSuppressedResets()
{
    qint64 now = 0;
    TokenBucket bucket(1, 1, [&now] { return now; });
    QVERIFY(bucket.take());
    QVERIFY(!bucket.take());
    QVERIFY(!bucket.take());
    QCOMPARE(bucket.takeSuppressed(), 2);
    QCOMPARE(bucket.suppressed(), 0);
    QCOMPARE(bucket.takeSuppressed(), 0);
}

void tst_TokenBucket::fractionalRateAndWait()
{
    // 2 a minute, the /oauth/register kind of rate.
    qint64 now = 1000;
    TokenBucket bucket(2, 2.0 / 60.0, [&now] { return now; });
    QVERIFY(bucket.isFull());
    QCOMPARE(bucket.msUntilNext(), 0);
    QVERIFY(bucket.take());
    QVERIFY(!bucket.isFull());
    QVERIFY(bucket.take());
    QVERIFY(!bucket.take());
    QCOMPARE(bucket.msUntilNext(), 30000);
    now += 29999;
    QVERIFY(!bucket.take());
    QCOMPARE(bucket.msUntilNext(), 1);
    now += 1;
    QVERIFY(bucket.take());
    now += 60000;
    QVERIFY(bucket.isFull());
}

QTEST_GUILESS_MAIN(tst_TokenBucket)
#include "tst_tokenbucket.moc"
