// SystemdNotifier against a real AF_UNIX datagram socket standing in for
// systemd's: what arrives, in which datagrams, and when the watchdog pings.
#include <unistd.h>

#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

#include "NotifySocket.h"
#include "base/SystemdNotifier.h"

using fmbtest::NotifySocket;

namespace {

constexpr int WaitMs = 10000;

QProcessEnvironment notifyEnvironment(const QByteArray &socket)
{
    QProcessEnvironment env;
    env.insert(QStringLiteral("NOTIFY_SOCKET"), QString::fromLocal8Bit(socket));
    return env;
}

QByteArray abstractName()
{
    return "@fmb-test-notify-" + QByteArray::number(QRandomGenerator::global()->generate64(), 16);
}

} // namespace

class tst_SystemdNotifier : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void messages_data();
    void messages();
    void withoutSocketNothingIsSent();
    void relativeSocketIsIgnored();
    void watchdogInterval_data();
    void watchdogInterval();
    void watchdogPingsAfterReady();
    void statusIsSentOnlyWhenItChanges();
};

void tst_SystemdNotifier::messages_data()
{
    QTest::addColumn<bool>("abstract");
    QTest::newRow("socket at a path") << false;
    QTest::newRow("abstract socket (@name)") << true;
}

void tst_SystemdNotifier::messages()
{
    QFETCH(bool, abstract);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    NotifySocket systemd(abstract ? abstractName() : dir.filePath(QStringLiteral("notify")).toLocal8Bit());
    QVERIFY(systemd.bound());

    fmb::SystemdNotifier notifier(notifyEnvironment(systemd.name()));
    QVERIFY(notifier.enabled());
    notifier.ready(QStringLiteral("serving; 0 sessions open"));
    notifier.setStatus(QStringLiteral("serving; 1 session open"));
    notifier.reloading(QStringLiteral("reloading"));
    notifier.stopping(QStringLiteral("stopping\nnow"));

    QTRY_COMPARE_WITH_TIMEOUT(systemd.received().size(), 4, WaitMs);
    const QList<QByteArray> &messages = systemd.received();
    QCOMPARE(messages.at(0), "READY=1\nMAINPID=" + QByteArray::number(qint64(::getpid())) +
                                 "\nSTATUS=serving; 0 sessions open");
    QCOMPARE(messages.at(1), QByteArray("STATUS=serving; 1 session open"));
    QVERIFY2(messages.at(2).startsWith("RELOADING=1\nMONOTONIC_USEC="), messages.at(2).constData());
    QVERIFY2(messages.at(2).endsWith("\nSTATUS=reloading"), messages.at(2).constData());
    // A newline in a status would start a new assignment.
    QCOMPARE(messages.at(3), QByteArray("STOPPING=1\nSTATUS=stopping now"));
}

void tst_SystemdNotifier::withoutSocketNothingIsSent()
{
    fmb::SystemdNotifier notifier{QProcessEnvironment()};
    QVERIFY(!notifier.enabled());
    QVERIFY(!notifier.notify("READY=1"));
}

void tst_SystemdNotifier::relativeSocketIsIgnored()
{
    fmb::SystemdNotifier notifier(notifyEnvironment("notify.sock"));
    QVERIFY(!notifier.enabled());
}

void tst_SystemdNotifier::watchdogInterval_data()
{
    QTest::addColumn<QString>("usec");
    QTest::addColumn<QString>("pid");
    QTest::addColumn<int>("intervalMs");
    const QString self = QString::number(qint64(::getpid()));
    QTest::newRow("no WATCHDOG_USEC: no watchdog") << QString() << QString() << 0;
    QTest::newRow("30 s, no WATCHDOG_PID: every 15 s") << QStringLiteral("30000000") << QString() << 15000;
    QTest::newRow("30 s for this process") << QStringLiteral("30000000") << self << 15000;
    QTest::newRow("30 s for another process: not ours")
        << QStringLiteral("30000000") << QStringLiteral("1") << 0;
    QTest::newRow("not a number") << QStringLiteral("30s") << QString() << 0;
    QTest::newRow("zero") << QStringLiteral("0") << QString() << 0;
    QTest::newRow("under 2 ms: every millisecond") << QStringLiteral("1000") << QString() << 1;
}

void tst_SystemdNotifier::watchdogInterval()
{
    QFETCH(QString, usec);
    QFETCH(QString, pid);
    QFETCH(int, intervalMs);
    QProcessEnvironment env = notifyEnvironment("/run/systemd/notify");
    if (!usec.isEmpty())
        env.insert(QStringLiteral("WATCHDOG_USEC"), usec);
    if (!pid.isEmpty())
        env.insert(QStringLiteral("WATCHDOG_PID"), pid);
    const fmb::SystemdNotifier notifier(env);
    QCOMPARE(notifier.watchdogInterval().count(), intervalMs);
}

void tst_SystemdNotifier::watchdogPingsAfterReady()
{
    NotifySocket systemd(abstractName());
    QVERIFY(systemd.bound());
    QProcessEnvironment env = notifyEnvironment(systemd.name());
    env.insert(QStringLiteral("WATCHDOG_USEC"), QStringLiteral("40000")); // a ping every 20 ms
    fmb::SystemdNotifier notifier(env);
    notifier.ready(QStringLiteral("serving"));
    QTRY_VERIFY_WITH_TIMEOUT(systemd.received().count("WATCHDOG=1") >= 2, WaitMs);
    QVERIFY(systemd.received().first().startsWith("READY=1\n"));
    notifier.stopping(QStringLiteral("stopping"));
    QTRY_COMPARE_WITH_TIMEOUT(systemd.received().constLast(), QByteArray("STOPPING=1\nSTATUS=stopping"),
                              WaitMs);
}

void tst_SystemdNotifier::statusIsSentOnlyWhenItChanges()
{
    NotifySocket systemd(abstractName());
    QVERIFY(systemd.bound());
    fmb::SystemdNotifier notifier(notifyEnvironment(systemd.name()));
    notifier.ready(QStringLiteral("a"));
    notifier.setStatus(QStringLiteral("a"));
    notifier.setStatus(QStringLiteral("b"));
    notifier.setStatus(QStringLiteral("b"));
    notifier.notify("X=1"); // a marker: everything before it has arrived with it
    QTRY_COMPARE_WITH_TIMEOUT(systemd.received().size(), 3, WaitMs);
    QCOMPARE(systemd.received().at(1), QByteArray("STATUS=b"));
}

QTEST_GUILESS_MAIN(tst_SystemdNotifier)
#include "tst_systemdnotifier.moc"
