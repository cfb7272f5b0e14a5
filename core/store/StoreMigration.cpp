#include "StoreMigration.h"

#include <array>
#include <atomic>
#include <functional>

#include <fcntl.h>
#include <unistd.h>

#include <QFile>
#include <QFileInfo>
#include <QMap>
#include <QSqlQuery>
#include <QStringList>
#include <QUrl>

#include "Logging.h"
#include "PostgresSchema.h"
#include "Schema.h"
#include "Sql.h"

namespace fmb {
namespace {

std::atomic<quint64> migrationCounter{0};

// SQLite's unix VFS: every connection to a WAL database holds a shared lock
// on this byte of the -shm file while it is open (UNIX_SHM_DMS in os_unix.c).
constexpr off_t ShmDeadManSwitch = 128;

// One table to copy: its columns (the same in both schemas) and which rows.
struct Table {
    const char *name;
    const char *columns;
    const char *where; // over the source; `?` is now in ms
};

// In foreign-key order. Expired broker tokens and codes stay behind (a purge
// would delete them); rotated, revoked and used ones that have not expired
// move, so that a replay is still recognised on the cluster.
const std::array Tables = {
    Table{"meta", "name, value", ""},
    Table{"clients",
          "client_id, client_name, redirect_uris, kind, created_ms, authorized_ms, "
          "token_endpoint_auth_method, client_secret_hash",
          ""},
    Table{"consents", "user_id, client_id, scope, created_ms", ""},
    Table{"grants",
          "grant_id, user_login, user_id, client_id, scope, created_ms, upstream_access, upstream_refresh, "
          "upstream_expires_ms, upstream_updated_ms, revoked_ms",
          ""},
    Table{
        "tokens",
        "token_hash, kind, grant_id, family_id, scope, resource, created_ms, expires_ms, revoked, rotated_ms",
        " WHERE expires_ms > ?"},
    Table{"auth_codes",
          "code_hash, grant_id, client_id, redirect_uri, code_challenge, code_challenge_method, resource, "
          "scope, "
          "created_ms, expires_ms, used_ms",
          " WHERE expires_ms > ?"},
};

// A named Qt Sql connection, removed again when this goes.
class ScopedConnection final {
public:
    explicit ScopedConnection(const QString &driver)
        : m_name(QStringLiteral("fmb.migrate.%1").arg(++migrationCounter))
    {
        m_db = QSqlDatabase::addDatabase(driver, m_name);
    }
    ~ScopedConnection()
    {
        m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_name);
    }
    ScopedConnection(const ScopedConnection &) = delete;
    ScopedConnection &operator=(const ScopedConnection &) = delete;

    [[nodiscard]] QSqlDatabase &db() { return m_db; }

private:
    QString m_name;
    QSqlDatabase m_db;
};

Result<void> openSource(ScopedConnection &source, const QString &path)
{
    if (!QFileInfo(path).isFile())
        return Error{ErrorCode::NotFound, path, QStringLiteral("%1: no such database file").arg(path)};
    // An empty WAL: the database file is complete, and immutable=1 reads it
    // without creating -wal or -shm files or taking a lock. Otherwise (the
    // broker did not shut down cleanly) a read-only connection reads the WAL too.
    const QString walPath = path + QStringLiteral("-wal");
    const bool walEmpty = QFileInfo(walPath).size() == 0;
    QUrl uri = QUrl::fromLocalFile(path);
    uri.setQuery(walEmpty ? QStringLiteral("immutable=1") : QStringLiteral("mode=ro"));
    source.db().setDatabaseName(uri.toString(QUrl::FullyEncoded));
    source.db().setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY;QSQLITE_OPEN_URI"));
    if (!source.db().open()) {
        return Error{
            ErrorCode::Unavailable, path,
            QStringLiteral("%1: cannot open the database: %2").arg(path, source.db().lastError().text())};
    }
    Result<QSqlQuery> version =
        runSql(source.db(), QStringLiteral("SELECT max(version) FROM schema_version"));
    if (!version.ok() || !version.value().next()) {
        return Error{
            ErrorCode::InvalidArgument, path,
            QStringLiteral("%1 is not a forgejo-mcp-broker token store (no schema_version table)").arg(path)};
    }
    const int found = version.value().value(0).toInt();
    if (found != Schema::latestVersion()) {
        return Error{
            ErrorCode::InvalidArgument, path,
            QStringLiteral("%1 has schema version %2; this migrate-store copies version %3 (start and "
                           "stop the broker of this release on it once to upgrade it)")
                .arg(path)
                .arg(found)
                .arg(Schema::latestVersion())};
    }
    return {};
}

Result<void> openTarget(ScopedConnection &target, const PostgresParams &params)
{
    if (params.database.isEmpty())
        return Error{ErrorCode::InvalidArgument, QStringLiteral("database"),
                     QStringLiteral("no database name")};
    params.applyTo(target.db());
    if (!target.db().open()) {
        // The driver's text names the host and user, never the password.
        return Error{ErrorCode::Unavailable, params.display(),
                     QStringLiteral("%1: cannot open the database: %2")
                         .arg(params.display(), target.db().lastError().text())};
    }
    Result<int> version = PostgresSchema::migrate(target.db());
    if (!version.ok())
        return version.error();
    return {};
}

Result<QMap<QString, QByteArray>> readMeta(const QSqlDatabase &db)
{
    Result<QSqlQuery> rows = runSql(db, QStringLiteral("SELECT name, value FROM meta"));
    if (!rows.ok())
        return rows.error();
    QMap<QString, QByteArray> meta;
    while (rows.value().next())
        meta.insert(rows.value().value(0).toString(), rows.value().value(1).toByteArray());
    return meta;
}

// What the target holds that a copy would clash with; empty when nothing.
Result<QStringList> targetContents(const QSqlDatabase &target, const QMap<QString, QByteArray> &sourceMeta)
{
    QStringList held;
    for (const char *table : {"clients", "grants", "tokens", "auth_codes", "consents"}) {
        Result<QSqlQuery> count =
            runSql(target, QStringLiteral("SELECT count(*) FROM %1").arg(QLatin1String(table)));
        if (!count.ok())
            return count.error();
        const qint64 rows = count.value().next() ? count.value().value(0).toLongLong() : 0;
        if (rows > 0)
            held << QStringLiteral("%1 %2").arg(rows).arg(QLatin1String(table));
    }
    Result<QMap<QString, QByteArray>> meta = readMeta(target);
    if (!meta.ok())
        return meta.error();
    if (!meta.value().isEmpty() && meta.value() != sourceMeta)
        held << QStringLiteral("the key check of another key file (a broker has opened it)");
    return held;
}

// Copies `table` from source to target; `seen` looks at each row copied.
Result<int> copyTable(const QSqlDatabase &source, const QSqlDatabase &target, const Table &table,
                      qint64 nowMs, const std::function<void(const QSqlQuery &)> &seen = {})
{
    const QString columns = QString::fromLatin1(table.columns);
    const QString where = QString::fromLatin1(table.where);
    Result<QSqlQuery> rows =
        runSql(source, QStringLiteral("SELECT %1 FROM %2%3").arg(columns, QLatin1String(table.name), where),
               where.isEmpty() ? QVariantList{} : QVariantList{nowMs});
    if (!rows.ok())
        return rows.error();
    const int width = int(columns.count(QLatin1Char(',')) + 1);
    QStringList marks;
    for (int i = 0; i < width; ++i)
        marks << QStringLiteral("?");
    const QString insertSql = QStringLiteral("INSERT INTO %1 (%2) VALUES (%3)")
                                  .arg(QLatin1String(table.name), columns, marks.join(QStringLiteral(", ")));
    QSqlQuery insert(target);
    if (!insert.prepare(insertSql))
        return sqlError(insert.lastError(), insertSql.left(60));
    int copied = 0;
    QSqlQuery &row = rows.value();
    while (row.next()) {
        for (int i = 0; i < width; ++i) {
            QVariant value = row.value(i);
            // QSQLITE reads a zero-length blob (X'', the Forgejo tokens of a
            // revoked grant) as a null QByteArray, which QPSQL binds as NULL.
            if (!row.isNull(i) && value.typeId() == QMetaType::QByteArray && value.toByteArray().isNull())
                value = QVariant(QByteArray(""));
            insert.bindValue(i, value);
        }
        if (!insert.exec())
            return sqlError(insert.lastError(), insertSql.left(60));
        if (seen)
            seen(row);
        ++copied;
    }
    return copied;
}

Result<int> countExpired(const QSqlDatabase &source, const char *table, qint64 nowMs)
{
    Result<QSqlQuery> count = runSql(
        source, QStringLiteral("SELECT count(*) FROM %1 WHERE expires_ms <= ?").arg(QLatin1String(table)),
        {nowMs});
    if (!count.ok())
        return count.error();
    return count.value().next() ? count.value().value(0).toInt() : 0;
}

Result<void> copyAll(const QSqlDatabase &source, const QSqlDatabase &target, qint64 nowMs,
                     MigrationCounts &counts)
{
    for (const Table &table : Tables) {
        const QLatin1String name(table.name);
        std::function<void(const QSqlQuery &)> seen;
        if (name == QLatin1String("grants")) {
            // A revoked grant's upstream tokens are wiped (a zero-length blob).
            seen = [&counts](const QSqlQuery &row) {
                if (row.value(10).isNull() && !row.value(6).toByteArray().isEmpty())
                    ++counts.upstreamTokens;
            };
        } else if (name == QLatin1String("tokens")) {
            seen = [&counts](const QSqlQuery &row) {
                ++(row.value(1).toInt() == 2 ? counts.refreshTokens : counts.accessTokens);
            };
        }
        Result<int> copied = copyTable(source, target, table, nowMs, seen);
        if (!copied.ok())
            return copied.error();
        if (name == QLatin1String("clients"))
            counts.clients = copied.value();
        else if (name == QLatin1String("consents"))
            counts.consents = copied.value();
        else if (name == QLatin1String("grants"))
            counts.grants = copied.value();
        else if (name == QLatin1String("auth_codes"))
            counts.authCodes = copied.value();
    }
    return {};
}

} // namespace

Result<void> checkSqliteNotInUse(const QString &sqlitePath)
{
    const QString shm = sqlitePath + QStringLiteral("-shm");
    const int fd = ::open(QFile::encodeName(shm).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {}; // no -shm file: no connection has the database open
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = ShmDeadManSwitch;
    lock.l_len = 1;
    const int rc = ::fcntl(fd, F_GETLK, &lock);
    ::close(fd);
    if (rc == 0 && lock.l_type != F_UNLCK) {
        return Error{
            ErrorCode::Conflict, sqlitePath,
            QStringLiteral("%1 is open in process %2 (a running forgejo-mcp-brokerd?); stop the broker "
                           "before migrating its store")
                .arg(sqlitePath)
                .arg(lock.l_pid)};
    }
    return {};
}

namespace {

// The part of the migration that runs inside the target's transaction: any
// failure here is CopyFailed (rolled back), except the refusal of a target
// that holds data.
Result<MigrationCounts, MigrationError> copyInto(QSqlDatabase &sourceDb, QSqlDatabase &targetDb,
                                                 const QMap<QString, QByteArray> &sourceMeta,
                                                 const MigrationOptions &options, qint64 nowMs);

MigrationError failedAs(MigrationFailure kind, Error error)
{
    return MigrationError{kind, std::move(error)};
}

} // namespace

// A database that cannot be opened (or is not there) is Unreachable; a source
// that opened but is not a broker store of this schema is InvalidSource.
MigrationFailure openFailure(const Error &error)
{
    return error.code == ErrorCode::InvalidArgument ? MigrationFailure::InvalidSource
                                                    : MigrationFailure::Unreachable;
}

Result<MigrationCounts, MigrationError> migrateSqliteToPostgres(const MigrationOptions &options)
{
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QPSQL"))) {
        return failedAs(MigrationFailure::Unreachable,
                        Error{ErrorCode::Unavailable, QStringLiteral("QPSQL"),
                              QStringLiteral("the Qt PostgreSQL driver is not installed (libqt6sql6-psql)")});
    }
    const qint64 nowMs =
        (options.now.isValid() ? options.now : QDateTime::currentDateTimeUtc()).toMSecsSinceEpoch();
    ScopedConnection source(QStringLiteral("QSQLITE"));
    if (Result<void> r = openSource(source, options.sqlitePath); !r.ok())
        return failedAs(openFailure(r.error()), r.error());
    Result<QMap<QString, QByteArray>> sourceMeta = readMeta(source.db());
    if (!sourceMeta.ok())
        return failedAs(MigrationFailure::InvalidSource, sourceMeta.error());

    ScopedConnection target(QStringLiteral("QPSQL"));
    if (Result<void> r = openTarget(target, options.target); !r.ok()) {
        // Open, but its schema could not be created or migrated: nothing copied yet.
        return failedAs(r.error().code == ErrorCode::Unavailable ? MigrationFailure::Unreachable
                                                                 : MigrationFailure::CopyFailed,
                        r.error());
    }
    SqlTransaction transaction(target.db());
    if (Result<void> r = transaction.begin(); !r.ok())
        return failedAs(MigrationFailure::CopyFailed, r.error());
    Result<MigrationCounts, MigrationError> counts =
        copyInto(source.db(), target.db(), sourceMeta.value(), options, nowMs);
    if (!counts.ok())
        return counts; // the transaction rolls back
    if (Result<void> r = transaction.commit(); !r.ok())
        return failedAs(MigrationFailure::CopyFailed, r.error());
    qCInfo(lcStore, "copied %s into %s", qPrintable(options.sqlitePath),
           qPrintable(options.target.display()));
    return counts;
}

namespace {

Result<MigrationCounts, MigrationError> copyInto(QSqlDatabase &sourceDb, QSqlDatabase &targetDb,
                                                 const QMap<QString, QByteArray> &sourceMeta,
                                                 const MigrationOptions &options, qint64 nowMs)
{
    const auto failed = [](const Error &error) { return failedAs(MigrationFailure::CopyFailed, error); };
    // No broker on the target reads or writes until the copy is committed whole.
    if (Result<void> r =
            execSql(targetDb, QStringLiteral("LOCK TABLE meta, clients, grants, tokens, auth_codes, "
                                             "consents IN ACCESS EXCLUSIVE MODE"));
        !r.ok()) {
        return failed(r.error());
    }
    Result<QStringList> held = targetContents(targetDb, sourceMeta);
    if (!held.ok())
        return failed(held.error());
    if (!held.value().isEmpty()) {
        if (!options.force) {
            return failedAs(
                MigrationFailure::TargetHoldsData,
                Error{ErrorCode::Conflict, options.target.display(),
                      QStringLiteral("%1 already holds %2; migrate-store writes only into an empty "
                                     "store (--force deletes all of it first)")
                          .arg(options.target.display(), held.value().join(QStringLiteral(", ")))});
        }
        for (const char *table : {"auth_codes", "tokens", "consents", "grants", "clients", "meta"}) {
            if (Result<QSqlQuery> r =
                    runSql(targetDb, QStringLiteral("DELETE FROM %1").arg(QLatin1String(table)));
                !r.ok())
                return failed(r.error());
        }
        qCInfo(lcStore, "deleted what %s held: %s", qPrintable(options.target.display()),
               qPrintable(held.value().join(QStringLiteral(", "))));
    } else if (!sourceMeta.isEmpty()) {
        // The same key check as the source's (a broker with the old key opened it): copied anew.
        if (Result<QSqlQuery> r = runSql(targetDb, QStringLiteral("DELETE FROM meta")); !r.ok())
            return failed(r.error());
    }

    MigrationCounts counts;
    if (Result<void> r = copyAll(sourceDb, targetDb, nowMs, counts); !r.ok())
        return failed(r.error());
    Result<int> expiredTokens = countExpired(sourceDb, "tokens", nowMs);
    if (!expiredTokens.ok())
        return failed(expiredTokens.error());
    counts.expiredTokens = expiredTokens.value();
    Result<int> expiredCodes = countExpired(sourceDb, "auth_codes", nowMs);
    if (!expiredCodes.ok())
        return failed(expiredCodes.error());
    counts.expiredCodes = expiredCodes.value();
    return counts;
}

} // namespace

} // namespace fmb
