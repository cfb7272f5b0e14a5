// The daemon under a stand-in for systemd (issue 15): a datagram socket in a
// temporary directory as NOTIFY_SOCKET, a real forgejo-mcp-brokerd started by
// the shared DaemonHarness, and the messages it sends, in order. Also
// --check-config and SIGHUP reload against the real binary.
#include <csignal>

#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "DaemonHarness.h"
#include "NotifySocket.h"

using fmbtest::NotifySocket;

namespace {

constexpr int WaitMs = 15000;

// Sets (or, with a null value, removes) environment variables for the
// daemons started while it lives: the harness's process inherits the test's
// environment. The old values come back after.
class ScopedEnvironment {
public:
    ScopedEnvironment(std::initializer_list<std::pair<const char *, QByteArray>> variables)
    {
        for (const auto &[name, value] : variables) {
            m_saved.append({name, qgetenv(name), qEnvironmentVariableIsSet(name)});
            if (value.isNull())
                qunsetenv(name);
            else
                qputenv(name, value);
        }
    }
    ~ScopedEnvironment()
    {
        for (const Saved &saved : std::as_const(m_saved)) {
            if (saved.wasSet)
                qputenv(saved.name, saved.value);
            else
                qunsetenv(saved.name);
        }
    }
    ScopedEnvironment(const ScopedEnvironment &) = delete;
    ScopedEnvironment &operator=(const ScopedEnvironment &) = delete;

private:
    struct Saved {
        const char *name;
        QByteArray value;
        bool wasSet;
    };
    QList<Saved> m_saved;
};

bool writeFile(const QString &path, const QByteArray &contents)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(contents) == contents.size();
}

QString daemonPath()
{
    return QStringLiteral(FMB_BIN_DIR "/forgejo-mcp-brokerd");
}

QString childPath()
{
    return QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server");
}

} // namespace

class tst_Systemd : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void readyStatusAndStopping();
    void watchdogPings();
    void noReadyWhenTheStartFails();
    void checkConfig_data();
    void checkConfig();
    void reloadAppliesLimits();
};

// READY=1 only once /mcp and the admin socket listen, STATUS= as sessions
// come, STOPPING=1 on SIGTERM, in that order and nothing before READY.
void tst_Systemd::readyStatusAndStopping()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    NotifySocket systemd(dir.filePath(QStringLiteral("notify")).toLocal8Bit());
    QVERIFY(systemd.bound());
    const ScopedEnvironment env{{"NOTIFY_SOCKET", systemd.name()}};

    fmb::test::DaemonHarness daemon(dir.filePath(QStringLiteral("admin.sock")));
    QVERIFY2(daemon.start(), qPrintable(daemon.error()));
    QTRY_VERIFY_WITH_TIMEOUT(!systemd.received().isEmpty(), WaitMs);
    const QByteArray url = daemon.mcpUrl().adjusted(QUrl::RemovePath).toString().toUtf8();
    QCOMPARE(systemd.received().first(), "READY=1\nMAINPID=" + QByteArray::number(daemon.pid()) +
                                             "\nSTATUS=serving on " + url + "; 0 sessions open");

    QVERIFY2(!daemon.createSession(QStringLiteral("systemd-test")).isEmpty(), qPrintable(daemon.error()));
    QTRY_VERIFY_WITH_TIMEOUT(systemd.indexOf("STATUS=serving on " + url + "; 1 session open") > 0, WaitMs);

    daemon.stop(); // SIGTERM
    QTRY_VERIFY_WITH_TIMEOUT(systemd.indexOf("STOPPING=1\n") > 0, WaitMs);
    QVERIFY(systemd.indexOf("STOPPING=1\n") > systemd.indexOf("STATUS=serving on " + url + "; 1 session"));
    QVERIFY2(systemd.received().constLast().startsWith("STOPPING=1\n"), systemd.received().constLast());
}

void tst_Systemd::watchdogPings()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    NotifySocket systemd(dir.filePath(QStringLiteral("notify")).toLocal8Bit());
    QVERIFY(systemd.bound());
    const ScopedEnvironment env{{"NOTIFY_SOCKET", systemd.name()}, {"WATCHDOG_USEC", "200000"}};

    fmb::test::DaemonHarness daemon(dir.filePath(QStringLiteral("admin.sock")));
    QVERIFY2(daemon.start(), qPrintable(daemon.error()));
    QTRY_VERIFY_WITH_TIMEOUT(systemd.received().count("WATCHDOG=1") >= 2, WaitMs);
    QCOMPARE(systemd.indexOf("READY=1\n"), 0); // the watchdog starts once ready
    QVERIFY2(daemon.log().contains(QLatin1String("systemd watchdog: pinging every 100 ms")),
             qPrintable(daemon.log()));
}

// The admin socket cannot be made: the start fails, and systemd never hears READY.
void tst_Systemd::noReadyWhenTheStartFails()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    NotifySocket systemd(dir.filePath(QStringLiteral("notify")).toLocal8Bit());
    QVERIFY(systemd.bound());
    const ScopedEnvironment env{{"NOTIFY_SOCKET", systemd.name()}};

    fmb::test::DaemonHarness daemon(QStringLiteral("/dev/null"));
    QVERIFY(!daemon.start()); // returns once the daemon has exited
    QVERIFY2(daemon.log().contains(QLatin1String("admin socket /dev/null")), qPrintable(daemon.log()));
    QCOMPARE(systemd.indexOf("READY=1"), -1);
}

void tst_Systemd::checkConfig_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("output"); // on stdout for 0, on stderr for 2

    const QStringList local{QStringLiteral("--auth"),          QStringLiteral("none"),
                            QStringLiteral("--listen"),        QStringLiteral("127.0.0.1:0"),
                            QStringLiteral("--child-command"), childPath(),
                            QStringLiteral("--admin-socket"),  QStringLiteral("%DIR%/admin.sock")};
    const QStringList oauth{QStringLiteral("--listen"),
                            QStringLiteral("127.0.0.1:0"),
                            QStringLiteral("--child-command"),
                            childPath(),
                            QStringLiteral("--public-url"),
                            QStringLiteral("https://mcp.example.org"),
                            QStringLiteral("--forgejo-url"),
                            QStringLiteral("https://forge.example.org"),
                            QStringLiteral("--forgejo-client-id"),
                            QStringLiteral("fmb"),
                            QStringLiteral("--state-dir"),
                            QStringLiteral("%DIR%/state")};
    const QStringList secret{QStringLiteral("--forgejo-client-secret-file"), QStringLiteral("%DIR%/secret")};
    QTest::newRow("local mode: good") << local << 0 << "configuration OK";
    QTest::newRow("oauth: good, the state dir is not made") << oauth + secret << 0 << "configuration OK";
    QTest::newRow("a value the loader refuses")
        << local + QStringList{QStringLiteral("--max-sessions"), QStringLiteral("many")} << 2
        << "max_sessions: \"many\" is not a whole number";
    QTest::newRow("the client secret file is missing")
        << oauth + QStringList{QStringLiteral("--forgejo-client-secret-file"), QStringLiteral("%DIR%/none")}
        << 2 << "forgejo_client_secret_file: \"%DIR%/none\" does not exist";
    QTest::newRow("the client secret file is empty")
        << oauth + QStringList{QStringLiteral("--forgejo-client-secret-file"), QStringLiteral("%DIR%/empty")}
        << 2 << "forgejo_client_secret_file: \"%DIR%/empty\" is empty";
    const auto keyFile = [](const char *name) {
        return QStringList{QStringLiteral("--secret-key-file"),
                           QStringLiteral("%DIR%/") + QLatin1String(name)};
    };
    QTest::newRow("oauth: a good shared key") << oauth + secret + keyFile("key") << 0 << "configuration OK";
    QTest::newRow("the shared key is missing")
        << oauth + secret + keyFile("no-key") << 2 << "secret_key_file: \"%DIR%/no-key\" does not exist";
    QTest::newRow("the shared key is short")
        << oauth + secret + keyFile("short-key") << 2
        << "secret_key_file: \"%DIR%/short-key\" holds 31 bytes, not the 32 of an AES-256 key";
    QTest::newRow("the shared key is open to others")
        << oauth + secret + keyFile("open-key") << 2
        << "secret_key_file: \"%DIR%/open-key\" is open to its group or others";
    QTest::newRow("the database password file is missing")
        << oauth + secret +
               QStringList{QStringLiteral("--database-password-file"), QStringLiteral("%DIR%/no-password")}
        << 2 << "database_password_file: \"%DIR%/no-password\" does not exist";
    QTest::newRow("a listen host that is a name, not an address")
        << oauth + secret + QStringList{QStringLiteral("--listen"), QStringLiteral("mcp.example.org:8080")}
        << 2 << "listen: \"mcp.example.org\" is not an IP address";
    QTest::newRow("the child program is not there")
        << local +
               QStringList{QStringLiteral("--child-command"), QStringLiteral("%DIR%/no-such-server --stdio")}
        << 2 << "child_command: \"%DIR%/no-such-server\" is not an executable file";
    QTest::newRow("the admin socket's directory is not there")
        << local + QStringList{QStringLiteral("--admin-socket"), QStringLiteral("%DIR%/run/admin.sock")} << 2
        << "admin_socket: the directory \"%DIR%/run\" does not exist";
}

// --check-config binds, spawns and creates nothing, and exits 0 or 2.
void tst_Systemd::checkConfig()
{
    QFETCH(QStringList, arguments);
    QFETCH(int, exitCode);
    QFETCH(QString, output);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY(writeFile(dir.filePath(QStringLiteral("secret")), "client-secret-value\n"));
    QVERIFY(writeFile(dir.filePath(QStringLiteral("empty")), "\n"));
    const QFile::Permissions ownerOnly = QFile::ReadOwner | QFile::WriteOwner;
    QVERIFY(writeFile(dir.filePath(QStringLiteral("key")), QByteArray(32, 'k')));
    QVERIFY(QFile::setPermissions(dir.filePath(QStringLiteral("key")), ownerOnly));
    QVERIFY(writeFile(dir.filePath(QStringLiteral("short-key")), QByteArray(31, 'k')));
    QVERIFY(QFile::setPermissions(dir.filePath(QStringLiteral("short-key")), ownerOnly));
    QVERIFY(writeFile(dir.filePath(QStringLiteral("open-key")), QByteArray(32, 'k')));
    QVERIFY(QFile::setPermissions(dir.filePath(QStringLiteral("open-key")), ownerOnly | QFile::ReadGroup));
    arguments.replaceInStrings(QStringLiteral("%DIR%"), dir.path());
    output.replace(QStringLiteral("%DIR%"), dir.path());

    QProcess daemon;
    daemon.start(daemonPath(), arguments + QStringList{QStringLiteral("--check-config")});
    QVERIFY(daemon.waitForFinished(WaitMs));
    const QString out = QString::fromUtf8(daemon.readAllStandardOutput());
    const QString err = QString::fromUtf8(daemon.readAllStandardError());
    QCOMPARE(daemon.exitStatus(), QProcess::NormalExit);
    QVERIFY2(daemon.exitCode() == exitCode, qPrintable(out + err));
    QVERIFY2((exitCode == 0 ? out : err).contains(output), qPrintable(out + err));
    QVERIFY2(!err.contains(QLatin1String("listening on")), qPrintable(err));
    QVERIFY(!QFileInfo::exists(dir.filePath(QStringLiteral("admin.sock"))));
    QVERIFY(!QFileInfo::exists(dir.filePath(QStringLiteral("state"))));
    QVERIFY2(!QString(out + err).contains(QLatin1String("client-secret-value")), qPrintable(out + err));
}

// SIGHUP: a raised max_sessions and new log rules apply at once, a setting
// that needs a restart is named (a secret's value never shown), a broken file changes
// nothing; systemd hears RELOADING=1 and READY=1 again.
void tst_Systemd::reloadAppliesLimits()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    NotifySocket systemd(dir.filePath(QStringLiteral("notify")).toLocal8Bit());
    QVERIFY(systemd.bound());
    // QT_LOGGING_RULES would override log_rules (ctest sets it for every test).
    const ScopedEnvironment env{{"NOTIFY_SOCKET", systemd.name()}, {"QT_LOGGING_RULES", QByteArray()}};
    const QString config = dir.filePath(QStringLiteral("broker.ini"));
    QVERIFY(writeFile(config, "max_sessions = 1\nchild_env = TOKEN=first-secret-4711\n"));

    fmb::test::DaemonHarness daemon(dir.filePath(QStringLiteral("admin.sock")));
    QVERIFY2(daemon.start({QStringLiteral("--config"), config}), qPrintable(daemon.error()));
    QVERIFY2(!daemon.createSession(QStringLiteral("first")).isEmpty(), qPrintable(daemon.error()));
    QVERIFY(daemon.createSession(QStringLiteral("over the cap")).isEmpty());
    QVERIFY2(daemon.error().contains(QLatin1String("503")), qPrintable(daemon.error()));

    QVERIFY(!daemon.log().contains(QLatin1String(" debug fmb.")));
    QVERIFY(writeFile(config, "max_sessions = 2\nchild_env = TOKEN=second-secret-4711\n"
                              "log_rules = fmb.*.debug=true\n"));
    ::kill(pid_t(daemon.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(
        daemon.log().contains(QLatin1String("reload (SIGHUP): applied max_sessions 1 -> 2")),
        qPrintable(daemon.log()), WaitMs);
    QVERIFY2(daemon.log().contains(QLatin1String("changed, but applied only after a restart: child_env")),
             qPrintable(daemon.log()));
    QVERIFY2(!daemon.log().contains(QLatin1String("-secret-4711")), qPrintable(daemon.log()));
    QVERIFY2(daemon.log().contains(QLatin1String("log_rules none -> fmb.*.debug=true")),
             qPrintable(daemon.log()));
    QVERIFY2(!daemon.createSession(QStringLiteral("second")).isEmpty(), qPrintable(daemon.error()));
    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(QLatin1String(" debug fmb.")), qPrintable(daemon.log()),
                              WaitMs);
    QTRY_VERIFY_WITH_TIMEOUT(systemd.indexOf("RELOADING=1\nMONOTONIC_USEC=") > 0, WaitMs);
    QVERIFY(systemd.received().count() > systemd.indexOf("RELOADING=1"));
    QVERIFY(systemd.received().at(systemd.indexOf("RELOADING=1") + 1).startsWith("READY=1\n"));

    QVERIFY(writeFile(config, "max_sessions = lots\n"));
    ::kill(pid_t(daemon.pid()), SIGHUP);
    QTRY_VERIFY2_WITH_TIMEOUT(daemon.log().contains(QLatin1String("the running one stays: max_sessions")),
                              qPrintable(daemon.log()), WaitMs);
    QVERIFY(daemon.createSession(QStringLiteral("third")).isEmpty()); // still 2
    QVERIFY2(daemon.error().contains(QLatin1String("503")), qPrintable(daemon.error()));
}

QTEST_GUILESS_MAIN(tst_Systemd)
#include "tst_systemd.moc"
