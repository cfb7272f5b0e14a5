#pragma once

#include <QString>
#include <QtGlobal>

namespace fmb {

// The process's open-file limit (RLIMIT_NOFILE) before and after
// raiseFileLimit(). Every session holds descriptors, so this limit, not
// max_sessions alone, decides how many sessions fit.
struct FileLimitChange {
    quint64 softBefore = 0;
    quint64 hardBefore = 0;
    quint64 softAfter = 0; // the limit in force now
    quint64 hardAfter = 0;
    QString hardRaiseFailure; // why the hard limit stayed (empty when it was raised or not tried)
};

// The hard limit is raised no further than this even where the kernel allows more.
inline constexpr quint64 FileLimitCap = 1024 * 1024;

// Raises the soft limit to the hard limit. Where the process may (root or
// CAP_SYS_RESOURCE) it first raises the hard limit to the kernel's ceiling
// (/proc/sys/fs/nr_open), at most to `cap`.
[[nodiscard]] FileLimitChange raiseFileLimit(quint64 cap = FileLimitCap);

// How many sessions of `perSession` descriptors fit in `limit`, after a
// reserve for listeners, client connections, the store, the admin socket,
// the event loop and spawning. At least 1.
[[nodiscard]] int sessionCeiling(quint64 limit, int perSession);

// How many client connections fit in the share of `limit` that
// sessionCeiling() reserves for them (an eighth), so a flood of connections
// never takes the descriptors sessions, the store and accept() need. At least 16.
[[nodiscard]] int connectionCeiling(quint64 limit);

} // namespace fmb
