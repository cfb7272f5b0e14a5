#pragma once

#include <QString>

#include "base/Result.h"

namespace fmb {

// Which daemon an admin client talks to: a local socket, or a socket on
// another host reached through `ssh -L` (a forwarded Unix socket; the daemon
// opens no network listener for it).
struct AdminTarget {
    enum class Kind { Local, Ssh };
    Kind kind = Kind::Local;
    QString socketPath;     // Local: the socket; Ssh: the remote socket, empty = the remote default
    QString sshDestination; // Ssh: [USER@]HOST

    [[nodiscard]] static AdminTarget local(const QString &socketPath);
    // "[USER@]HOST[:REMOTE_SOCKET]"; REMOTE_SOCKET is an absolute path. A port
    // goes in FMB_SSH_OPTIONS (-p PORT), not here.
    [[nodiscard]] static Result<AdminTarget> fromSshSpec(const QString &spec);
    // What --ssh would take to name this target again.
    [[nodiscard]] QString sshSpec() const;

    // For people: "/run/user/1000/forgejo-mcp-broker/admin.sock" or
    // "ssh alice@host:/path" ("ssh host (default socket)").
    [[nodiscard]] QString displayName() const;

    // A round-trippable form for the console's recent list: "local:PATH", "ssh:SPEC".
    [[nodiscard]] QString toSettingsString() const;
    [[nodiscard]] static Result<AdminTarget> fromSettingsString(const QString &text);

    friend bool operator==(const AdminTarget &, const AdminTarget &) = default;
};

} // namespace fmb
