#include "StdioSocket.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QSocketNotifier>

namespace fmb {
namespace {

void closeDescriptor(int &fd)
{
    if (fd >= 0)
        ::close(fd); // Linux releases the descriptor even when close() reports EINTR
    fd = -1;
}

// Keeps both ends above stderr. QProcess dup2()s its stderr pipe onto 2 in
// the child before our modifier runs, and a dup2 of a descriptor onto itself
// would keep its close-on-exec flag: an end at 0, 1 or 2 (a daemon started
// with a standard stream closed) would be lost on the way to the child.
bool moveAboveStandardStreams(int &fd)
{
    if (fd > STDERR_FILENO)
        return true;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    ::close(fd);
    fd = moved;
    return moved >= 0;
}

void disable(QSocketNotifier *&notifier)
{
    if (!notifier)
        return;
    notifier->setEnabled(false);
    notifier->deleteLater(); // we may be inside its activated()
    notifier = nullptr;
}

} // namespace

StdioSocket::StdioSocket(qint64 maxPendingBytes, QObject *parent)
    : QObject(parent)
    , m_maxPendingBytes(maxPendingBytes)
{}

StdioSocket::~StdioSocket()
{
    close();
    closeDescriptor(m_childFd);
}

bool StdioSocket::open()
{
    int fds[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        m_error = QString::fromLocal8Bit(std::strerror(errno));
        return false;
    }
    const bool placed = moveAboveStandardStreams(fds[0]) && moveAboveStandardStreams(fds[1]);
    if (!placed) {
        m_error = QString::fromLocal8Bit(std::strerror(errno));
        closeDescriptor(fds[0]);
        closeDescriptor(fds[1]);
        return false;
    }
    m_fd = fds[0];
    m_childFd = fds[1];
    // Our end only: the child's stdin and stdout block, as a pipe's would.
    (void)::fcntl(m_fd, F_SETFL, ::fcntl(m_fd, F_GETFL) | O_NONBLOCK);
    m_readNotifier = new QSocketNotifier(m_fd, QSocketNotifier::Read, this);
    m_readNotifier->setEnabled(false);
    connect(m_readNotifier, &QSocketNotifier::activated, this, &StdioSocket::readyRead);
    return true;
}

std::function<void()> StdioSocket::childProcessModifier() const
{
    const int fd = m_childFd;
    return [fd] {
        // dup2 clears close-on-exec on the copies; the original closes at exec.
        if (::dup2(fd, STDIN_FILENO) < 0 || ::dup2(fd, STDOUT_FILENO) < 0)
            ::_exit(127);
    };
}

void StdioSocket::releaseChildEnd()
{
    closeDescriptor(m_childFd);
}

void StdioSocket::startReading()
{
    if (m_readNotifier)
        m_readNotifier->setEnabled(true);
}

bool StdioSocket::write(const QByteArray &bytes)
{
    if (m_fd < 0 || m_writeShut || m_closeWriteRequested)
        return false;
    if (pendingBytes() + bytes.size() > m_maxPendingBytes)
        return false;
    if (pendingBytes() > 0) {
        m_pending.append(bytes); // behind what the socket has not taken yet
        return true;
    }
    m_pending = bytes; // shared, not copied, unless the socket leaves a rest
    m_pendingOffset = 0;
    sendPending();
    return !m_writeShut;
}

void StdioSocket::sendPending()
{
    while (pendingBytes() > 0) {
        const ssize_t sent = ::send(m_fd, m_pending.constData() + m_pendingOffset, size_t(pendingBytes()),
                                    MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            m_pendingOffset += sent;
            continue;
        }
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        // EPIPE, ECONNRESET: the child has closed its stdin or gone.
        m_pending.clear();
        m_pendingOffset = 0;
        m_writeShut = true;
        disable(m_writeNotifier);
        return;
    }
    if (pendingBytes() == 0) {
        m_pending.clear(); // gives the buffer back: idle sessions hold none
        m_pendingOffset = 0;
        if (m_writeNotifier)
            m_writeNotifier->setEnabled(false);
        if (m_closeWriteRequested)
            shutdownWrite();
        return;
    }
    if (m_pendingOffset > m_pending.size() / 2) {
        m_pending.remove(0, m_pendingOffset);
        m_pendingOffset = 0;
    }
    if (!m_writeNotifier) {
        m_writeNotifier = new QSocketNotifier(m_fd, QSocketNotifier::Write, this);
        connect(m_writeNotifier, &QSocketNotifier::activated, this, &StdioSocket::sendPending);
    }
    m_writeNotifier->setEnabled(true);
}

void StdioSocket::closeWrite()
{
    if (m_fd < 0 || m_closeWriteRequested)
        return;
    m_closeWriteRequested = true;
    if (pendingBytes() == 0)
        shutdownWrite();
}

void StdioSocket::shutdownWrite()
{
    if (!m_writeShut)
        (void)::shutdown(m_fd, SHUT_WR);
    m_writeShut = true;
    disable(m_writeNotifier);
}

qsizetype StdioSocket::read(char *data, qsizetype size)
{
    if (m_fd < 0 || !m_readNotifier)
        return -1;
    for (;;) {
        const ssize_t received = ::read(m_fd, data, size_t(size));
        if (received > 0)
            return received;
        if (received < 0 && errno == EINTR)
            continue;
        if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        // EOF, or ECONNRESET: nothing more will come. Stop listening, or a
        // level-triggered notifier would wake us for the EOF forever.
        disable(m_readNotifier);
        return -1;
    }
}

void StdioSocket::close()
{
    disable(m_readNotifier);
    disable(m_writeNotifier);
    m_pending.clear();
    m_pendingOffset = 0;
    m_writeShut = true;
    closeDescriptor(m_fd);
}

} // namespace fmb
