#include <sys/resource.h>

#include <QTest>

#include "base/FileLimit.h"

using namespace fmb;

class tst_FileLimit : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void sessionCeiling_data();
    void sessionCeiling();
    void connectionCeiling_data();
    void connectionCeiling();
    void raiseReachesTheHardLimit();
};

void tst_FileLimit::sessionCeiling_data()
{
    QTest::addColumn<quint64>("limit");
    QTest::addColumn<int>("ceiling");

    // (limit - 64 - limit / 8) / 4
    QTest::newRow("20,000 (the bench host)") << quint64(20000) << 4359;
    QTest::newRow("1,024 (a default soft limit)") << quint64(1024) << 208;
    QTest::newRow("160 (the daemon test)") << quint64(160) << 19;
    QTest::newRow("1,048,576 (the cap)") << quint64(1048576) << 229360;
    QTest::newRow("less than the reserve: still one") << quint64(50) << 1;
}

void tst_FileLimit::sessionCeiling()
{
    QFETCH(quint64, limit);
    QFETCH(int, ceiling);

    QCOMPARE(fmb::sessionCeiling(limit, 4), ceiling);
}

void tst_FileLimit::connectionCeiling_data()
{
    QTest::addColumn<quint64>("limit");
    QTest::addColumn<int>("ceiling");

    // limit / 8: the share sessionCeiling() keeps for connections; at least 16.
    QTest::newRow("1,024 (a default soft limit)") << quint64(1024) << 128;
    QTest::newRow("20,000 (the bench host)") << quint64(20000) << 2500;
    QTest::newRow("1,048,576 (the cap)") << quint64(1048576) << 131072;
    QTest::newRow("tiny: still 16") << quint64(50) << 16;
}

void tst_FileLimit::connectionCeiling()
{
    QFETCH(quint64, limit);
    QFETCH(int, ceiling);

    QCOMPARE(fmb::connectionCeiling(limit), ceiling);
    // Connections, sessions and the fixed reserve of 64 together fit in the limit.
    if (limit >= 1024)
        QVERIFY(quint64(ceiling) + quint64(fmb::sessionCeiling(limit, 4)) * 4 + 64 <= limit);
}

void tst_FileLimit::raiseReachesTheHardLimit()
{
    struct rlimit saved = {};
    QCOMPARE(::getrlimit(RLIMIT_NOFILE, &saved), 0);
    struct rlimit lowered = saved;
    lowered.rlim_cur = std::min<rlim_t>(saved.rlim_max, 512);
    QCOMPARE(::setrlimit(RLIMIT_NOFILE, &lowered), 0);

    const FileLimitChange change = raiseFileLimit();
    QCOMPARE(change.softBefore, quint64(lowered.rlim_cur));
    QCOMPARE(change.hardBefore, quint64(saved.rlim_max));
    QVERIFY(change.hardAfter >= change.hardBefore);
    QCOMPARE(change.softAfter, change.hardAfter); // the soft limit goes all the way
    QVERIFY(change.hardAfter <= std::max<quint64>(FileLimitCap, change.hardBefore));
    struct rlimit now = {};
    QCOMPARE(::getrlimit(RLIMIT_NOFILE, &now), 0);
    QCOMPARE(quint64(now.rlim_cur), change.softAfter);
}

QTEST_GUILESS_MAIN(tst_FileLimit)
#include "tst_filelimit.moc"
