#pragma once

#include <QByteArray>
#include <QObject>

class QSocketNotifier;

namespace fmb::testserver {

// Reads newline-delimited messages from file descriptor 0 without blocking the
// event loop: a QSocketNotifier says when a read() will not block, and each
// activation does exactly one read(). Works for pipes, ttys and regular files.
class StdinReader final : public QObject {
    Q_OBJECT
public:
    explicit StdinReader(QObject *parent = nullptr);

    // Starts watching fd 0. Lines are delivered from the event loop, never from here.
    void start();

Q_SIGNALS:
    // One line without its terminating "\n" (a trailing "\r" is removed too).
    void lineReceived(const QByteArray &line);
    // End of input (or a read error). Emitted exactly once; no lines follow it.
    void finished();

private:
    void readAvailable();

    QSocketNotifier *m_notifier = nullptr;
    QByteArray m_buffer;
    bool m_finished = false;
};

} // namespace fmb::testserver
