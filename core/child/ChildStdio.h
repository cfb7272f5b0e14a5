#pragma once

#include <functional>

#include <QByteArray>
#include <QObject>
#include <QString>

class QSocketNotifier;

namespace fmb {

// How a child's stdin and stdout are connected (docs/benchmarks.md, "Three
// descriptors per session"):
// - Pipes: two pipes, two descriptors on our side. The fastest.
// - Socket: the two directions of one Unix stream socket (socketpair), one
//   descriptor on our side: 5,000 sessions fit under an open-file limit of
//   20,000. It costs a wake-up per answer for a child that blocks in read():
//   when we take its answer, the kernel wakes every sleeper on its socket,
//   and the child sleeps there waiting for its next request.
enum class ChildStdioKind { Pipes, Socket };

// A child's stdin and stdout as seen from the broker, outside QProcess:
// open() makes the pipes or the socket, childProcessModifier() puts the
// child's ends on its descriptors 0 and 1 between fork and exec, and
// releaseChildEnds() closes our copies after the fork. Our ends are
// non-blocking: write() sends at once what the kernel takes and keeps the
// rest (bounded), readyRead() says output is waiting, read() takes it.
// Nothing is emitted from inside a call: only from the event loop.
class ChildStdio final : public QObject {
    Q_OBJECT
public:
    ChildStdio(ChildStdioKind kind, qint64 maxPendingBytes, QObject *parent = nullptr);
    ~ChildStdio() override;

    // Descriptors our side holds while the child runs.
    [[nodiscard]] static int descriptors(ChildStdioKind kind);

    // Creates the pipes or the socket; false (and errorString()) when it
    // cannot, e.g. EMFILE.
    [[nodiscard]] bool open();
    [[nodiscard]] QString errorString() const { return m_error; }

    // Runs in the forked child, before exec: async-signal-safe (dup2 and
    // _exit only). Makes the child's ends its stdin and stdout.
    [[nodiscard]] std::function<void()> childProcessModifier() const;
    // Closes our copies of the child's ends (after the fork).
    void releaseChildEnds();
    // readyRead() is emitted from here on (not before: output is only read
    // once the owner is ready for it).
    void startReading();

    // Queues bytes for the child and sends what the kernel takes now. false
    // when the pending input would pass its bound, after closeWrite(), or once
    // the child's stdin is gone (EPIPE).
    [[nodiscard]] bool write(const QByteArray &bytes);
    [[nodiscard]] qint64 pendingBytes() const { return m_pending.size() - m_pendingOffset; }
    // Gives the child EOF on its stdin once the pending input has been sent.
    void closeWrite();

    // Reads what is waiting into `data`, at most `size` bytes: the count
    // read, 0 when nothing is waiting, -1 at end of output (EOF, or an error:
    // the child has gone). Never blocks.
    [[nodiscard]] qsizetype read(char *data, qsizetype size);
    // Stops listening and closes our ends; pending input is dropped.
    void close();

Q_SIGNALS:
    void readyRead();

private:
    void sendPending();
    void shutdownWrite();

    ChildStdioKind m_kind;
    qint64 m_maxPendingBytes;
    int m_input = -1;       // ours: the child's stdin (the socket, or a pipe's write end)
    int m_output = -1;      // ours: the child's stdout (the socket again, or a pipe's read end)
    int m_childInput = -1;  // the child's, until released
    int m_childOutput = -1; // the child's (the same as m_childInput for the socket)
    QSocketNotifier *m_readNotifier = nullptr;  // child QObject
    QSocketNotifier *m_writeNotifier = nullptr; // child QObject, made when the kernel first takes no more
    QByteArray m_pending;
    qsizetype m_pendingOffset = 0;
    bool m_plainPipeWrites = false; // SIGPIPE is ignored: no need to block it around write()
    bool m_closeWriteRequested = false;
    bool m_writeShut = false; // our side closed or shut down, or the child's side gone
    QString m_error;
};

} // namespace fmb
