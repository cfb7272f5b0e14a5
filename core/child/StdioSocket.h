#pragma once

#include <functional>

#include <QByteArray>
#include <QObject>
#include <QString>

class QSocketNotifier;

namespace fmb {

// A child's stdin and stdout as the two directions of one Unix stream socket
// (socketpair): one descriptor on our side instead of QProcess's two pipes,
// which is what lets 5,000 sessions fit under an open-file limit of 20,000
// (docs/benchmarks.md, "Three descriptors per session").
//
// open() makes the pair. The child end is handed to the child by
// childProcessModifier() (dup2 onto 0 and 1 between fork and exec) and closed
// here by releaseChildEnd() once the child has been forked. Our end is
// non-blocking: write() sends at once what the socket takes and keeps the
// rest (bounded), readyRead() says output is waiting, read() takes it.
// Nothing is emitted from inside a call: only from the event loop.
class StdioSocket final : public QObject {
    Q_OBJECT
public:
    explicit StdioSocket(qint64 maxPendingBytes, QObject *parent = nullptr);
    ~StdioSocket() override;

    // Creates the pair; false (and errorString()) when it cannot, e.g. EMFILE.
    [[nodiscard]] bool open();
    [[nodiscard]] QString errorString() const { return m_error; }

    // Runs in the forked child, before exec: async-signal-safe (dup and
    // _exit only). Makes the child end the child's stdin and stdout.
    [[nodiscard]] std::function<void()> childProcessModifier() const;
    // Closes our copy of the child end (after the fork).
    void releaseChildEnd();
    // readyRead() is emitted from here on (not before: output is only read
    // once the owner is ready for it).
    void startReading();

    // Queues bytes for the child and sends what the socket takes now. false
    // when the pending input would pass its bound, after closeWrite(), or once
    // the child has shut its stdin (EPIPE).
    [[nodiscard]] bool write(const QByteArray &bytes);
    [[nodiscard]] qint64 pendingBytes() const { return m_pending.size() - m_pendingOffset; }
    // Shuts down the child's stdin (EOF) once the pending input has been sent.
    void closeWrite();

    // Reads what is waiting into `data`, at most `size` bytes: the count
    // read, 0 when nothing is waiting, -1 at end of output (EOF, or an error:
    // the child has gone). Never blocks.
    [[nodiscard]] qsizetype read(char *data, qsizetype size);
    // Stops listening and closes our end; pending input is dropped.
    void close();

Q_SIGNALS:
    void readyRead();

private:
    void sendPending();
    void shutdownWrite();

    qint64 m_maxPendingBytes;
    int m_fd = -1;                              // our end
    int m_childFd = -1;                         // the child's end, until released
    QSocketNotifier *m_readNotifier = nullptr;  // child QObject
    QSocketNotifier *m_writeNotifier = nullptr; // child QObject, made at the first full socket
    QByteArray m_pending;
    qsizetype m_pendingOffset = 0;
    bool m_closeWriteRequested = false;
    bool m_writeShut = false; // our side shut down, or the child's side gone
    QString m_error;
};

} // namespace fmb
