#pragma once

#include <chrono>

#include <QByteArray>
#include <QObject>
#include <QProcessEnvironment>
#include <QString>

class QTimer;

namespace fmb {

// Tells systemd how the service is doing over the $NOTIFY_SOCKET datagram
// protocol (sd_notify(3), "Type=notify"), written out here rather than linked
// from libsystemd: the protocol is one sendto() of "KEY=VALUE\n" lines to an
// AF_UNIX datagram socket, and the daemon then runs unchanged where systemd
// is absent. Without NOTIFY_SOCKET (not under systemd) every call is a no-op.
//
// The watchdog: when WATCHDOG_USEC is set and WATCHDOG_PID is unset or names
// this process, ready() starts a timer on the calling thread's event loop
// that sends WATCHDOG=1 every half interval, so a loop that stalls stops
// pinging and systemd restarts the service (WatchdogSec=).
class SystemdNotifier final : public QObject {
    Q_OBJECT
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from env. An
    // address that is neither an absolute path nor abstract ('@') is ignored
    // with a warning.
    explicit SystemdNotifier(const QProcessEnvironment &env, QObject *parent = nullptr);
    ~SystemdNotifier() override;

    // A notification socket was named, and it parsed.
    [[nodiscard]] bool enabled() const { return m_addressLength > 0; }
    // How often WATCHDOG=1 goes out once ready(); zero when there is no watchdog.
    [[nodiscard]] std::chrono::milliseconds watchdogInterval() const { return m_watchdogInterval; }

    // READY=1 with MAINPID and STATUS, then the watchdog starts. Call once,
    // when the service answers requests.
    void ready(const QString &status);
    // STATUS=, sent only when it differs from the last one sent.
    void setStatus(const QString &status);
    // RELOADING=1 (with MONOTONIC_USEC); ready() again when the reload is done.
    void reloading(const QString &status);
    // STOPPING=1; the watchdog stops.
    void stopping(const QString &status);

    // Sends one datagram of newline-separated KEY=VALUE assignments. False
    // when disabled or the send failed (warned once: systemd may be gone).
    bool notify(const QByteArray &state);

private:
    QByteArray m_address; // the sockaddr_un bytes
    unsigned m_addressLength = 0;
    int m_socket = -1;
    std::chrono::milliseconds m_watchdogInterval{0};
    QTimer *m_watchdog = nullptr;
    QString m_status;
    bool m_warned = false;
};

} // namespace fmb
