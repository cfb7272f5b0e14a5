#pragma once

#include <QStringList>

#include "config/BrokerConfig.h"

namespace fmb {

// What the loader cannot see from the text of a configuration but a start
// would trip over, for --check-config (ExecStartPre=, package scripts): the
// listen host is an address the daemon can bind (not just a valid name), the
// child command can be found and run, the files and directories it names are
// there and readable (the client secret file non-empty; the state directory
// writable or creatable; the admin socket's directory present). Nothing is
// bound, spawned, created or written. One message per problem, each starting
// with the key ("forgejo_client_secret_file: ..."); never a secret's value.
[[nodiscard]] QStringList configProblems(const BrokerConfig &config);

} // namespace fmb
