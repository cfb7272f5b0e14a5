#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include "transport/ParkedCalls.h"

using fmb::ParkedCalls;

// ParkedCalls on its own (issue 13): the per-user cap, one use per
// requestState, and expiry timers that go with their call. The calls here
// have no session: what a retry of a call whose child ended finds.
class tst_ParkedCalls : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void capPerUser();
    void retriesLeaveNoTimers();
    void expiryRemovesTheCall();

private:
    static ParkedCalls::Call call(const QString &user)
    {
        ParkedCalls::Call parked;
        parked.user = user;
        parked.method = QStringLiteral("tools/call");
        parked.name = QStringLiteral("sample");
        parked.brokerId = QStringLiteral("fmb-1");
        parked.key = QStringLiteral("input-1");
        return parked;
    }
};

void tst_ParkedCalls::capPerUser()
{
    ParkedCalls parking({60000, 2});
    QVERIFY(parking.park(call(QStringLiteral("alice"))).ok());
    QVERIFY(parking.park(call(QStringLiteral("alice"))).ok());
    QVERIFY(!parking.park(call(QStringLiteral("alice"))).ok());
    QVERIFY(parking.park(call(QStringLiteral("bob"))).ok()); // another user's cap
    QCOMPARE(parking.countOf(QStringLiteral("alice")), 2);
}

// A client that retries again and again parks a new round each time: the
// taken rounds' expiry timers must not pile up for the whole lifetime.
void tst_ParkedCalls::retriesLeaveNoTimers()
{
    ParkedCalls parking({3600000, 4});
    for (int round = 0; round < 100; ++round) {
        auto state = parking.park(call(QStringLiteral("alice")));
        QVERIFY(state.ok());
        auto taken = parking.take(state.value(), QStringLiteral("alice"), QStringLiteral("tools/call"),
                                  QStringLiteral("sample"));
        QVERIFY(!taken.ok()); // no session: found, taken, but its child is gone
        QVERIFY(taken.error().contains(QLatin1String("has ended")));
        QVERIFY(!parking
                     .take(state.value(), QStringLiteral("alice"), QStringLiteral("tools/call"),
                           QStringLiteral("sample"))
                     .ok()); // one use
    }
    QCOMPARE(parking.count(), 0);
    QCOMPARE(parking.findChildren<QTimer *>().size(), 0);
}

void tst_ParkedCalls::expiryRemovesTheCall()
{
    ParkedCalls parking({50, 4});
    QVERIFY(parking.park(call(QStringLiteral("alice"))).ok());
    QCOMPARE(parking.count(), 1);
    QTRY_COMPARE(parking.count(), 0);
    QTRY_COMPARE(parking.findChildren<QTimer *>().size(), 0);
}

QTEST_GUILESS_MAIN(tst_ParkedCalls)
#include "tst_parkedcalls.moc"
