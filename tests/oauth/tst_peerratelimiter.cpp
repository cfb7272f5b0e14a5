#include <QHostAddress>
#include <QTest>

#include "oauth/PeerRateLimiter.h"

using fmb::PeerRateLimiter;

class tst_PeerRateLimiter : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void perAddress();
    void keys_data();
    void keys();
    void tableStaysBounded();
    void zeroIsNoLimit();
};

void tst_PeerRateLimiter::perAddress()
{
    qint64 now = 1000;
    PeerRateLimiter limiter(2, 100, [&now] { return now; });
    const QHostAddress a(QStringLiteral("192.0.2.1"));
    const QHostAddress b(QStringLiteral("192.0.2.2"));
    QCOMPARE(limiter.take(a), 0);
    QCOMPARE(limiter.take(a), 0);
    QCOMPARE(limiter.take(a), 30000); // 2 a minute: the next in 30 s
    QCOMPARE(limiter.take(b), 0);     // another address has its own bucket
    now += 30000;
    QCOMPARE(limiter.take(a), 0);
}

void tst_PeerRateLimiter::keys_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<QString>("key");
    QTest::newRow("IPv4") << "198.51.100.7"
                          << "198.51.100.7";
    QTest::newRow("IPv4-mapped IPv6 is the IPv4 address") << "::ffff:198.51.100.7"
                                                          << "198.51.100.7";
    QTest::newRow("IPv6 counts per /64") << "2001:db8:1:2:aaaa:bbbb:cccc:dddd"
                                         << "2001:db8:1:2::/64";
}

void tst_PeerRateLimiter::keys()
{
    QFETCH(QString, address);
    QFETCH(QString, key);
    QCOMPARE(PeerRateLimiter::keyOf(QHostAddress(address)), key);
}

void tst_PeerRateLimiter::tableStaysBounded()
{
    qint64 now = 0;
    PeerRateLimiter limiter(1, 3, [&now] { return now; });
    for (int i = 1; i <= 3; ++i)
        QCOMPARE(limiter.take(QHostAddress(QStringLiteral("192.0.2.%1").arg(i))), 0);
    QCOMPARE(limiter.trackedPeers(), 3);
    // A minute later every bucket has refilled: they make room for the next address.
    now += 60000;
    QCOMPARE(limiter.take(QHostAddress(QStringLiteral("192.0.2.9"))), 0);
    QCOMPARE(limiter.trackedPeers(), 1);
    // None refilled: the table starts over rather than growing.
    QCOMPARE(limiter.take(QHostAddress(QStringLiteral("192.0.2.10"))), 0);
    QCOMPARE(limiter.take(QHostAddress(QStringLiteral("192.0.2.11"))), 0);
    QTest::ignoreMessage(QtWarningMsg, "3 client addresses are rate limited at once, the most the table "
                                       "holds; forgetting them all");
    QCOMPARE(limiter.take(QHostAddress(QStringLiteral("192.0.2.12"))), 0);
    QCOMPARE(limiter.trackedPeers(), 1);
}

void tst_PeerRateLimiter::zeroIsNoLimit()
{
    PeerRateLimiter limiter(0, 10);
    for (int i = 0; i < 100; ++i)
        QCOMPARE(limiter.take(QHostAddress(QStringLiteral("192.0.2.1"))), 0);
    QCOMPARE(limiter.trackedPeers(), 0);
}

QTEST_GUILESS_MAIN(tst_PeerRateLimiter)
#include "tst_peerratelimiter.moc"
