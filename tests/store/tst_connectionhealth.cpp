#include <QRegularExpression>
#include <QTest>

#include "base/Metrics.h"
#include "store/ConnectionHealth.h"

using fmb::ConnectionHealth;
using fmb::ErrorCode;
using fmb::Result;
using fmb::metrics::Counter;

// ConnectionHealth alone, with a reopen the test controls: when it is
// tried, what callers get meanwhile, and what /metrics counts (issue 14).
class tst_ConnectionHealth : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void upUntilLost();
    void firstReopenAtOnceThenBackoff();
    void reopenedConnectionIsUpAndCounted();
};

namespace {

const QRegularExpression LostLine(QStringLiteral("^lost the connection to postgresql://db: "));

// A reopen that answers `succeed` and counts its calls.
struct Reopen {
    int calls = 0;
    bool succeed = false;
    ConnectionHealth::Reopen function()
    {
        return [this]() -> Result<void> {
            ++calls;
            if (succeed)
                return {};
            return fmb::Error{ErrorCode::Unavailable, QStringLiteral("db"), QStringLiteral("refused")};
        };
    }
};

} // namespace

void tst_ConnectionHealth::upUntilLost()
{
    Reopen reopen;
    ConnectionHealth health(QStringLiteral("postgresql://db"), reopen.function());
    QVERIFY(!health.isDown());
    QVERIFY(health.ready().ok());
    QCOMPARE(reopen.calls, 0);

    const quint64 lost = fmb::metrics::value(Counter::StoreConnectionsLost);
    QTest::ignoreMessage(QtWarningMsg, LostLine);
    QTest::failOnWarning(LostLine);
    health.lost(QStringLiteral("server closed the connection"));
    health.lost(QStringLiteral("again")); // one outage, counted (and logged) once
    QVERIFY(health.isDown());
    QCOMPARE(fmb::metrics::value(Counter::StoreConnectionsLost), lost + 1);
}

void tst_ConnectionHealth::firstReopenAtOnceThenBackoff()
{
    Reopen reopen;
    ConnectionHealth health(QStringLiteral("postgresql://db"), reopen.function());
    QTest::ignoreMessage(QtWarningMsg, LostLine);
    health.lost(QStringLiteral("gone"));
    // A restart may be over already: the first statement tries at once.
    const Result<void> first = health.ready();
    QCOMPARE(reopen.calls, 1);
    QVERIFY(!first.ok());
    QCOMPARE(first.error().code, ErrorCode::Unavailable);
    // Then the backoff (1 s): statements fail at once, without a reopen.
    const Result<void> second = health.ready();
    QVERIFY(!second.ok());
    QCOMPARE(reopen.calls, 1);
    QCOMPARE(health.retryAfterSeconds(), 1);
    QVERIFY(health.isDown());
}

void tst_ConnectionHealth::reopenedConnectionIsUpAndCounted()
{
    Reopen reopen;
    reopen.succeed = true;
    ConnectionHealth health(QStringLiteral("postgresql://db"), reopen.function());
    const quint64 reconnects = fmb::metrics::value(Counter::StoreReconnects);
    QTest::ignoreMessage(QtWarningMsg, LostLine);
    health.lost(QStringLiteral("gone"));
    QVERIFY(health.ready().ok());
    QCOMPARE(reopen.calls, 1);
    QVERIFY(!health.isDown());
    QCOMPARE(fmb::metrics::value(Counter::StoreReconnects), reconnects + 1);
    QVERIFY(health.ready().ok()); // up: no reopen
    QCOMPARE(reopen.calls, 1);
}

QTEST_GUILESS_MAIN(tst_ConnectionHealth)
#include "tst_connectionhealth.moc"
