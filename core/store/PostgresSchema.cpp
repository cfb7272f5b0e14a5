#include "PostgresSchema.h"

#include <array>
#include <span>

#include <QSqlQuery>

#include "Logging.h"
#include "Sql.h"

namespace fmb {
namespace {

struct Step {
    int version;
    std::span<const char *const> statements;
};

// Schema version 3 (SQLite's versions 1-3 in one): clients with confidential
// secrets as hashes, grants with sealed upstream tokens and revocation,
// broker tokens and codes as SHA-256 hex, consents. Milliseconds since the
// epoch in BIGINT, as in SQLite, so that both stores share one record
// format.
constexpr std::array Version3 = {
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE meta ("
    " name TEXT PRIMARY KEY,"
    " value BYTEA NOT NULL)",
    "CREATE TABLE clients ("
    " client_id TEXT PRIMARY KEY,"
    " client_name TEXT NOT NULL,"
    " redirect_uris TEXT NOT NULL," // JSON array of strings
    " kind INTEGER NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " authorized_ms BIGINT,"
    " token_endpoint_auth_method TEXT NOT NULL DEFAULT 'none',"
    " client_secret_hash TEXT)",
    "CREATE INDEX clients_pending ON clients(authorized_ms, created_ms)",
    "CREATE TABLE grants ("
    " grant_id TEXT PRIMARY KEY,"
    " user_login TEXT NOT NULL,"
    " user_id BIGINT NOT NULL,"
    " client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " upstream_access BYTEA NOT NULL,"
    " upstream_refresh BYTEA,"
    " upstream_expires_ms BIGINT,"
    " upstream_updated_ms BIGINT NOT NULL,"
    " revoked_ms BIGINT)",
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
    " created_ms BIGINT NOT NULL,"
    " expires_ms BIGINT NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0,"
    " rotated_ms BIGINT)",
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
    " created_ms BIGINT NOT NULL,"
    " expires_ms BIGINT NOT NULL,"
    " used_ms BIGINT)",
    "CREATE INDEX auth_codes_by_grant ON auth_codes(grant_id)",
    "CREATE INDEX auth_codes_by_expiry ON auth_codes(expires_ms)",
    "CREATE TABLE consents ("
    " user_id BIGINT NOT NULL,"
    " client_id TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,"
    " scope TEXT NOT NULL,"
    " created_ms BIGINT NOT NULL,"
    " PRIMARY KEY (user_id, client_id))",
    "INSERT INTO schema_version (version) VALUES (0)",
};

// The migration hook: append {version, statements} here, each step ending
// with the version bump done by migrate().
const std::array Steps = {
    Step{3, Version3},
};

// pg_advisory_xact_lock key: "fmbschem" in ASCII, so that it does not
// collide with another application's lock on a shared server by accident.
constexpr char LockStatement[] = "SELECT pg_advisory_xact_lock(7308604897102718317)";

Result<int> storedVersion(const QSqlDatabase &db)
{
    Result<QSqlQuery> table = runSql(db, QStringLiteral("SELECT to_regclass('schema_version') IS NOT NULL"));
    if (!table.ok())
        return table.error();
    if (!table.value().next() || !table.value().value(0).toBool())
        return 0;
    Result<QSqlQuery> version = runSql(db, QStringLiteral("SELECT max(version) FROM schema_version"));
    if (!version.ok())
        return version.error();
    return version.value().next() ? version.value().value(0).toInt() : 0;
}

} // namespace

int PostgresSchema::latestVersion()
{
    return Steps.back().version;
}

Result<int> PostgresSchema::migrate(const QSqlDatabase &db)
{
    SqlTransaction transaction(db);
    if (Result<void> r = transaction.begin(); !r.ok())
        return r.error();
    // Held until commit or rollback: a second broker starting now waits here
    // and then reads the version this one wrote.
    if (Result<void> r = execSql(db, QString::fromLatin1(LockStatement)); !r.ok())
        return r.error();
    Result<int> stored = storedVersion(db);
    if (!stored.ok())
        return stored;
    int version = stored.value();
    if (version > latestVersion()) {
        return Error{ErrorCode::InvalidArgument, db.databaseName(),
                     QStringLiteral("the database has schema version %1; this broker knows up to %2 "
                                    "(was it written by a newer broker?)")
                         .arg(version)
                         .arg(latestVersion())};
    }
    const int before = version;
    for (const Step &step : Steps) {
        if (step.version <= version)
            continue;
        for (const char *statement : step.statements) {
            if (Result<void> r = execSql(db, QString::fromLatin1(statement)); !r.ok())
                return r.error();
        }
        if (Result<QSqlQuery> r =
                runSql(db, QStringLiteral("UPDATE schema_version SET version = ?"), {step.version});
            !r.ok()) {
            return r.error();
        }
        version = step.version;
    }
    if (Result<void> r = transaction.commit(); !r.ok())
        return r.error();
    if (version != before)
        qCInfo(lcStore, "migrated the database to schema version %d", version);
    return version;
}

} // namespace fmb
