#pragma once

#include <QSqlDatabase>

#include "base/Result.h"

namespace fmb {

// The store's tables and their migrations. The version lives in the one-row
// table schema_version; each step runs in its own transaction together with
// the version bump, so a crash leaves the database at a whole version.
// To change the schema, append a step to the list in Schema.cpp; never edit
// a step that has shipped.
class Schema final {
public:
    [[nodiscard]] static int latestVersion();
    // Brings `db` to latestVersion(); returns the version it ends at. Refuses a
    // database written by a newer broker.
    [[nodiscard]] static Result<int> migrate(const QSqlDatabase &db);
};

} // namespace fmb
