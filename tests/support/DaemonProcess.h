#pragma once

#include <functional>

#include <QByteArray>
#include <QList>
#include <QObject>
#include <QProcess>
#include <QRegularExpressionMatch>
#include <QString>
#include <QStringList>
#include <QUrl>

class QRegularExpression;

namespace fmbtest {

// forgejo-mcp-brokerd as a child process of a test: the one launcher every
// process-level test uses (daemon, rotation, admin, gui, ssh). It starts the
// daemon with an environment free of FMB_* settings, collects what it writes
// to stderr (its log) and stdout as it arrives, waits for log lines on
// conditions (never on the clock) and stops it with SIGTERM, then SIGKILL.
//
// Every wait returns false when the daemon exits first or time runs out;
// failure() then says what was awaited, with the log so far.
class DaemonProcess final : public QObject {
    Q_OBJECT

public:
    // Bound for any one awaited condition; passing runs take a fraction of it.
    static constexpr int WaitMs = 15000;

    explicit DaemonProcess(QObject *parent = nullptr);
    // Stops the daemon (SIGTERM, SIGKILL after WaitMs) unless it has exited.
    ~DaemonProcess() override;
    DaemonProcess(const DaemonProcess &) = delete;
    DaemonProcess &operator=(const DaemonProcess &) = delete;

    [[nodiscard]] static QString daemonPath();     // the built forgejo-mcp-brokerd
    [[nodiscard]] static QString testServerPath(); // the built fmb-test-mcp-server

    // Before a start.
    void setEnvironmentValue(const QString &name, const QString &value);
    void setWorkingDirectory(const QString &directory);
    // Runs in the forked child before exec (rlimits, seccomp filters).
    void setChildProcessModifier(const std::function<void()> &modifier);

    // Starts the daemon with exactly these arguments (config errors, --help)
    // and waits until it runs. False when it could not be executed.
    [[nodiscard]] bool run(const QStringList &arguments);
    // Local mode on a free loopback port: --auth none --listen 127.0.0.1:0
    // --child-command `childCommand`, then `extra`. Does not wait for
    // "listening on": a test of a refused start waits for the exit instead.
    [[nodiscard]] bool start(const QStringList &extra, const QString &childCommand = testServerPath());
    // Starts with `arguments` and waits for "listening on".
    [[nodiscard]] bool startListening(const QStringList &arguments);

    // Waits until the daemon has logged "listening on http://HOST:PORT";
    // port() and url() tell where.
    [[nodiscard]] bool waitForListening(int timeoutMs = WaitMs);
    // Waits for a log line `pattern` matches and returns that match (the
    // first such line); an invalid match when none came.
    [[nodiscard]] QRegularExpressionMatch waitForLine(const QRegularExpression &pattern,
                                                      int timeoutMs = WaitMs);
    // Waits for the daemon to exit; false when it still runs at the deadline.
    [[nodiscard]] bool waitForExit(int timeoutMs = WaitMs);

    [[nodiscard]] quint16 port() const { return quint16(m_url.port(0)); }
    [[nodiscard]] QUrl url() const { return m_url; } // http://HOST:PORT, empty before listening

    // What the daemon has written to stderr so far.
    [[nodiscard]] const QByteArray &log();
    [[nodiscard]] QList<QByteArray> logLines();
    // What it has written to stdout so far (--help, --version).
    [[nodiscard]] const QByteArray &standardOutput();
    // Why the last start or wait failed, with the log; empty after success.
    [[nodiscard]] const QString &failure() const { return m_failure; }

    [[nodiscard]] bool isRunning() const { return m_process.state() != QProcess::NotRunning; }
    [[nodiscard]] qint64 pid() const { return m_process.processId(); }
    [[nodiscard]] int exitCode() const { return m_process.exitCode(); }
    [[nodiscard]] QProcess::ExitStatus exitStatus() const { return m_process.exitStatus(); }

    void terminate(); // SIGTERM
    void kill();      // SIGKILL
    void sendSignal(int signalNumber);
    // SIGTERM and wait (SIGKILL at the deadline): the exit code, or -1 when
    // it crashed or had to be killed.
    int stop(int timeoutMs = WaitMs);

Q_SIGNALS:
    // The daemon exited; emitted once a run.
    void finished(int exitCode, QProcess::ExitStatus exitStatus);

private:
    [[nodiscard]] bool waitFor(const std::function<bool()> &condition, int timeoutMs, const QString &what);
    void collect();

    QProcess m_process;
    QByteArray m_log;
    QByteArray m_stdout;
    QUrl m_url;
    QString m_failure;
};

} // namespace fmbtest
