// The built daemon in a cluster (issue 14) against a throwaway PostgreSQL:
// the broker directory's statements wait on their own thread, so the admin
// socket keeps answering while the brokers table is locked, and SIGTERM
// still marks this broker stopped.
#include <memory>

#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocalSocket>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include "DaemonProcess.h"
#include "PgCluster.h"

using fmbtest::DaemonProcess;

class tst_DaemonCluster : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void adminAnswersWhileTheDirectoryWaits();

private:
    // One admin request on `socket`; the reply line, or empty after `timeoutMs`.
    [[nodiscard]] static QJsonObject ask(QLocalSocket &socket, int id, const QString &command, int timeoutMs);
    [[nodiscard]] static QJsonObject reply(QLocalSocket &socket, int timeoutMs);

    std::unique_ptr<fmbtest::PgCluster> m_cluster;
    QString m_unavailable;
};

void tst_DaemonCluster::initTestCase()
{
    // start() says why when the binaries or the QPSQL driver are missing.
    m_cluster = std::make_unique<fmbtest::PgCluster>();
    if (fmb::Result<void> started = m_cluster->start(); !started.ok())
        m_unavailable = started.error().message;
}

void tst_DaemonCluster::cleanupTestCase()
{
    QSqlDatabase::removeDatabase(QStringLiteral("test"));
}

QJsonObject tst_DaemonCluster::reply(QLocalSocket &socket, int timeoutMs)
{
    if (!QTest::qWaitFor([&socket] { return socket.canReadLine(); }, timeoutMs))
        return {};
    return QJsonDocument::fromJson(socket.readLine()).object();
}

QJsonObject tst_DaemonCluster::ask(QLocalSocket &socket, int id, const QString &command, int timeoutMs)
{
    socket.write(QJsonDocument(QJsonObject{{QStringLiteral("v"), 1},
                                           {QStringLiteral("id"), id},
                                           {QStringLiteral("cmd"), command}})
                     .toJson(QJsonDocument::Compact) +
                 '\n');
    return reply(socket, timeoutMs);
}

void tst_DaemonCluster::adminAnswersWhileTheDirectoryWaits()
{
    if (!m_unavailable.isEmpty())
        QSKIP(qPrintable(QStringLiteral("no PostgreSQL cluster: ") + m_unavailable));
    fmb::Result<fmb::PostgresParams> database = m_cluster->createDatabase();
    QVERIFY2(database.ok(), database.ok() ? "" : qPrintable(database.error().message));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QFile secret(dir.filePath(QStringLiteral("client-secret")));
    QVERIFY(secret.open(QIODevice::WriteOnly));
    secret.write("client-secret-value");
    secret.close();
    QVERIFY(secret.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
    // A cluster's key is the operator's: a broker never makes one itself.
    QFile key(dir.filePath(QStringLiteral("upstream.key")));
    QVERIFY(key.open(QIODevice::WriteOnly));
    QCOMPARE(key.write(QByteArray(32, '\x5a')), qint64(32));
    key.close();
    QVERIFY(key.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
    const QString adminSocket = dir.filePath(QStringLiteral("admin.sock"));

    DaemonProcess daemon;
    QVERIFY2(daemon.startListening({QStringLiteral("--auth"),
                                    QStringLiteral("oauth"),
                                    QStringLiteral("--listen"),
                                    QStringLiteral("127.0.0.1:0"),
                                    QStringLiteral("--child-command"),
                                    DaemonProcess::testServerPath(),
                                    QStringLiteral("--public-url"),
                                    QStringLiteral("http://127.0.0.1:9"),
                                    QStringLiteral("--forgejo-url"),
                                    QStringLiteral("http://127.0.0.1:9"),
                                    QStringLiteral("--forgejo-client-id"),
                                    QStringLiteral("fmb"),
                                    QStringLiteral("--forgejo-client-secret-file"),
                                    secret.fileName(),
                                    QStringLiteral("--state-dir"),
                                    dir.filePath(QStringLiteral("state")),
                                    QStringLiteral("--secret-key-file"),
                                    dir.filePath(QStringLiteral("upstream.key")),
                                    QStringLiteral("--database"),
                                    m_cluster->url(database.value().database),
                                    QStringLiteral("--node-id"),
                                    QStringLiteral("web1"),
                                    QStringLiteral("--admin-socket"),
                                    adminSocket}),
             qPrintable(daemon.failure()));

    QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("test"));
    database.value().applyTo(db);
    QVERIFY2(db.open(), qPrintable(db.lastError().text()));
    QSqlQuery query(db);
    // Another session holds the brokers table.
    QVERIFY2(query.exec(QStringLiteral("BEGIN")), qPrintable(query.lastError().text()));
    QVERIFY2(query.exec(QStringLiteral("LOCK TABLE brokers IN ACCESS EXCLUSIVE MODE")),
             qPrintable(query.lastError().text()));

    QLocalSocket admin;
    admin.connectToServer(adminSocket);
    QVERIFY2(admin.waitForConnected(5000), qPrintable(admin.errorString()));
    admin.write(R"({"v":1,"id":1,"cmd":"brokers"})"
                "\n");
    // The brokers SELECT waits on the lock, on the directory's thread: the
    // daemon's event loop answers the next command meanwhile.
    QElapsedTimer answered;
    answered.start();
    const QJsonObject info = ask(admin, 2, QStringLiteral("info"), 5000);
    qInfo("info answered in %lld ms while brokers waited on the lock", answered.elapsed());
    QVERIFY2(info.value(QStringLiteral("id")).toInt() == 2, QJsonDocument(info).toJson().constData());
    QCOMPARE(info.value(QStringLiteral("result")).toObject().value(QStringLiteral("node_id")).toString(),
             QStringLiteral("web1"));

    QVERIFY2(query.exec(QStringLiteral("ROLLBACK")), qPrintable(query.lastError().text()));
    const QJsonObject brokers = reply(admin, 10000);
    QCOMPARE(brokers.value(QStringLiteral("id")).toInt(), 1);
    QCOMPARE(brokers.value(QStringLiteral("result")).toObject().value(QStringLiteral("source")).toString(),
             QStringLiteral("database"));

    // SIGTERM: the row is marked stopped before the process is gone.
    QCOMPARE(daemon.stop(), 0);
    QVERIFY2(query.exec(QStringLiteral("SELECT stopped_ms FROM brokers WHERE node_id = 'web1'")) &&
                 query.next(),
             qPrintable(query.lastError().text()));
    QVERIFY2(!query.value(0).isNull(), daemon.log().constData());
    query.finish();
    db.close();
}

QTEST_GUILESS_MAIN(tst_DaemonCluster)
#include "tst_daemoncluster.moc"
