#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <QList>
#include <QPair>
#include <QProcessEnvironment>
#include <QStringList>

#include "Backend.h"
#include "ChildSandbox.h"
#include "ChildStdio.h"
#include "LineFramer.h"
#include "StderrRelay.h"
#include "base/Result.h"

class QProcess;
class QTimer;

namespace fmb {

// Variables added to a child's environment (name, value).
using EnvironmentVariables = QList<QPair<QString, QString>>;
using EnvironmentAnswer = std::function<void(Result<EnvironmentVariables>)>;
// Asked once by start() for what the environment still lacks (issue 14: the
// user's Forgejo token is read on the store thread). Calls `done` later, on
// the child's thread, never inside the call; `context` is the child: an
// answer that comes after it is gone may be dropped.
using EnvironmentProvider = std::function<void(QObject *context, EnvironmentAnswer done)>;

struct ChildSpec {
    QString program;
    QStringList arguments;
    QProcessEnvironment environment;                // complete: nothing else is inherited
    qint64 maxLineBytes = 16 * 1024 * 1024;         // longer stdout lines are dropped
    qint64 maxPendingInputBytes = 32 * 1024 * 1024; // stdin not yet taken by the child
    std::chrono::milliseconds stopGrace{3000};      // after closing stdin, and again after SIGTERM
    ChildStdioKind stdio = ChildStdioKind::Pipes;   // how stdin and stdout are connected
    QString label;                                  // for log lines, e.g. "session 1a2b3c4d"
    std::shared_ptr<const ChildSandbox> sandbox;    // entered between fork and exec; null: none
    EnvironmentProvider environmentProvider;        // null: `environment` is complete at start()
};

// One stdio MCP server process. Its stdin and stdout are ours (ChildStdio:
// two pipes or one socket); stdout is framed into lines (lineReceived),
// stderr goes to the fmb.child log category (rate limited and redacted).
// QProcess starts, signals and reaps the child and carries its stderr.
// stop(): close stdin, SIGTERM after the grace, SIGKILL after a second grace.
// exited() is the one terminal signal (also for a failed start); after it the
// object may be deleted with deleteLater().
// With an environment provider, start() forks only once it has answered:
// lines written meanwhile are kept (bounded by maxPendingInputBytes) and sent
// after the fork, an error answer fails the start, and stop() ends the wait
// (exited(), failedToStart, and no fork). processId() is 0 until the fork.
class ChildProcess final : public Backend {
    Q_OBJECT
public:
    // Descriptors a running child holds in this process: its stdin and
    // stdout (two pipes, or one socket), the stderr pipe, and the pidfd
    // QProcess (forkfd) watches it by.
    [[nodiscard]] static int descriptors(ChildStdioKind stdio);

    explicit ChildProcess(ChildSpec spec, QObject *parent = nullptr);
    ~ChildProcess() override;

    void start() override;
    [[nodiscard]] bool write(const QByteArray &line) override;
    void stop() override;
    [[nodiscard]] bool isRunning() const override;
    [[nodiscard]] qint64 processId() const override;

    [[nodiscard]] qint64 droppedLines() const { return m_droppedLines; }

private:
    // Reads at most `budget` bytes of stdout (so one flooding child cannot
    // hold the event loop) and emits the lines they finish.
    void readStdout(qsizetype budget);
    void readStderr();
    void spawn();
    void environmentArrived(const Result<EnvironmentVariables> &answer);
    void failStart(const QString &error, bool unavailable = false);
    void finish(ExitInfo info);
    void escalate();

    ChildSpec m_spec;
    QProcess *m_process = nullptr; // child QObject
    ChildStdio *m_stdio = nullptr; // child QObject
    QTimer *m_stopTimer = nullptr; // child QObject
    LineFramer m_framer;
    StderrRelay m_stderr;
    qint64 m_pid = 0;
    qint64 m_droppedLines = 0;
    int m_stopStage = 0; // 0 running, 1 stdin closed, 2 SIGTERM sent, 3 SIGKILL sent
    bool m_finished = false;
    bool m_awaitingEnvironment = false;
    QByteArray m_earlyInput; // framed lines written while awaiting the environment
};

} // namespace fmb
