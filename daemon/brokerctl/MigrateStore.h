#pragma once

#include "BrokerCtl.h"

namespace fmb {

// forgejo-mcp-brokerctl migrate-store (issue 14): copies a stopped single
// broker's SQLite store into a cluster's PostgreSQL database
// (migrateSqliteToPostgres), prints what moved to stdout (text or --json) and
// problems to stderr, and returns the exit status (CtlExit). Needs no broker
// and no event loop; blocks until the copy is done.
[[nodiscard]] int runMigrateStore(const CtlOptions &options);

} // namespace fmb
