#pragma once

#include <QString>

#include "base/Result.h"
#include "store/SqlTokenStore.h"

namespace fmb {

// The TokenStore of one broker: one SQLite file under the state directory,
// with the upstream Forgejo tokens sealed by SecretBox under the key file
// next to it. Survives restarts: open() on the same state directory sees
// everything again.
//
// The state directory is made 0700, the database file 0600 (SQLite gives its
// -wal and -shm files the same mode), and the key file is created 0600 or
// refused when wider. Each SqliteTokenStore owns its own uniquely named
// QSqlDatabase connection; use it from the thread that called open().
// Write transactions are BEGIN IMMEDIATE (the database-wide write lock, so
// read-then-write calls are atomic); SQLITE_BUSY past the 5 s busy timeout
// is Unavailable. Deleted rows are zeroed (secure_delete), and the WAL is
// checkpointed after a grant's upstream tokens are wiped.
class SqliteTokenStore final : public SqlTokenStore {
public:
    SqliteTokenStore() = default;

    static QString databaseFileName() { return QStringLiteral("broker.sqlite3"); }
    static QString keyFileName() { return QStringLiteral("upstream-tokens.key"); }

    // Creates the state directory, key file and database as needed, then
    // migrates the schema. Refuses a key file that does not open the values
    // this database already holds, and a missing key file next to an existing
    // database (it does not write a new key then).
    [[nodiscard]] Result<void> open(const QString &stateDir);
    // The same with the database file at `databasePath` (--database
    // sqlite:PATH); the key stays in `stateDir`, or is the existing file
    // `keyFile` (--secret-key-file; never created).
    [[nodiscard]] Result<void> open(const QString &stateDir, const QString &databasePath,
                                    const QString &keyFile = {});
    [[nodiscard]] QString databasePath() const { return where(); }

protected:
    [[nodiscard]] Result<void> configureConnection() override;
    [[nodiscard]] QString lockRows(const QString &) const override { return {}; }
    [[nodiscard]] QString emptyBlob() const override { return QStringLiteral("X''"); }
    // Moves the WAL into the database file, whose freed cells secure_delete
    // has zeroed.
    void afterRetire() override;
};

} // namespace fmb
