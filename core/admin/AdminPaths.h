#pragma once

#include <sys/types.h>

#include <QProcessEnvironment>
#include <QString>

#include "base/Result.h"

namespace fmb {

// Where the admin socket lives when --admin-socket is not given. The daemon,
// forgejo-mcp-brokerctl and the console compute it the same way:
// $XDG_RUNTIME_DIR/forgejo-mcp-broker/admin.sock, else
// /tmp/forgejo-mcp-broker-<uid>/admin.sock.
[[nodiscard]] QString defaultAdminSocketPath(const QProcessEnvironment &env, uid_t uid);
[[nodiscard]] QString defaultAdminSocketPath();

// The path a client uses: the flag's value, else FMB_ADMIN_SOCKET (as the
// daemon reads it), else the default.
[[nodiscard]] QString resolveAdminSocketPath(const QString &flagValue);

// A POSIX sh command that prints the default path on another host (for an ssh
// target without a socket path): the same rule, evaluated there.
[[nodiscard]] QString remoteDefaultSocketCommand();

// Creates `dir` (and missing parents) with mode 0700. An existing `dir` must be
// a directory; with `mustBePrivate` it must also belong to this user, and a
// group/other mode is tightened to 0700 (a shared /tmp is the case to guard).
[[nodiscard]] Result<void> preparePrivateDirectory(const QString &dir, bool mustBePrivate);

enum class SocketProbe {
    Absent,     // nothing at the path
    NotASocket, // a file of another kind is there
    Listening,  // a connect() was accepted
    Stale,      // a socket file nobody listens on (ECONNREFUSED)
    Denied,     // no permission to connect (EACCES/EPERM)
    Failed,     // anything else
};
// Tries a non-blocking connect() to the Unix socket at path and closes it again.
[[nodiscard]] SocketProbe probeUnixSocket(const QString &path);

} // namespace fmb
