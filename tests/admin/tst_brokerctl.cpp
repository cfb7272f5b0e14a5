// forgejo-mcp-brokerctl run as a process against a real daemon with real
// children: list (table and --json), info, evict, watch, and the exit status
// and message when there is no daemon or the socket is not ours.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include "CtlRun.h"
#include "DaemonHarness.h"

using namespace fmb;
using fmbtest::Ctl;
using fmbtest::CtlRun;
using fmbtest::runCtl;

namespace {} // namespace

class tst_BrokerCtl : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void help();
    void usageErrors_data();
    void usageErrors();
    void noDaemon();
    void socketOfAnotherUser();
    void listJson();
    void listTable();
    void listUserChild();
    void info();
    void evictById();
    void evictUnknown();
    void evictUser();
    void revokeInLocalMode();
    void revokeAsksOnATerminal();
    void watch();
    // Issue 14: several brokers at once.
    void brokersListsSelf();
    void listTwoBrokers();
    void evictRoutedToItsBroker();
    void unreachableTargetIsNamed();

private:
    [[nodiscard]] bool startSecond();
    [[nodiscard]] QStringList bothSockets() const
    {
        return socketArgs() << QStringLiteral("--admin-socket") << m_second->adminSocket();
    }
    [[nodiscard]] QStringList socketArgs() const
    {
        return {QStringLiteral("--admin-socket"), m_daemon->adminSocket()};
    }

    QTemporaryDir m_dir;
    std::unique_ptr<test::DaemonHarness> m_daemon;
    std::unique_ptr<test::DaemonHarness> m_second; // node id ctl-b, started by the cluster rows
};

void tst_BrokerCtl::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_daemon = std::make_unique<test::DaemonHarness>(m_dir.filePath(QStringLiteral("admin.sock")));
    QVERIFY2(m_daemon->start(), qPrintable(m_daemon->error()));
}

void tst_BrokerCtl::cleanupTestCase()
{
    m_second.reset();
    m_daemon.reset();
}

void tst_BrokerCtl::help()
{
    const CtlRun run = runCtl({QStringLiteral("--help")});
    QCOMPARE(run.exitCode, 0);
    for (const char *word : {"--admin-socket", "--ssh", "FMB_SSH_OPTIONS", "list", "evict", "watch", "info",
                             "--json", "--user", "Exit status"}) {
        QVERIFY2(run.out.contains(word), word);
    }
}

void tst_BrokerCtl::usageErrors_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    QTest::newRow("no command") << QStringList() << QStringLiteral("no command");
    QTest::newRow("unknown command") << QStringList{QStringLiteral("reboot")}
                                     << QStringLiteral("unknown command");
    QTest::newRow("evict without target")
        << QStringList{QStringLiteral("evict")} << QStringLiteral("evict needs");
    QTest::newRow("evict ids and --user") << QStringList{QStringLiteral("evict"), QStringLiteral("abcdef"),
                                                         QStringLiteral("--user"), QStringLiteral("x")}
                                          << QStringLiteral("one of them");
    QTest::newRow("revoke without --user")
        << QStringList{QStringLiteral("revoke"), QStringLiteral("--yes")} << QStringLiteral("needs --user");
    QTest::newRow("revoke with an id") << QStringList{QStringLiteral("revoke"), QStringLiteral("abcdef"),
                                                      QStringLiteral("--user"), QStringLiteral("x")}
                                       << QStringLiteral("one user at a time");
    QTest::newRow("--yes without revoke") << QStringList{QStringLiteral("list"), QStringLiteral("--yes")}
                                          << QStringLiteral("--yes belongs to revoke");
    // stdin is a pipe here: nobody to ask, so no revoke without --yes.
    QTest::newRow("revoke off a terminal without --yes")
        << QStringList{QStringLiteral("--admin-socket"), QStringLiteral("/nonexistent/admin.sock"),
                       QStringLiteral("revoke"), QStringLiteral("--user"), QStringLiteral("x")}
        << QStringLiteral("pass --yes");
    QTest::newRow("unknown option") << QStringList{QStringLiteral("list"), QStringLiteral("--frobnicate")}
                                    << QStringLiteral("frobnicate");
    QTest::newRow("bad ssh target") << QStringList{QStringLiteral("--ssh"),
                                                   QStringLiteral("-oProxyCommand=x"), QStringLiteral("list")}
                                    << QStringLiteral("cannot start with");
    QTest::newRow("ssh and admin-socket")
        << QStringList{QStringLiteral("--ssh"), QStringLiteral("h"), QStringLiteral("--admin-socket"),
                       QStringLiteral("/x"), QStringLiteral("list")}
        << QStringLiteral("do not combine");
}

void tst_BrokerCtl::usageErrors()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    const CtlRun run = runCtl(arguments);
    QCOMPARE(run.exitCode, 2);
    QVERIFY2(QString::fromUtf8(run.err).contains(message), run.err.constData());
}

void tst_BrokerCtl::noDaemon()
{
    const QString path = m_dir.filePath(QStringLiteral("nobody-home.sock"));
    const CtlRun run = runCtl({QStringLiteral("--admin-socket"), path, QStringLiteral("list")});
    QCOMPARE(run.exitCode, 3);
    const QString err = QString::fromUtf8(run.err);
    QVERIFY2(err.contains(QLatin1String("no broker is running")), qPrintable(err));
    QVERIFY2(err.contains(path), qPrintable(err));
    QVERIFY(run.out.isEmpty());
}

void tst_BrokerCtl::socketOfAnotherUser()
{
    if (::geteuid() != 0)
        QSKIP("needs root to run brokerctl as another uid (nobody)");
    const struct passwd *nobody = ::getpwnam("nobody");
    if (!nobody)
        QSKIP("there is no user \"nobody\"");
    const uid_t uid = nobody->pw_uid;
    const gid_t gid = nobody->pw_gid;
    const CtlRun run = runCtl(socketArgs() << QStringLiteral("list"), [uid, gid] {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
            ::_exit(120);
    });
    // -3: nobody cannot reach the binary (a clone under root's 0700 home).
    if (run.exitCode == 120 || run.exitCode == -2 || run.exitCode == -3)
        QSKIP("cannot run the brokerctl binary as nobody here");
    QCOMPARE(run.exitCode, 3);
    const QString err = QString::fromUtf8(run.err);
    QVERIFY2(err.contains(QLatin1String("permission denied")), qPrintable(err));
    QVERIFY2(err.contains(QLatin1String("another user")), qPrintable(err));
}

void tst_BrokerCtl::listJson()
{
    const QString a = m_daemon->createSession(QStringLiteral("json-client-a"));
    const QString b = m_daemon->createSession(QStringLiteral("json-client-b"));
    QVERIFY2(!a.isEmpty() && !b.isEmpty(), qPrintable(m_daemon->error()));

    const CtlRun run = runCtl(socketArgs() << QStringLiteral("list") << QStringLiteral("--json"));
    QCOMPARE(run.exitCode, 0);
    QJsonParseError error;
    const QJsonDocument document = QJsonDocument::fromJson(run.out, &error);
    QVERIFY2(error.error == QJsonParseError::NoError, run.out.constData());
    QVERIFY(document.isArray());
    QJsonObject found;
    for (const QJsonValue &value : document.array()) {
        if (value.toObject().value(QLatin1String("id")).toString() == a)
            found = value.toObject();
    }
    QVERIFY2(!found.isEmpty(), run.out.constData());
    for (const char *key : {"id", "user", "client", "created", "last_active", "token_expires", "child_pid",
                            "state", "idle_seconds"}) {
        QVERIFY2(found.contains(QLatin1String(key)), key);
    }
    QCOMPARE(found.value(QLatin1String("user")).toString(), QStringLiteral("local"));
    QCOMPARE(found.value(QLatin1String("client")).toString(), QStringLiteral("json-client-a"));
    QCOMPARE(found.value(QLatin1String("state")).toString(), QStringLiteral("ready"));
    QVERIFY2(found.value(QLatin1String("token_expires")).isNull(), "local mode: no upstream token");
    QVERIFY(test::processExists(found.value(QLatin1String("child_pid")).toInteger()));
    QVERIFY(
        QDateTime::fromString(found.value(QLatin1String("created")).toString(), Qt::ISODateWithMs).isValid());

    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << a << b).exitCode == 0);
}

void tst_BrokerCtl::listTable()
{
    const QString id = m_daemon->createSession(QStringLiteral("table-client"));
    QVERIFY2(!id.isEmpty(), qPrintable(m_daemon->error()));
    const CtlRun run = runCtl(socketArgs() << QStringLiteral("list"));
    QCOMPARE(run.exitCode, 0);
    const QString out = QString::fromUtf8(run.out);
    QVERIFY2(out.startsWith(QLatin1String("ID ")), qPrintable(out));
    QVERIFY2(out.contains(QLatin1String("TOKEN EXPIRES")), qPrintable(out));
    // The start of the random part, after the daemon's node id (issue 14).
    QVERIFY2(out.contains(id.right(48).left(12)), qPrintable(out));
    QVERIFY2(!out.contains(id.left(12)), qPrintable(out));
    QVERIFY2(out.contains(QLatin1String("table-client")), qPrintable(out));
    QVERIFY2(out.contains(QLatin1String("no token")), qPrintable(out));
    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << id).exitCode == 0);
}

// issue 13: the child serving 2026-07-28 requests is listed as a user child
// with its requests in flight (table) and its kind (--json).
void tst_BrokerCtl::listUserChild()
{
    QVERIFY2(m_daemon->discover(), qPrintable(m_daemon->log()));
    const CtlRun table = runCtl(socketArgs() << QStringLiteral("list"));
    QCOMPARE(table.exitCode, 0);
    QVERIFY2(table.out.contains("user child (0 in flight)"), table.out.constData());
    const CtlRun json = runCtl(socketArgs() << QStringLiteral("list") << QStringLiteral("--json"));
    QString id;
    for (const QJsonValue &value : QJsonDocument::fromJson(json.out).array()) {
        if (value.toObject().value(QLatin1String("kind")).toString() == QLatin1String("user child"))
            id = value.toObject().value(QLatin1String("id")).toString();
    }
    QVERIFY2(!id.isEmpty(), json.out.constData());
    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << id).exitCode == 0);
}

void tst_BrokerCtl::info()
{
    CtlRun run = runCtl(socketArgs() << QStringLiteral("info"));
    QCOMPARE(run.exitCode, 0);
    const QString out = QString::fromUtf8(run.out);
    const QString url = m_daemon->mcpUrl().toString().chopped(4); // without /mcp
    QVERIFY2(out.contains(url), qPrintable(out));
    QVERIFY2(out.contains(QLatin1String("none (local mode)")), qPrintable(out));
    QVERIFY2(out.contains(QString::number(m_daemon->pid())), qPrintable(out));

    run = runCtl(socketArgs() << QStringLiteral("info") << QStringLiteral("--json"));
    QCOMPARE(run.exitCode, 0);
    const QJsonObject json = QJsonDocument::fromJson(run.out).object();
    QCOMPARE(json.value(QLatin1String("listen_url")).toString(), url);
    QCOMPARE(json.value(QLatin1String("auth_mode")).toString(), QStringLiteral("none"));
    QCOMPARE(json.value(QLatin1String("version")).toString(), QStringLiteral(FMB_VERSION));
    QVERIFY(json.contains(QLatin1String("uptime_seconds")));
    QVERIFY(json.contains(QLatin1String("sessions")));
}

void tst_BrokerCtl::evictById()
{
    const QString id = m_daemon->createSession(QStringLiteral("evict-me"));
    QVERIFY2(!id.isEmpty(), qPrintable(m_daemon->error()));
    CtlRun run = runCtl(socketArgs() << QStringLiteral("list") << QStringLiteral("--json"));
    qint64 pid = 0;
    for (const QJsonValue &value : QJsonDocument::fromJson(run.out).array()) {
        if (value.toObject().value(QLatin1String("id")).toString() == id)
            pid = value.toObject().value(QLatin1String("child_pid")).toInteger();
    }
    QVERIFY(test::processExists(pid));

    run = runCtl(socketArgs() << QStringLiteral("evict") << id.left(12)); // a unique prefix will do
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(run.out.contains(id.toLatin1()), run.out.constData());
    QTRY_VERIFY_WITH_TIMEOUT(!test::processExists(pid), 10000);
    run = runCtl(socketArgs() << QStringLiteral("list") << QStringLiteral("--json"));
    QVERIFY(!run.out.contains(id.toLatin1()));
}

void tst_BrokerCtl::evictUnknown()
{
    const CtlRun run = runCtl(socketArgs() << QStringLiteral("evict") << QStringLiteral("0000000000000000"));
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("no session 0000000000000000"), run.err.constData());
}

void tst_BrokerCtl::evictUser()
{
    QVERIFY(!m_daemon->createSession(QStringLiteral("u1")).isEmpty());
    QVERIFY(!m_daemon->createSession(QStringLiteral("u2")).isEmpty());
    CtlRun run = runCtl(socketArgs() << QStringLiteral("evict") << QStringLiteral("--user")
                                     << QStringLiteral("local"));
    QCOMPARE(run.exitCode, 0);
    QCOMPARE(run.out.count("evicted "), 2);
    run = runCtl(socketArgs() << QStringLiteral("list") << QStringLiteral("--json"));
    QCOMPARE(QJsonDocument::fromJson(run.out).array().size(), 0);
    run = runCtl(socketArgs() << QStringLiteral("evict") << QStringLiteral("--user")
                              << QStringLiteral("nobody-here"));
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("nobody-here has no sessions"), run.err.constData());
}

// Issue 15: a local-mode broker keeps no tokens; revoke says so and ends nothing.
void tst_BrokerCtl::revokeInLocalMode()
{
    const QString id = m_daemon->createSession(QStringLiteral("r1"));
    QVERIFY(!id.isEmpty());
    CtlRun run = runCtl(socketArgs() << QStringLiteral("revoke") << QStringLiteral("--user")
                                     << QStringLiteral("local") << QStringLiteral("--yes"));
    QCOMPARE(run.exitCode, 1);
    QVERIFY2(run.err.contains("local mode"), run.err.constData());
    run = runCtl(socketArgs() << QStringLiteral("list") << QStringLiteral("--json"));
    QCOMPARE(QJsonDocument::fromJson(run.out).array().size(), 1);
    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << QStringLiteral("--all")).exitCode == 0);
}

// On a terminal (script(1) gives it a pty) revoke names what goes and asks;
// anything but yes revokes nothing.
void tst_BrokerCtl::revokeAsksOnATerminal()
{
    const QString script = QStandardPaths::findExecutable(QStringLiteral("script"));
    if (script.isEmpty())
        QSKIP("script(1) (util-linux) is not installed");
    QVERIFY(!m_daemon->createSession(QStringLiteral("r2")).isEmpty());
    QStringList command{Ctl};
    command << socketArgs() << QStringLiteral("revoke") << QStringLiteral("--user")
            << QStringLiteral("local");
    QProcess process;
    process.start(script,
                  {QStringLiteral("-qec"), command.join(QLatin1Char(' ')), QStringLiteral("/dev/null")});
    QVERIFY(process.waitForStarted(20000));
    process.write("n\n");
    QVERIFY(process.waitForFinished(20000));
    const QByteArray shown = process.readAllStandardOutput(); // the pty carries stdout and stderr
    QCOMPARE(process.exitCode(), 1);
    QVERIFY2(shown.contains("Revoke all access of user local?"), shown.constData());
    QVERIFY2(shown.contains("ends 1 open session(s) of local"), shown.constData());
    QVERIFY2(shown.contains("[y/N]"), shown.constData());
    QVERIFY2(shown.contains("nothing revoked"), shown.constData());
    const CtlRun run = runCtl(socketArgs() << QStringLiteral("list") << QStringLiteral("--json"));
    QCOMPARE(QJsonDocument::fromJson(run.out).array().size(), 1);
    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << QStringLiteral("--all")).exitCode == 0);
}

void tst_BrokerCtl::watch()
{
    QProcess watcher;
    watcher.start(Ctl, socketArgs() << QStringLiteral("watch"));
    QVERIFY(watcher.waitForStarted());
    QByteArray seen;
    const auto waitFor = [&](const QByteArray &needle) {
        for (int i = 0; i < 200 && !seen.contains(needle); ++i) {
            watcher.waitForReadyRead(50);
            seen += watcher.readAllStandardOutput();
        }
        return seen.contains(needle);
    };
    QVERIFY2(waitFor("# watching"), seen.constData());

    const QString id = m_daemon->createSession(QStringLiteral("watched"));
    QVERIFY(!id.isEmpty());
    QVERIFY2(waitFor("session.started " + id.toLatin1()), seen.constData());
    QVERIFY2(waitFor("client=\"watched\""), seen.constData());
    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << id).exitCode == 0);
    QVERIFY2(waitFor("session.ended " + id.toLatin1()), seen.constData());
    QVERIFY2(waitFor("reason=\"evicted by an operator\""), seen.constData());
    // One event per line.
    for (const QByteArray &line : seen.split('\n')) {
        if (!line.isEmpty() && !line.startsWith('#'))
            QVERIFY2(line.contains(" session."), line.constData());
    }
    watcher.terminate();
    QVERIFY(watcher.waitForFinished(5000));
}

bool tst_BrokerCtl::startSecond()
{
    if (m_second)
        return true;
    m_second = std::make_unique<test::DaemonHarness>(m_dir.filePath(QStringLiteral("b/admin.sock")));
    if (m_second->start({QStringLiteral("--node-id"), QStringLiteral("ctl-b")}))
        return true;
    qWarning("%s", qPrintable(m_second->error()));
    m_second.reset();
    return false;
}

// A single broker keeps no directory: "brokers" names it alone, up.
void tst_BrokerCtl::brokersListsSelf()
{
    const CtlRun json = runCtl(socketArgs() << QStringLiteral("brokers") << QStringLiteral("--json"));
    QCOMPARE(json.exitCode, 0);
    const QJsonArray brokers = QJsonDocument::fromJson(json.out).array();
    QCOMPARE(brokers.size(), 1);
    const QJsonObject self = brokers.at(0).toObject();
    QCOMPARE(self.value(QLatin1String("pid")).toInteger(), m_daemon->pid());
    QVERIFY(self.value(QLatin1String("self")).toBool());
    QVERIFY(!self.value(QLatin1String("stale")).toBool());
    const CtlRun table = runCtl(socketArgs() << QStringLiteral("brokers"));
    QCOMPARE(table.exitCode, 0);
    QVERIFY2(table.out.startsWith("BROKER "), table.out.constData());
    QVERIFY2(table.out.contains("1 broker(s), 0 stale"), table.out.constData());
}

void tst_BrokerCtl::listTwoBrokers()
{
    QVERIFY(startSecond());
    const QString a = m_daemon->createSession(QStringLiteral("on-a"));
    const QString b = m_second->createSession(QStringLiteral("on-b"));
    QVERIFY2(!a.isEmpty() && !b.isEmpty(), qPrintable(m_daemon->error() + m_second->error()));
    QVERIFY(b.startsWith(QLatin1String("ctl-b-")));

    const CtlRun json = runCtl(bothSockets() << QStringLiteral("list") << QStringLiteral("--json"));
    QCOMPARE(json.exitCode, 0);
    QHash<QString, QString> brokerOf;
    for (const QJsonValue &value : QJsonDocument::fromJson(json.out).array())
        brokerOf.insert(value.toObject().value(QLatin1String("id")).toString(),
                        value.toObject().value(QLatin1String("broker")).toString());
    QCOMPARE(brokerOf.value(b), QStringLiteral("ctl-b"));
    QCOMPARE(brokerOf.value(a), a.left(a.size() - 49)); // the first daemon's default node id

    const CtlRun table = runCtl(bothSockets() << QStringLiteral("list"));
    QCOMPARE(table.exitCode, 0);
    QVERIFY2(table.out.startsWith("BROKER "), table.out.constData());
    QVERIFY2(table.out.contains("\nctl-b "), table.out.constData());
    QVERIFY2(table.out.contains(b.right(48).left(12).toLatin1()), table.out.constData());
    QVERIFY2(table.out.contains(a.right(48).left(12).toLatin1()), table.out.constData());
    // One target as before: no broker column.
    const CtlRun single = runCtl(socketArgs() << QStringLiteral("list"));
    QVERIFY2(single.out.startsWith("ID "), single.out.constData());
    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << a).exitCode == 0);
    QVERIFY(runCtl(QStringList{QStringLiteral("--admin-socket"), m_second->adminSocket(),
                               QStringLiteral("evict"), b})
                .exitCode == 0);
}

void tst_BrokerCtl::evictRoutedToItsBroker()
{
    QVERIFY(startSecond());
    const QString a = m_daemon->createSession(QStringLiteral("stay-a"));
    const QString b = m_second->createSession(QStringLiteral("go-b"));
    QVERIFY(!a.isEmpty() && !b.isEmpty());
    // The short id the table shows (the start of the random part): only b's broker has it.
    const CtlRun run = runCtl(bothSockets() << QStringLiteral("evict") << b.right(48).left(12));
    QCOMPARE(run.exitCode, 0);
    QVERIFY2(run.out.contains(QByteArray(QByteArray("evicted ") + b.toLatin1())), run.out.constData());
    const CtlRun onB = runCtl(QStringList{QStringLiteral("--admin-socket"), m_second->adminSocket(),
                                          QStringLiteral("list"), QStringLiteral("--json")});
    QVERIFY2(!onB.out.contains(b.toLatin1()), onB.out.constData());
    const CtlRun onA = runCtl(socketArgs() << QStringLiteral("list") << QStringLiteral("--json"));
    QVERIFY2(onA.out.contains(a.toLatin1()), onA.out.constData());
    const CtlRun unknown =
        runCtl(bothSockets() << QStringLiteral("evict") << QStringLiteral("nosuchsession"));
    QCOMPARE(unknown.exitCode, 1);
    QVERIFY2(unknown.err.contains("no session nosuchsession"), unknown.err.constData());
    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << a).exitCode == 0);
}

void tst_BrokerCtl::unreachableTargetIsNamed()
{
    const QString a = m_daemon->createSession(QStringLiteral("still-listed"));
    QVERIFY(!a.isEmpty());
    const QString gone = m_dir.filePath(QStringLiteral("gone.sock"));
    const CtlRun run =
        runCtl(socketArgs() << QStringLiteral("--admin-socket") << gone << QStringLiteral("list"));
    QCOMPARE(run.exitCode, 3);
    QVERIFY2(run.out.contains(a.right(48).left(12).toLatin1()), run.out.constData());
    QVERIFY2(run.err.contains(gone.toUtf8()), run.err.constData());
    const CtlRun info =
        runCtl(socketArgs() << QStringLiteral("--admin-socket") << gone << QStringLiteral("info"));
    QCOMPARE(info.exitCode, 2);
    QVERIFY2(info.err.contains("talks to one broker"), info.err.constData());
    QVERIFY(runCtl(socketArgs() << QStringLiteral("evict") << a).exitCode == 0);
}

QTEST_GUILESS_MAIN(tst_BrokerCtl)
#include "tst_brokerctl.moc"
