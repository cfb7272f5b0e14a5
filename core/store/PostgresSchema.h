#pragma once

#include <QSqlDatabase>

#include "base/Result.h"

namespace fmb {

// The store's tables on PostgreSQL (BYTEA, BIGINT milliseconds). The version
// numbers are SQLite's (Schema): version N is the same tables on both
// engines, so a step added to Schema.cpp gets its PostgreSQL twin here.
// Several brokers may start at once: migrate() runs every step in one
// transaction under a transaction-scoped advisory lock, so the second broker
// waits and then finds the schema current. Refuses a newer schema (a rolling
// upgrade keeps steps additive so that older brokers keep working until they
// are replaced).
class PostgresSchema final {
public:
    [[nodiscard]] static int latestVersion();
    [[nodiscard]] static Result<int> migrate(const QSqlDatabase &db);
};

} // namespace fmb
