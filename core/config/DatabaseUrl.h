#pragma once

#include <QString>

#include "base/Result.h"

namespace fmb {

// --database: where the token store lives.
//   sqlite:PATH                                   one broker, a SQLite file
//   postgresql://USER@HOST:PORT/DBNAME            a cluster's shared database
//   postgresql://USER@/DBNAME?host=/run/postgresql  the same over a Unix socket
// The password never goes in the URL (it would show in ps, the INI file and
// logs): --database-password-file or libpq's own ~/.pgpass.
struct DatabaseUrl {
    enum class Kind { Sqlite, Postgres };
    Kind kind = Kind::Sqlite;
    QString sqlitePath; // Sqlite
    QString host;       // Postgres: a name, an address or an absolute socket directory
    int port = 5432;
    QString user; // empty: libpq's default
    QString database;
};

// Error subject "database"; the message quotes the value and says what to write.
[[nodiscard]] Result<DatabaseUrl> parseDatabaseUrl(const QString &text);

} // namespace fmb
