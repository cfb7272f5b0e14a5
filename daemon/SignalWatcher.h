#pragma once

#include <QObject>

class QSocketNotifier;

namespace fmb {

// Turns SIGTERM and SIGINT, and SIGHUP, into Qt signals on the event loop
// (self-pipe: the POSIX handler only writes a byte). One instance per process.
class SignalWatcher final : public QObject {
    Q_OBJECT
public:
    explicit SignalWatcher(QObject *parent = nullptr);
    ~SignalWatcher() override;

Q_SIGNALS:
    void terminationRequested(int signalNumber);
    // SIGHUP: read the configuration again (systemctl reload).
    void reloadRequested();

private:
    QSocketNotifier *m_notifier = nullptr;
};

} // namespace fmb
