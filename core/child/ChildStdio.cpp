#include "ChildStdio.h"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <pthread.h>
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

// Keeps a child's end above stderr. QProcess dup2()s its stderr pipe onto 2
// in the child before our modifier runs, and a dup2 of a descriptor onto
// itself would keep its close-on-exec flag: an end at 0, 1 or 2 (a daemon
// started with a standard stream closed) would be lost on the way.
bool moveAboveStandardStreams(int &fd)
{
    if (fd > STDERR_FILENO)
        return true;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    ::close(fd);
    fd = moved;
    return moved >= 0;
}

// A write to a pipe whose reader has gone raises SIGPIPE, which ends the
// process unless it is ignored (the daemon ignores it; sockets take
// MSG_NOSIGNAL instead).
bool sigpipeIgnored()
{
    struct sigaction current = {};
    return ::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_IGN;
}

// write() with SIGPIPE blocked in this thread, and the one it raised taken
// back: two syscalls more, for processes that do not ignore SIGPIPE.
ssize_t writeWithoutSigpipe(int fd, const char *data, size_t size)
{
    sigset_t pipeOnly;
    sigset_t previous;
    sigemptyset(&pipeOnly);
    sigaddset(&pipeOnly, SIGPIPE);
    (void)::pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous);
    const ssize_t written = ::write(fd, data, size);
    const int error = errno;
    if (written < 0 && error == EPIPE && !sigismember(&previous, SIGPIPE)) {
        const struct timespec now = {0, 0};
        while (::sigtimedwait(&pipeOnly, nullptr, &now) < 0 && errno == EINTR) {
        }
    }
    (void)::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    errno = error;
    return written;
}

void setNonBlocking(int fd)
{
    (void)::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
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

ChildStdio::ChildStdio(ChildStdioKind kind, qint64 maxPendingBytes, QObject *parent)
    : QObject(parent)
    , m_kind(kind)
    , m_maxPendingBytes(maxPendingBytes)
{}

ChildStdio::~ChildStdio()
{
    close();
    releaseChildEnds();
}

int ChildStdio::descriptors(ChildStdioKind kind)
{
    return kind == ChildStdioKind::Socket ? 1 : 2;
}

bool ChildStdio::open()
{
    // [0] ours, [1] the child's; for pipes, input and output apart.
    int input[2] = {-1, -1};
    int output[2] = {-1, -1};
    bool made = false;
    if (m_kind == ChildStdioKind::Socket) {
        made = ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, input) == 0;
    } else {
        int in[2] = {-1, -1};
        int out[2] = {-1, -1};
        made = ::pipe2(in, O_CLOEXEC) == 0 && ::pipe2(out, O_CLOEXEC) == 0;
        input[0] = in[1]; // we write the child's stdin
        input[1] = in[0];
        output[0] = out[0]; // we read its stdout
        output[1] = out[1];
    }
    made = made && moveAboveStandardStreams(input[0]) && moveAboveStandardStreams(input[1]);
    if (made && m_kind == ChildStdioKind::Pipes)
        made = moveAboveStandardStreams(output[0]) && moveAboveStandardStreams(output[1]);
    if (!made) {
        m_error = QString::fromLocal8Bit(std::strerror(errno));
        for (int *fd : {&input[0], &input[1], &output[0], &output[1]})
            closeDescriptor(*fd);
        return false;
    }
    m_input = input[0];
    m_childInput = input[1];
    m_output = m_kind == ChildStdioKind::Socket ? input[0] : output[0];
    m_childOutput = m_kind == ChildStdioKind::Socket ? input[1] : output[1];
    m_plainPipeWrites = m_kind == ChildStdioKind::Pipes && sigpipeIgnored();
    // Our ends only: the child's block, as it expects of its stdin and stdout.
    setNonBlocking(m_input);
    if (m_output != m_input)
        setNonBlocking(m_output);
    m_readNotifier = new QSocketNotifier(m_output, QSocketNotifier::Read, this);
    m_readNotifier->setEnabled(false);
    connect(m_readNotifier, &QSocketNotifier::activated, this, &ChildStdio::readyRead);
    return true;
}

std::function<void()> ChildStdio::childProcessModifier() const
{
    const int input = m_childInput;
    const int output = m_childOutput;
    return [input, output] {
        // dup2 clears close-on-exec on the copies; the originals close at exec.
        if (::dup2(input, STDIN_FILENO) < 0 || ::dup2(output, STDOUT_FILENO) < 0)
            ::_exit(127);
    };
}

void ChildStdio::releaseChildEnds()
{
    if (m_childOutput == m_childInput)
        m_childOutput = -1;
    closeDescriptor(m_childInput);
    closeDescriptor(m_childOutput);
}

void ChildStdio::startReading()
{
    if (m_readNotifier)
        m_readNotifier->setEnabled(true);
}

bool ChildStdio::write(const QByteArray &bytes)
{
    if (m_input < 0 || m_writeShut || m_closeWriteRequested)
        return false;
    if (pendingBytes() + bytes.size() > m_maxPendingBytes)
        return false;
    if (pendingBytes() > 0) {
        m_pending.append(bytes); // behind what the kernel has not taken yet
        return true;
    }
    m_pending = bytes; // shared, not copied, unless the kernel leaves a rest
    m_pendingOffset = 0;
    sendPending();
    return !m_writeShut;
}

void ChildStdio::sendPending()
{
    while (pendingBytes() > 0) {
        const char *data = m_pending.constData() + m_pendingOffset;
        const auto size = size_t(pendingBytes());
        ssize_t sent = 0;
        if (m_kind == ChildStdioKind::Socket)
            sent = ::send(m_input, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
        else if (m_plainPipeWrites)
            sent = ::write(m_input, data, size);
        else
            sent = writeWithoutSigpipe(m_input, data, size);
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
        m_writeNotifier = new QSocketNotifier(m_input, QSocketNotifier::Write, this);
        connect(m_writeNotifier, &QSocketNotifier::activated, this, &ChildStdio::sendPending);
    }
    m_writeNotifier->setEnabled(true);
}

void ChildStdio::closeWrite()
{
    if (m_input < 0 || m_closeWriteRequested)
        return;
    m_closeWriteRequested = true;
    if (pendingBytes() == 0)
        shutdownWrite();
}

void ChildStdio::shutdownWrite()
{
    disable(m_writeNotifier);
    if (m_kind == ChildStdioKind::Pipes)
        closeDescriptor(m_input); // the pipe's last writer gone: EOF for the child
    else if (!m_writeShut)
        (void)::shutdown(m_input, SHUT_WR); // the socket stays open for the child's output
    m_writeShut = true;
}

qsizetype ChildStdio::read(char *data, qsizetype size)
{
    if (m_output < 0 || !m_readNotifier)
        return -1;
    for (;;) {
        const ssize_t received = ::read(m_output, data, size_t(size));
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

void ChildStdio::close()
{
    disable(m_readNotifier);
    disable(m_writeNotifier);
    m_pending.clear();
    m_pendingOffset = 0;
    m_writeShut = true;
    if (m_output == m_input)
        m_output = -1;
    closeDescriptor(m_input);
    closeDescriptor(m_output);
}

} // namespace fmb
