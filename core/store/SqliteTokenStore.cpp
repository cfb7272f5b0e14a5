#include "SqliteTokenStore.h"

#include <QDir>
#include <QFileInfo>
#include <QSqlQuery>

#include "Logging.h"
#include "PrivateFiles.h"
#include "Schema.h"

namespace fmb {
namespace {

// busy_timeout: how long a statement waits for another connection's lock.
constexpr int BusyTimeoutMs = 5000;

} // namespace

Result<void> SqliteTokenStore::open(const QString &stateDir)
{
    return open(stateDir, QDir(stateDir).filePath(databaseFileName()));
}

Result<void> SqliteTokenStore::open(const QString &stateDir, const QString &databasePath,
                                    const QString &keyFile)
{
    if (isAttached())
        return Error{ErrorCode::Conflict, where(), QStringLiteral("the token store is already open")};
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE"))) {
        return Error{ErrorCode::Unavailable, QStringLiteral("QSQLITE"),
                     QStringLiteral("the Qt SQLite driver is not installed (libqt6sql6-sqlite)")};
    }
    if (Result<void> r = ensurePrivateDir(stateDir); !r.ok())
        return r;
    const QString &path = databasePath;
    const QString keyPath = keyFile.isEmpty() ? QDir(stateDir).filePath(keyFileName()) : keyFile;
    if (keyFile.isEmpty() && QFileInfo(path).size() > 0 && !QFileInfo::exists(keyPath)) {
        // A new key could not open what the database holds; don't write one.
        return Error{
            ErrorCode::NotFound, keyPath,
            QStringLiteral("the key file is missing but the database %1 exists; restore the key file "
                           "or start with an empty state directory")
                .arg(path)};
    }
    Result<SecretBox> box =
        keyFile.isEmpty() ? SecretBox::loadOrCreateKeyFile(keyPath) : SecretBox::loadKeyFile(keyPath);
    if (!box.ok())
        return box.error();
    if (Result<void> r = ensurePrivateFile(path); !r.ok())
        return r;

    Connection connection;
    connection.name = newConnectionName();
    connection.where = path;
    connection.keyName = keyFile.isEmpty() ? keyFileName() : keyFile;
    connection.db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection.name);
    connection.db.setDatabaseName(path);
    connection.db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(BusyTimeoutMs));
    return attach(connection, std::move(box).value(), &Schema::migrate);
}

Result<void> SqliteTokenStore::configureConnection()
{
    // ON DELETE CASCADE needs foreign keys on, per connection.
    if (Result<QSqlQuery> r = run(QStringLiteral("PRAGMA foreign_keys = ON")); !r.ok())
        return r.error();
    // Deleted rows (revoked grants, purged hashes) are overwritten, not left in free pages.
    if (Result<QSqlQuery> r = run(QStringLiteral("PRAGMA secure_delete = ON")); !r.ok())
        return r.error();
    {
        Result<QSqlQuery> journal = run(QStringLiteral("PRAGMA journal_mode = WAL"));
        if (!journal.ok())
            return journal.error();
        if (!journal.value().next() || journal.value().value(0).toString() != QLatin1String("wal")) {
            return Error{
                ErrorCode::Io, where(),
                QStringLiteral("the database refused WAL journal mode (is it on a network filesystem?)")};
        }
    }
    // With WAL, NORMAL loses at most the last transactions on power loss, never consistency.
    if (Result<QSqlQuery> r = run(QStringLiteral("PRAGMA synchronous = NORMAL")); !r.ok())
        return r.error();
    return {};
}

void SqliteTokenStore::afterRetire()
{
    if (Result<QSqlQuery> r = run(QStringLiteral("PRAGMA wal_checkpoint(TRUNCATE)")); !r.ok())
        qCWarning(lcStore, "cannot checkpoint the database: %s", qPrintable(r.error().message));
}

} // namespace fmb
