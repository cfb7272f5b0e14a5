#pragma once

#include <optional>
#include <sys/types.h>

#include <QtGlobal>

namespace fmb {

// Who is on the other end of a connected Unix socket, as the kernel recorded it
// at connect() (SO_PEERCRED): not something the peer can claim.
struct PeerCredentials {
    qint64 pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

// Nullopt when the descriptor is not a connected Unix socket.
[[nodiscard]] std::optional<PeerCredentials> peerCredentials(qintptr descriptor);

} // namespace fmb
