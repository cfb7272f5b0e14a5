#pragma once

#include <QDateTime>
#include <QString>

#include "base/Result.h"
#include "store/PostgresTokenStore.h"

namespace fmb {

// What migrateSqliteToPostgres() moved (issue 14).
struct MigrationCounts {
    int clients = 0;
    int consents = 0;
    int grants = 0;
    int upstreamTokens = 0; // grants that hold Forgejo tokens (sealed; moved as ciphertext)
    int accessTokens = 0;
    int refreshTokens = 0; // rotated and revoked ones included: they keep replay detection working
    int authCodes = 0;     // unexpired ones, used or not
    int expiredTokens = 0; // left behind
    int expiredCodes = 0;  // left behind
};

// Where a migration stopped, which is what its caller tells the operator.
enum class MigrationFailure {
    Unreachable,     // a database could not be opened (no such file, the server not reachable)
    InvalidSource,   // the source is not a broker store of the current schema
    TargetHoldsData, // nothing written: the target holds data and `force` was not given
    CopyFailed,      // the target was open and the copy failed midway: rolled back
};

struct MigrationError {
    MigrationFailure kind;
    Error error;
};

struct MigrationOptions {
    QString sqlitePath;    // the one broker's database (opened read-only)
    PostgresParams target; // the cluster's database
    bool force = false;    // empty a target that holds data first (same transaction)
    QDateTime now;         // what "expired" means; invalid: the current time
};

// A SQLite store that a process other than this one holds open: the broker
// still runs. Every connection to a WAL database holds a read lock on byte
// 128 of its -shm file (SQLite's "dead man switch"), which fcntl(F_GETLK)
// sees without touching the database. Conflict (subject: the path) when
// another process holds it; a database without an -shm file is not open.
[[nodiscard]] Result<void> checkSqliteNotInUse(const QString &sqlitePath);

// Copies a single broker's token store into a cluster's PostgreSQL database
// so that every client, consent, grant with its sealed Forgejo tokens,
// broker token (as its hash) and unexpired authorization code works there
// unchanged. The key check moves too: brokers on the target must use the
// source's key file (--secret-key-file).
//
// The source is opened read-only (immutable when its WAL is empty) and must
// have the latest SQLite schema. The target's schema is created when missing
// (committed on its own, as a broker's first start does); the copy itself is
// one transaction that first locks the target's tables. A target that holds
// a client, grant, token, code or consent, or a key check from another
// source, is refused with Conflict unless `force`, which deletes all of that
// in the same transaction. Every failure once the target is open, whatever
// its SQL error (a serialization failure, a dropped connection, a unique
// violation), is CopyFailed: the transaction is rolled back.
[[nodiscard]] Result<MigrationCounts, MigrationError>
migrateSqliteToPostgres(const MigrationOptions &options);

} // namespace fmb
