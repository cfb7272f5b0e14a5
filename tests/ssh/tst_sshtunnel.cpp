// Reaching a daemon's admin socket from a "workstation" through the system
// OpenSSH client: brokerctl --ssh and AdminClient with an ssh target, against
// an sshd this test starts on 127.0.0.1 with a generated host key and user
// key (sshd -D -e -f <config>). The daemon opens no network listener for it.
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include "DaemonHarness.h"
#include "admin/AdminClient.h"

using namespace fmb;

namespace {

const QString Sshd = QStringLiteral("/usr/sbin/sshd");
const QString Ctl = QStringLiteral(FMB_BIN_DIR "/forgejo-mcp-brokerctl");

quint16 freePort()
{
    QTcpServer server;
    if (!server.listen(QHostAddress::LocalHost, 0))
        return 0;
    return server.serverPort();
}

// Forwarded sockets live in /tmp/fmb-ssh-*; a crashed earlier run may have left some.
QStringList tunnelDirs()
{
    return QDir(QDir::tempPath()).entryList({QStringLiteral("fmb-ssh-*")}, QDir::Dirs);
}

bool runQuietly(const QString &program, const QStringList &arguments)
{
    QProcess process;
    process.start(program, arguments);
    return process.waitForFinished(20000) && process.exitStatus() == QProcess::NormalExit &&
           process.exitCode() == 0;
}

} // namespace

class tst_SshTunnel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void brokerctlListThroughSsh();
    void brokerctlEvictThroughSsh();
    void adminClientThroughSsh();
    void missingRemoteSocket();
    void wrongKeyFailsClearly();

private:
    [[nodiscard]] QString sshOptions(const QString &key) const;
    [[nodiscard]] QString sshTarget() const
    {
        return QStringLiteral("root@127.0.0.1:") + m_daemon->adminSocket();
    }

    QTemporaryDir m_dir;
    QProcess m_sshd;
    quint16 m_port = 0;
    std::unique_ptr<test::DaemonHarness> m_daemon;
};

void tst_SshTunnel::initTestCase()
{
    if (!QFileInfo(Sshd).isExecutable())
        QSKIP("/usr/sbin/sshd is not installed (apt-get install openssh-server)");
    if (QStandardPaths::findExecutable(QStringLiteral("ssh")).isEmpty() ||
        QStandardPaths::findExecutable(QStringLiteral("ssh-keygen")).isEmpty())
        QSKIP("the OpenSSH client (ssh, ssh-keygen) is not installed");
    if (::geteuid() != 0)
        QSKIP("sshd needs root here (privilege separation directory, logging in as root)");
    QVERIFY(m_dir.isValid());
    // sshd insists on its privilege separation directory.
    QVERIFY(QDir().mkpath(QStringLiteral("/run/sshd")));

    const QString hostKey = m_dir.filePath(QStringLiteral("host_key"));
    const QString userKey = m_dir.filePath(QStringLiteral("user_key"));
    const QString otherKey = m_dir.filePath(QStringLiteral("other_key"));
    for (const QString &key : {hostKey, userKey, otherKey}) {
        QVERIFY(runQuietly(QStringLiteral("ssh-keygen"),
                           {QStringLiteral("-q"), QStringLiteral("-t"), QStringLiteral("ed25519"),
                            QStringLiteral("-N"), QString(), QStringLiteral("-f"), key}));
    }
    QVERIFY(QFile::copy(userKey + QLatin1String(".pub"), m_dir.filePath(QStringLiteral("authorized_keys"))));

    m_port = freePort();
    QVERIFY(m_port != 0);
    // Note: "AllowTcpForwarding no" would refuse forwarded Unix sockets too.
    QFile config(m_dir.filePath(QStringLiteral("sshd_config")));
    QVERIFY(config.open(QIODevice::WriteOnly));
    config.write(QStringLiteral("ListenAddress 127.0.0.1\n"
                                "Port %1\n"
                                "HostKey %2\n"
                                "AuthorizedKeysFile %3\n"
                                "StrictModes no\n"
                                "UsePAM no\n"
                                "PidFile none\n"
                                "PermitRootLogin prohibit-password\n"
                                "PubkeyAuthentication yes\n"
                                "PasswordAuthentication no\n"
                                "KbdInteractiveAuthentication no\n"
                                "AllowStreamLocalForwarding yes\n"
                                "X11Forwarding no\n"
                                "LogLevel ERROR\n")
                     .arg(m_port)
                     .arg(hostKey, m_dir.filePath(QStringLiteral("authorized_keys")))
                     .toUtf8());
    config.close();
    m_sshd.setProcessChannelMode(QProcess::MergedChannels);
    m_sshd.start(Sshd, {QStringLiteral("-D"), QStringLiteral("-e"), QStringLiteral("-f"), config.fileName()});
    QVERIFY2(m_sshd.waitForStarted(), qPrintable(m_sshd.errorString()));
    bool listening = false;
    (void)QTest::qWaitFor(
        [&] {
            QTcpSocket probe;
            probe.connectToHost(QHostAddress::LocalHost, m_port);
            listening = probe.waitForConnected(100);
            return listening || m_sshd.state() != QProcess::Running;
        },
        15000);
    QVERIFY2(listening, m_sshd.readAll().constData());

    m_daemon = std::make_unique<test::DaemonHarness>(m_dir.filePath(QStringLiteral("run/admin.sock")));
    QVERIFY2(m_daemon->start(), qPrintable(m_daemon->error()));
}

void tst_SshTunnel::cleanupTestCase()
{
    m_daemon.reset();
    if (m_sshd.state() != QProcess::NotRunning) {
        m_sshd.terminate();
        m_sshd.waitForFinished(5000);
    }
}

QString tst_SshTunnel::sshOptions(const QString &key) const
{
    return QStringLiteral("-p %1 -i %2 -F /dev/null -o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null "
                          "-o StrictHostKeyChecking=no -o LogLevel=ERROR -o ConnectTimeout=10")
        .arg(m_port)
        .arg(m_dir.filePath(key));
}

void tst_SshTunnel::brokerctlListThroughSsh()
{
    const QStringList dirsBefore = tunnelDirs();
    const QString id = m_daemon->createSession(QStringLiteral("remote-client"));
    QVERIFY2(!id.isEmpty(), qPrintable(m_daemon->error()));
    QProcess ctl;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("FMB_SSH_OPTIONS"), sshOptions(QStringLiteral("user_key")));
    ctl.setProcessEnvironment(env);
    ctl.start(Ctl, {QStringLiteral("--ssh"), sshTarget(), QStringLiteral("list"), QStringLiteral("--json")});
    QVERIFY(ctl.waitForFinished(30000));
    const QByteArray err = ctl.readAllStandardError();
    QVERIFY2(ctl.exitCode() == 0, err.constData());
    const QJsonArray sessions = QJsonDocument::fromJson(ctl.readAllStandardOutput()).array();
    bool found = false;
    for (const QJsonValue &value : sessions) {
        const QJsonObject session = value.toObject();
        if (session.value(QLatin1String("id")).toString() == id) {
            found = true;
            QCOMPARE(session.value(QLatin1String("client")).toString(), QStringLiteral("remote-client"));
            QVERIFY(session.value(QLatin1String("token_expires")).isNull());
        }
    }
    QVERIFY2(found, err.constData());
    // No forwarded socket is left behind.
    QCOMPARE(tunnelDirs(), dirsBefore);
}

void tst_SshTunnel::brokerctlEvictThroughSsh()
{
    const QString id = m_daemon->createSession(QStringLiteral("evict-remotely"));
    QVERIFY(!id.isEmpty());
    QProcess ctl;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("FMB_SSH_OPTIONS"), sshOptions(QStringLiteral("user_key")));
    ctl.setProcessEnvironment(env);
    ctl.start(Ctl, {QStringLiteral("--ssh"), sshTarget(), QStringLiteral("evict"), id});
    QVERIFY(ctl.waitForFinished(30000));
    QVERIFY2(ctl.exitCode() == 0, ctl.readAllStandardError().constData());
    QVERIFY(ctl.readAllStandardOutput().contains(id.toLatin1()));
}

void tst_SshTunnel::adminClientThroughSsh()
{
    const QStringList dirsBefore = tunnelDirs();
    AdminClient client;
    SshOptions options;
    options.extraArguments = QProcess::splitCommand(sshOptions(QStringLiteral("user_key")));
    client.setSshOptions(options);
    QSignalSpy connected(&client, &AdminClient::connected);
    QSignalSpy failed(&client, &AdminClient::connectionFailed);
    client.connectTo(AdminTarget::fromSshSpec(sshTarget()).value());
    QTRY_VERIFY_WITH_TIMEOUT(connected.count() + failed.count() > 0, 20000);
    QVERIFY2(connected.count() == 1, failed.isEmpty() ? "" : qPrintable(failed.at(0).at(0).toString()));
    QCOMPARE(tunnelDirs().size(), dirsBefore.size() + 1);

    std::optional<AdminReply> info;
    client.request(QStringLiteral("info"), {}, [&info](const AdminReply &reply) { info = reply; });
    QTRY_VERIFY_WITH_TIMEOUT(info.has_value(), 10000);
    QVERIFY2(info->ok, qPrintable(info->error.message));
    QCOMPARE(info->result.toObject().value(QLatin1String("admin_socket")).toString(),
             m_daemon->adminSocket());

    client.disconnectFromDaemon();
    QTRY_COMPARE(tunnelDirs(), dirsBefore);
}

void tst_SshTunnel::missingRemoteSocket()
{
    QProcess ctl;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("FMB_SSH_OPTIONS"), sshOptions(QStringLiteral("user_key")));
    ctl.setProcessEnvironment(env);
    ctl.start(Ctl, {QStringLiteral("--ssh"), QStringLiteral("root@127.0.0.1:/nonexistent/admin.sock"),
                    QStringLiteral("list")});
    QVERIFY(ctl.waitForFinished(30000));
    QCOMPARE(ctl.exitCode(), 3);
    const QString err = QString::fromUtf8(ctl.readAllStandardError());
    QVERIFY2(err.contains(QLatin1String("/nonexistent/admin.sock")), qPrintable(err));
    QVERIFY2(err.contains(QLatin1String("is the broker running there")), qPrintable(err));
}

void tst_SshTunnel::wrongKeyFailsClearly()
{
    QProcess ctl;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("FMB_SSH_OPTIONS"), sshOptions(QStringLiteral("other_key")));
    ctl.setProcessEnvironment(env);
    ctl.start(Ctl, {QStringLiteral("--ssh"), sshTarget(), QStringLiteral("info")});
    QVERIFY(ctl.waitForFinished(30000));
    QCOMPARE(ctl.exitCode(), 3);
    const QString err = QString::fromUtf8(ctl.readAllStandardError());
    QVERIFY2(err.contains(QLatin1String("ssh root@127.0.0.1 failed")), qPrintable(err));
    QVERIFY2(err.contains(QLatin1String("Permission denied")), qPrintable(err));
}

QTEST_GUILESS_MAIN(tst_SshTunnel)
#include "tst_sshtunnel.moc"
