// The test launcher of forgejo-mcp-brokerd itself: what it reports when the
// daemon comes up, and what it says when it does not.
#include <QRegularExpression>
#include <QTest>

#include "DaemonProcess.h"

using fmbtest::DaemonProcess;

class tst_DaemonProcess : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void listeningGivesThePort();
    void refusedStartNamesTheLog();
    void lineThatNeverComes();
};

void tst_DaemonProcess::listeningGivesThePort()
{
    DaemonProcess daemon;
    QVERIFY2(daemon.start({}) && daemon.waitForListening(), qPrintable(daemon.failure()));
    QVERIFY(daemon.port() != 0);
    QCOMPARE(daemon.url().host(), QStringLiteral("127.0.0.1"));
    QVERIFY(daemon.failure().isEmpty());

    const QRegularExpressionMatch auth =
        daemon.waitForLine(QRegularExpression(QStringLiteral("fmb\\.daemon: auth (\\S+)")));
    QVERIFY2(auth.hasMatch(), qPrintable(daemon.failure()));
    QCOMPARE(auth.captured(1), QStringLiteral("none"));
    QVERIFY(!daemon.logLines().isEmpty());

    QCOMPARE(daemon.stop(), 0); // SIGTERM: a clean exit
    QVERIFY(!daemon.isRunning());
}

void tst_DaemonProcess::refusedStartNamesTheLog()
{
    DaemonProcess daemon;
    QVERIFY2(daemon.start({QStringLiteral("--max-sessions"), QStringLiteral("many")}),
             qPrintable(daemon.failure()));
    QVERIFY(!daemon.waitForListening());
    QVERIFY2(daemon.failure().contains(QLatin1String("exited first")), qPrintable(daemon.failure()));
    QVERIFY2(daemon.failure().contains(QLatin1String("\"many\"")), qPrintable(daemon.failure())); // the log
    QVERIFY(daemon.port() == 0);
    QVERIFY(daemon.waitForExit());
    QCOMPARE(daemon.exitStatus(), QProcess::NormalExit);
    QVERIFY(daemon.exitCode() != 0);
}

void tst_DaemonProcess::lineThatNeverComes()
{
    DaemonProcess daemon;
    QVERIFY2(daemon.start({}) && daemon.waitForListening(), qPrintable(daemon.failure()));
    const QRegularExpressionMatch none =
        daemon.waitForLine(QRegularExpression(QStringLiteral("no such line")), 200);
    QVERIFY(!none.hasMatch());
    QVERIFY2(daemon.failure().contains(QLatin1String("did not come within 200 ms")),
             qPrintable(daemon.failure()));
    QVERIFY2(daemon.failure().contains(QLatin1String("listening on")), qPrintable(daemon.failure()));
    QVERIFY(daemon.isRunning());
}

QTEST_GUILESS_MAIN(tst_DaemonProcess)
#include "tst_daemonprocess.moc"
