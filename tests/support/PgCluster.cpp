#include "PgCluster.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <QDeadlineTimer>
#include <QDir>
#include <QDirIterator>
#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>

namespace fmbtest {
namespace {

constexpr int Port = 5432; // only names the socket file: no TCP listener
const QString Role = QStringLiteral("fmb");

// The newest /usr/lib/postgresql/<major>/bin holding initdb and postgres.
QString binDir()
{
    QStringList majors =
        QDir(QStringLiteral("/usr/lib/postgresql")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    std::sort(majors.begin(), majors.end(),
              [](const QString &a, const QString &b) { return a.toInt() > b.toInt(); });
    for (const QString &major : majors) {
        const QString dir = QStringLiteral("/usr/lib/postgresql/%1/bin").arg(major);
        if (QFileInfo(dir + QStringLiteral("/initdb")).isExecutable() &&
            QFileInfo(dir + QStringLiteral("/postgres")).isExecutable())
            return dir;
    }
    return {};
}

fmb::Error failure(const QString &what, const QString &message)
{
    return fmb::Error{fmb::ErrorCode::Unavailable, what, message};
}

} // namespace

PgCluster::PgCluster() = default;

PgCluster::~PgCluster()
{
    stop();
}

QString PgCluster::unavailableReason()
{
    if (binDir().isEmpty())
        return QStringLiteral("PostgreSQL server binaries not installed (Debian package postgresql: "
                              "/usr/lib/postgresql/<major>/bin/initdb)");
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL")))
        return QStringLiteral("the Qt PostgreSQL driver is not installed (Debian package libqt6sql6-psql)");
    return {};
}

void PgCluster::configureAsServerUser(QProcess &process) const
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("LC_ALL"), QStringLiteral("C"));
    env.insert(QStringLiteral("LANG"), QStringLiteral("C"));
    process.setProcessEnvironment(env);
    process.setWorkingDirectory(m_dir->path());
    if (m_uid < 0)
        return;
    const uid_t uid = static_cast<uid_t>(m_uid);
    const gid_t gid = static_cast<gid_t>(m_gid);
    // Between fork and exec: drop root for good, as `runuser -u nobody` would.
    process.setChildProcessModifier([uid, gid] {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
            ::_exit(126);
    });
}

fmb::Result<void> PgCluster::runTool(const QString &tool, const QStringList &arguments)
{
    QProcess process;
    configureAsServerUser(process);
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.start(binDir() + QLatin1Char('/') + tool, arguments);
    if (!process.waitForStarted() || !process.waitForFinished(120000) ||
        process.exitStatus() != QProcess::NormalExit || process.exitCode() != 0) {
        return failure(tool, QStringLiteral("%1 failed (exit %2): %3")
                                 .arg(tool)
                                 .arg(process.exitCode())
                                 .arg(QString::fromLocal8Bit(process.readAll())));
    }
    return {};
}

fmb::Result<void> PgCluster::start()
{
    if (const QString reason = unavailableReason(); !reason.isEmpty())
        return failure(QStringLiteral("postgresql"), reason);
    m_dir = std::make_unique<QTemporaryDir>(QDir::tempPath() + QStringLiteral("/fmb-pg-XXXXXX"));
    if (!m_dir->isValid())
        return failure(QStringLiteral("postgresql"), QStringLiteral("no temporary directory"));
    if (::geteuid() == 0) {
        const passwd *nobody = ::getpwnam("nobody");
        if (nobody == nullptr)
            return failure(QStringLiteral("postgresql"),
                           QStringLiteral("running as root and no user nobody"));
        m_uid = static_cast<int>(nobody->pw_uid);
        m_gid = static_cast<int>(nobody->pw_gid);
        if (::chown(QFile::encodeName(m_dir->path()).constData(), nobody->pw_uid, nobody->pw_gid) != 0)
            return failure(m_dir->path(), QStringLiteral("cannot hand the directory to nobody"));
    }
    const QString data = m_dir->filePath(QStringLiteral("data"));
    if (fmb::Result<void> r =
            runTool(QStringLiteral("initdb"),
                    {QStringLiteral("-D"), data, QStringLiteral("-U"), Role, QStringLiteral("-A"),
                     QStringLiteral("trust"), QStringLiteral("-E"), QStringLiteral("UTF8"),
                     QStringLiteral("--locale=C"), QStringLiteral("--no-sync")});
        !r.ok()) {
        return r;
    }
    return startServer();
}

fmb::Result<void> PgCluster::startServer()
{
    const QString data = m_dir->filePath(QStringLiteral("data"));
    m_log.clear();
    m_server = std::make_unique<QProcess>();
    configureAsServerUser(*m_server);
    m_server->setProcessChannelMode(QProcess::MergedChannels);
    m_server->start(binDir() + QStringLiteral("/postgres"),
                    {QStringLiteral("-D"), data, QStringLiteral("-k"), m_dir->path(), QStringLiteral("-p"),
                     QString::number(Port), QStringLiteral("-c"), QStringLiteral("listen_addresses="),
                     QStringLiteral("-c"), QStringLiteral("fsync=off"), QStringLiteral("-c"),
                     QStringLiteral("synchronous_commit=off"), QStringLiteral("-c"),
                     QStringLiteral("full_page_writes=off"), QStringLiteral("-c"),
                     QStringLiteral("max_connections=200")});
    if (!m_server->waitForStarted())
        return failure(QStringLiteral("postgres"), QStringLiteral("postgres did not start"));
    // Ready once it says so; the log line is the condition, not a delay.
    const QDeadlineTimer deadline(60000);
    while (!m_log.contains("database system is ready to accept connections")) {
        if (m_server->state() != QProcess::Running || deadline.hasExpired()) {
            m_log += m_server->readAll();
            return failure(QStringLiteral("postgres"),
                           QStringLiteral("postgres did not become ready: ") + QString::fromLocal8Bit(m_log));
        }
        m_server->waitForReadyRead(static_cast<int>(qMax<qint64>(1, deadline.remainingTime())));
        m_log += m_server->readAll();
    }
    return {};
}

bool PgCluster::isRunning() const
{
    return m_server && m_server->state() == QProcess::Running;
}

void PgCluster::stop()
{
    stopServer();
    m_dir.reset();
}

void PgCluster::stopServer()
{
    if (m_server) {
        if (m_server->state() == QProcess::Running) {
            // SIGINT: fast shutdown (disconnect clients, no waiting).
            ::kill(static_cast<pid_t>(m_server->processId()), SIGINT);
            if (!m_server->waitForFinished(30000)) {
                m_server->kill();
                m_server->waitForFinished();
            }
        }
        m_log += m_server->readAll();
        m_server.reset();
    }
}

QString PgCluster::socketDir() const
{
    return m_dir ? m_dir->path() : QString();
}

fmb::PostgresParams PgCluster::params(const QString &database) const
{
    fmb::PostgresParams params;
    params.host = socketDir();
    params.port = Port;
    params.user = Role;
    params.database = database;
    return params;
}

QString PgCluster::url(const QString &database) const
{
    return QStringLiteral("postgresql://%1@:%2/%3?host=%4").arg(Role).arg(Port).arg(database, socketDir());
}

fmb::Result<fmb::PostgresParams> PgCluster::createDatabase()
{
    const QString name = QStringLiteral("fmb_test_%1").arg(++m_databases);
    const QString connection = QStringLiteral("fmbtest.pgadmin");
    QString error;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), connection);
        const fmb::PostgresParams admin = params(QStringLiteral("postgres"));
        db.setHostName(admin.host);
        db.setPort(admin.port);
        db.setUserName(admin.user);
        db.setDatabaseName(admin.database);
        if (!db.open()) {
            error = db.lastError().text();
        } else {
            QSqlQuery query(db);
            // FILE_COPY: with fsync off much faster than logging the template to WAL.
            if (!query.exec(QStringLiteral("CREATE DATABASE ") + name +
                            QStringLiteral(" STRATEGY = FILE_COPY")))
                error = query.lastError().text();
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    if (!error.isEmpty())
        return failure(name, QStringLiteral("cannot create the database: ") + error);
    return params(name);
}

} // namespace fmbtest
