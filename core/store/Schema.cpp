#include "Schema.h"

#include <array>
#include <span>

#include <QSqlQuery>
#include <QStringList>

#include "Logging.h"
#include "Sql.h"

namespace fmb {
namespace {

struct Migration {
    int version;
    std::span<const char *const> statements;
};

// Times are milliseconds since the epoch (UTC). Hashes are 64 lowercase hex
// digits. Upstream tokens are AES-256-GCM nonce|ciphertext|tag blobs.
constexpr std::array Version1 = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE meta ("
    " name TEXT PRIMARY KEY,"
    " value BLOB NOT NULL)",
    "CREATE TABLE clients ("
    " client_id TEXT PRIMARY KEY,"
    " client_name TEXT NOT NULL,"
    " redirect_uris TEXT NOT NULL," // JSON array of strings
    " kind INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL)",
    "CREATE TABLE grants ("
    " grant_id TEXT PRIMARY KEY,"
    " user_login TEXT NOT NULL,"
    " user_id INTEGER NOT NULL,"
    " client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " upstream_access BLOB NOT NULL,"
    " upstream_refresh BLOB,"
    " upstream_expires_ms INTEGER,"
    " upstream_updated_ms INTEGER NOT NULL)",
    "CREATE INDEX grants_by_upstream_expiry ON grants(upstream_expires_ms)",
    "CREATE INDEX grants_by_user ON grants(user_id)",
    "CREATE INDEX grants_by_client ON grants(client_id)",
    "CREATE TABLE tokens ("
    " token_hash TEXT PRIMARY KEY,"
    " kind INTEGER NOT NULL CHECK (kind IN (1, 2)),"
    " grant_id TEXT NOT NULL REFERENCES grants(grant_id) ON DELETE CASCADE,"
    " family_id TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " resource TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0,"
    " rotated_ms INTEGER)",
    "CREATE INDEX tokens_by_family ON tokens(family_id)",
    "CREATE INDEX tokens_by_grant ON tokens(grant_id)",
    "CREATE INDEX tokens_by_expiry ON tokens(expires_ms)",
    "CREATE TABLE auth_codes ("
    " code_hash TEXT PRIMARY KEY,"
    " grant_id TEXT NOT NULL REFERENCES grants(grant_id) ON DELETE CASCADE,"
    " client_id TEXT NOT NULL,"
    " redirect_uri TEXT NOT NULL,"
    " code_challenge TEXT NOT NULL,"
    " code_challenge_method TEXT NOT NULL,"
    " resource TEXT NOT NULL,"
    " scope TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " used_ms INTEGER)",
    "CREATE INDEX auth_codes_by_grant ON auth_codes(grant_id)",
    "CREATE INDEX auth_codes_by_expiry ON auth_codes(expires_ms)",
    "CREATE TABLE consents ("
    " user_id INTEGER NOT NULL,"
    " client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " PRIMARY KEY (user_id, client_id))",
};

// Issue 11: registrations that never lead to a sign-in are counted and
// purged (authorized_ms stays NULL until the client's first grant), and a
// revoked grant keeps no upstream tokens (revoked_ms, blobs wiped).
constexpr std::array Version2 = {
    "ALTER TABLE clients ADD COLUMN authorized_ms INTEGER",
    "UPDATE clients SET authorized_ms ="
    " (SELECT min(g.created_ms) FROM grants g WHERE g.client_id = clients.client_id)",
    "CREATE INDEX clients_pending ON clients(authorized_ms, created_ms)",
    "ALTER TABLE grants ADD COLUMN revoked_ms INTEGER",
};

// Confidential clients (RFC 7591 client_secret): the secret only as its
// SHA-256, like broker tokens.
constexpr std::array ClientSecrets = {
    "ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'none'",
    "ALTER TABLE clients ADD COLUMN client_secret_hash TEXT",
};

// The migration hook: append {version, statements} here.
const std::array Migrations = {
    Migration{1, Version1},
    Migration{2, Version2},
    Migration{3, ClientSecrets},
};

Result<int> currentVersion(const QSqlDatabase &db)
{
    Result<QSqlQuery> tables = runSql(db, QStringLiteral("SELECT count(*) FROM sqlite_master "
                                                         "WHERE type = 'table' AND name = 'schema_version'"));
    if (!tables.ok())
        return tables.error();
    if (!tables.value().next() || tables.value().value(0).toInt() == 0)
        return 0;
    Result<QSqlQuery> version = runSql(db, QStringLiteral("SELECT max(version) FROM schema_version"));
    if (!version.ok())
        return version.error();
    return version.value().next() ? version.value().value(0).toInt() : 0;
}

Result<void> apply(const QSqlDatabase &db, const Migration &migration)
{
    SqlTransaction transaction(db);
    if (Result<void> r = transaction.begin(); !r.ok())
        return r;
    for (const char *statement : migration.statements) {
        if (Result<QSqlQuery> r = runSql(db, QString::fromLatin1(statement)); !r.ok())
            return r.error();
    }
    if (Result<QSqlQuery> r = runSql(db, QStringLiteral("DELETE FROM schema_version")); !r.ok())
        return r.error();
    if (Result<QSqlQuery> r = runSql(db, QStringLiteral("INSERT INTO schema_version (version) VALUES (?)"),
                                     {migration.version});
        !r.ok()) {
        return r.error();
    }
    return transaction.commit();
}

} // namespace

int Schema::latestVersion()
{
    return Migrations.back().version;
}

Result<int> Schema::migrate(const QSqlDatabase &db)
{
    Result<int> current = currentVersion(db);
    if (!current.ok())
        return current;
    int version = current.value();
    if (version > latestVersion()) {
        return Error{ErrorCode::InvalidArgument, db.databaseName(),
                     QStringLiteral("the database has schema version %1; this broker knows up to %2 "
                                    "(was it written by a newer broker?)")
                         .arg(version)
                         .arg(latestVersion())};
    }
    for (const Migration &migration : Migrations) {
        if (migration.version <= version)
            continue;
        if (Result<void> r = apply(db, migration); !r.ok())
            return r.error();
        qCInfo(lcStore, "migrated the database to schema version %d", migration.version);
        version = migration.version;
    }
    return version;
}

} // namespace fmb
