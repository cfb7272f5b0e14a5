#include "PeerCredentials.h"

#include <sys/socket.h>

namespace fmb {

std::optional<PeerCredentials> peerCredentials(qintptr descriptor)
{
    if (descriptor < 0)
        return std::nullopt;
    struct ucred credentials = {};
    socklen_t length = sizeof(credentials);
    if (::getsockopt(int(descriptor), SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0 ||
        length != sizeof(credentials))
        return std::nullopt;
    return PeerCredentials{credentials.pid, credentials.uid, credentials.gid};
}

} // namespace fmb
