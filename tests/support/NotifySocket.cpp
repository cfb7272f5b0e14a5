#include "NotifySocket.h"

#include <cstddef>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace fmbtest {

NotifySocket::NotifySocket(const QByteArray &name)
    : m_name(name)
{
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    if (m_fd < 0 || name.isEmpty() || name.size() >= qsizetype(sizeof address.sun_path))
        return;
    std::memcpy(address.sun_path, name.constData(), size_t(name.size()));
    const bool abstract = name.startsWith('@');
    if (abstract)
        address.sun_path[0] = '\0';
    const auto length = socklen_t(offsetof(sockaddr_un, sun_path) + size_t(name.size()) + (abstract ? 0 : 1));
    m_bound = ::bind(m_fd, reinterpret_cast<const sockaddr *>(&address), length) == 0;
}

NotifySocket::~NotifySocket()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

const QList<QByteArray> &NotifySocket::received()
{
    char buffer[4096];
    for (;;) {
        const ssize_t size = ::recv(m_fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (size < 0)
            break;
        m_messages.append(QByteArray(buffer, qsizetype(size)));
    }
    return m_messages;
}

qsizetype NotifySocket::indexOf(const QByteArray &prefix)
{
    const QList<QByteArray> &messages = received();
    for (qsizetype i = 0; i < messages.size(); ++i) {
        if (messages.at(i).startsWith(prefix))
            return i;
    }
    return -1;
}

} // namespace fmbtest
