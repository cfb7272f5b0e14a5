#include "BrokerDirectoryWorker.h"

#include <atomic>

#include <QCoreApplication>
#include <QSqlError>
#include <QSqlQuery>

#include "Logging.h"
#include "Sql.h"

namespace fmb {
namespace {

// pg_advisory_xact_lock key of the table's creation: "fmbbrokr" in ASCII,
// apart from the schema lock ("fmbschem") and the refresh locks.
constexpr char LockStatement[] = "SELECT pg_advisory_xact_lock(7308604889935670130)";

constexpr char CreateTable[] = "CREATE TABLE IF NOT EXISTS brokers ("
                               " node_id TEXT PRIMARY KEY,"
                               " host TEXT NOT NULL,"
                               " pid BIGINT NOT NULL,"
                               " listen_url TEXT NOT NULL,"
                               " started_ms BIGINT NOT NULL,"
                               " heartbeat_ms BIGINT NOT NULL,"
                               " heartbeat_interval_ms BIGINT NOT NULL,"
                               " stopped_ms BIGINT,"
                               " sessions INTEGER NOT NULL DEFAULT 0,"
                               " user_children INTEGER NOT NULL DEFAULT 0)";

// The database's clock in ms since the epoch: one clock for every broker. now()
// is the start of the statement's transaction: one value within a statement.
#define FMB_DB_NOW_MS "(extract(epoch from now()) * 1000)::bigint"

// Every directory's thread names its connections from it.
std::atomic<int> connectionCounter{0};

} // namespace

BrokerDirectoryWorker::BrokerDirectoryWorker(BrokerDirectoryConfig config)
    : m_config(std::move(config))
{}

BrokerDirectoryWorker::~BrokerDirectoryWorker()
{
    disconnectDatabase();
}

Result<void> BrokerDirectoryWorker::open()
{
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL"))) {
        return Error{ErrorCode::Unavailable, QStringLiteral("QPSQL"),
                     QStringLiteral("the Qt PostgreSQL driver is not installed (libqt6sql6-psql)")};
    }
    if (Result<void> connected = connectDatabase(); !connected.ok())
        return connected;
    Result<void> ready = createTable();
    if (ready.ok())
        ready = forgetGoneBrokers();
    if (ready.ok())
        ready = writeRow(true, BrokerLoad{});
    if (!ready.ok()) {
        close();
        return Error{ready.error().code, ready.error().subject,
                     QStringLiteral("broker directory: ") + ready.error().message};
    }
    qCInfo(lcStore).noquote() << "broker" << m_config.nodeId << "recorded in" << m_config.params.display()
                              << "(heartbeat every" << m_config.heartbeatInterval.count() << "ms)";
    return {};
}

Result<void> BrokerDirectoryWorker::createTable()
{
    SqlTransaction transaction(m_db);
    if (Result<void> r = transaction.begin(); !r.ok())
        return r;
    // CREATE TABLE IF NOT EXISTS is not safe against itself: two sessions
    // may both find the table missing and one fails on the catalog's
    // unique index. The lock makes the second wait and then find it.
    if (Result<void> r = execSql(m_db, QString::fromLatin1(LockStatement)); !r.ok())
        return r;
    // Asked first: IF NOT EXISTS alone has the server print a notice on
    // every start.
    Result<QSqlQuery> exists = runSql(m_db, QStringLiteral("SELECT to_regclass('brokers') IS NOT NULL"));
    if (!exists.ok())
        return exists.error();
    const bool present = exists.value().next() && exists.value().value(0).toBool();
    exists.value().finish();
    if (!present) {
        if (Result<void> r = execSql(m_db, QString::fromLatin1(CreateTable)); !r.ok())
            return r;
    }
    return transaction.commit();
}

Result<void> BrokerDirectoryWorker::forgetGoneBrokers()
{
    Result<QSqlQuery> deleted = runSqlNamed(
        m_db,
        QStringLiteral("DELETE FROM brokers WHERE node_id <> :node AND heartbeat_ms < " FMB_DB_NOW_MS
                       " - :age"),
        {{QStringLiteral(":node"), m_config.nodeId},
         {QStringLiteral(":age"), qint64(m_config.forgetAfter.count())}});
    if (!deleted.ok())
        return deleted.error();
    if (const int gone = deleted.value().numRowsAffected(); gone > 0) {
        qCInfo(lcStore).noquote()
            << "forgot" << gone << "broker(s) without a heartbeat for"
            << std::chrono::duration_cast<std::chrono::hours>(m_config.forgetAfter).count() << "h";
    }
    return {};
}

Result<void> BrokerDirectoryWorker::writeRow(bool fresh, const BrokerLoad &load)
{
    // A beat inserts too: an operator may have deleted the row, and an
    // UPDATE matching nothing would beat on unseen, listed nowhere.
    const QString sql =
        QStringLiteral("INSERT INTO brokers (node_id, host, pid, listen_url, started_ms, heartbeat_ms,"
                       " heartbeat_interval_ms, stopped_ms, sessions, user_children)"
                       " VALUES (:node, :host, :pid, :url, %1, " FMB_DB_NOW_MS
                       ", :interval, NULL, :sessions, :children)"
                       " ON CONFLICT (node_id) DO UPDATE SET heartbeat_ms = EXCLUDED.heartbeat_ms,"
                       " sessions = EXCLUDED.sessions, user_children = EXCLUDED.user_children,"
                       " stopped_ms = NULL%2 RETURNING started_ms")
            .arg(fresh ? QStringLiteral(FMB_DB_NOW_MS) : QStringLiteral(":started"),
                 fresh ? QStringLiteral(", host = EXCLUDED.host, pid = EXCLUDED.pid,"
                                        " listen_url = EXCLUDED.listen_url, started_ms = EXCLUDED.started_ms,"
                                        " heartbeat_interval_ms = EXCLUDED.heartbeat_interval_ms")
                       : QString());
    SqlNamedValues values{{QStringLiteral(":node"), m_config.nodeId},
                          {QStringLiteral(":host"), m_config.host},
                          {QStringLiteral(":pid"), QCoreApplication::applicationPid()},
                          {QStringLiteral(":url"), m_config.listenUrl},
                          {QStringLiteral(":interval"), qint64(m_config.heartbeatInterval.count())},
                          {QStringLiteral(":sessions"), load.sessions},
                          {QStringLiteral(":children"), load.userChildren}};
    if (!fresh)
        values.append({QStringLiteral(":started"), m_startedMs});
    Result<QSqlQuery> row = runSqlNamed(m_db, sql, values);
    if (!row.ok())
        return row.error();
    if (fresh && row.value().next())
        m_startedMs = row.value().value(0).toLongLong();
    return {};
}

void BrokerDirectoryWorker::beat(const BrokerLoad &load)
{
    const bool wasConnected = isConnected();
    Result<void> written = wasConnected ? writeRow(false, load) : Result<void>();
    if (!wasConnected || !written.ok()) {
        // The connection is not trusted again after a failed statement: a
        // restarted server dropped it, and QPSQL never reconnects by itself.
        // A new one is tried now (the restart may be over) and at every beat.
        disconnectDatabase();
        if (Result<void> connected = connectDatabase(); connected.ok()) {
            written = writeRow(false, load);
            if (!written.ok())
                disconnectDatabase();
        } else if (!wasConnected) {
            written = connected; // else the statement's error says more
        }
    }
    if (!written.ok()) {
        if (!m_failing) {
            qCWarning(lcStore).noquote()
                << "broker heartbeat failed:" << written.error().message << "; reconnecting at every beat";
            m_failingSince.start();
        }
        m_failing = true;
        Q_EMIT beaten(written.error().message);
        return;
    }
    if (m_failing)
        qCInfo(lcStore).noquote() << "broker heartbeat works again after" << m_failingSince.elapsed() << "ms";
    m_failing = false;
    Q_EMIT beaten(QString());
}

void BrokerDirectoryWorker::readBrokers(quint64 request)
{
    Result<QList<BrokerRecord>> records = brokers();
    if (records.ok())
        Q_EMIT brokersRead(request, true, records.value(), Error{});
    else
        Q_EMIT brokersRead(request, false, {}, records.error());
}

Result<QList<BrokerRecord>> BrokerDirectoryWorker::brokers() const
{
    if (!isConnected())
        return Error{ErrorCode::Unavailable, m_config.params.display(),
                     QStringLiteral("the broker directory lost its database; the next beat reconnects")};
    Result<QSqlQuery> rows =
        runSql(m_db, QStringLiteral("SELECT node_id, host, pid, listen_url, started_ms, heartbeat_ms,"
                                    " " FMB_DB_NOW_MS " - heartbeat_ms, heartbeat_interval_ms,"
                                    " COALESCE(stopped_ms, 0), sessions, user_children"
                                    " FROM brokers ORDER BY node_id"));
    if (!rows.ok())
        return rows.error();
    QSqlQuery &query = rows.value();
    QList<BrokerRecord> records;
    while (query.next()) {
        BrokerRecord record;
        record.nodeId = query.value(0).toString();
        record.host = query.value(1).toString();
        record.pid = query.value(2).toLongLong();
        record.listenUrl = query.value(3).toString();
        record.startedMs = query.value(4).toLongLong();
        record.heartbeatMs = query.value(5).toLongLong();
        record.heartbeatAgeMs = std::max<qint64>(0, query.value(6).toLongLong());
        record.heartbeatIntervalMs = query.value(7).toLongLong();
        record.stoppedMs = query.value(8).toLongLong();
        record.sessions = query.value(9).toInt();
        record.userChildren = query.value(10).toInt();
        records.append(record);
    }
    return records;
}

void BrokerDirectoryWorker::stop()
{
    if (isConnected()) {
        // Bounded: a shutdown must not wait for a lock or a hung server
        // longer than this. The row then turns stale instead of stopped.
        Result<void> bounded = execSql(m_db, QStringLiteral("SET statement_timeout = %1").arg(StopTimeoutMs));
        Result<QSqlQuery> row =
            bounded.ok() ? runSqlNamed(m_db,
                                       QStringLiteral("UPDATE brokers SET stopped_ms = " FMB_DB_NOW_MS
                                                      ", sessions = 0, user_children = 0"
                                                      " WHERE node_id = :node"),
                                       {{QStringLiteral(":node"), m_config.nodeId}})
                         : Result<QSqlQuery>(bounded.error());
        if (!row.ok())
            qCWarning(lcStore).noquote()
                << "cannot mark broker" << m_config.nodeId << "stopped:" << row.error().message;
    }
    close();
    Q_EMIT stopped();
}

Result<void> BrokerDirectoryWorker::connectDatabase()
{
    m_connectionName = QStringLiteral("fmb.brokers.%1").arg(++connectionCounter);
    m_db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), m_connectionName);
    m_config.params.applyTo(m_db);
    if (m_db.open())
        return {};
    const Error error{ErrorCode::Unavailable, m_config.params.display(),
                      QStringLiteral("broker directory: cannot open the database: ") +
                          m_db.lastError().text()};
    disconnectDatabase();
    return error;
}

void BrokerDirectoryWorker::disconnectDatabase()
{
    dropConnection(m_db, m_connectionName);
}

void BrokerDirectoryWorker::close()
{
    disconnectDatabase();
}

} // namespace fmb
