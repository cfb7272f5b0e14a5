#include "ChildProcess.h"

#include <algorithm>
#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>
#include <utility>

#include <QPointer>
#include <QProcess>
#include <QTimer>

#include "Logging.h"
#include "base/Metrics.h"

namespace fmb {

namespace {

// Stdout read per wake-up, and the most read after the child has gone
// (a grandchild may still hold its stdout and write).
constexpr qsizetype ReadChunk = 64 * 1024;
constexpr qsizetype ReadBudget = 4 * ReadChunk;
constexpr qsizetype FinalReadBudget = 64 * ReadChunk;

} // namespace

ChildProcess::ChildProcess(ChildSpec spec, QObject *parent)
    : Backend(parent)
    , m_spec(std::move(spec))
    , m_process(new QProcess(this))
    , m_stdio(new ChildStdio(m_spec.stdio, m_spec.maxPendingInputBytes, this))
    , m_stopTimer(new QTimer(this))
    , m_framer(m_spec.maxLineBytes)
    , m_stderr(m_spec.label, {}, [](const QString &line) { qCInfo(lcChild).noquote() << line; })
{
    m_process->setProgram(m_spec.program);
    m_process->setArguments(m_spec.arguments);
    m_process->setProcessEnvironment(m_spec.environment);
    // stdin and stdout are ours (ChildStdio::childProcessModifier() puts
    // them in place after QProcess has set up the channels); "forwarded" only
    // keeps QProcess from making pipes for them. stderr is QProcess's pipe.
    m_process->setInputChannelMode(QProcess::ForwardedInputChannel);
    m_process->setProcessChannelMode(QProcess::ForwardedOutputChannel);
    m_stopTimer->setSingleShot(true);

    connect(m_stdio, &ChildStdio::readyRead, this, [this] { readStdout(ReadBudget); });
    connect(m_process, &QProcess::readyReadStandardError, this, &ChildProcess::readStderr);
    connect(m_process, &QProcess::started, this, [this] {
        m_pid = m_process->processId();
        qCDebug(lcChild).noquote() << m_spec.label << "started, pid" << m_pid;
        // The child may have answered already; its lines come after started().
        m_stdio->startReading();
        Q_EMIT started();
    });
    connect(m_process, &QProcess::finished, this, [this](int exitCode, QProcess::ExitStatus status) {
        ExitInfo info;
        info.exitCode = exitCode;
        info.crashed = status == QProcess::CrashExit;
        info.reason = info.crashed ? QStringLiteral("killed by a signal")
                                   : QStringLiteral("exited with status %1").arg(exitCode);
        finish(info);
    });
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        // finished() follows every other error; a failed start has no finished().
        if (error != QProcess::FailedToStart)
            return;
        failStart(m_process->errorString());
    });
    connect(m_stopTimer, &QTimer::timeout, this, &ChildProcess::escalate);
}

int ChildProcess::descriptors(ChildStdioKind stdio)
{
    return ChildStdio::descriptors(stdio) + 2; // + the stderr pipe and the pidfd
}

ChildProcess::~ChildProcess()
{
    if (m_process->state() != QProcess::NotRunning) {
        // Last resort (the owner should have stopped us): never leave a child behind.
        m_process->disconnect(this);
        m_process->kill();
        m_process->waitForFinished(1000);
    }
}

void ChildProcess::start()
{
    // A failed start reaches exited() from the event loop, so nothing is
    // emitted before we return. Every start counts, so spawned children are
    // the exited ones (failed starts included) plus those running.
    metrics::add(metrics::Counter::ChildrenSpawned);
    if (!m_spec.environmentProvider) {
        spawn();
        return;
    }
    m_awaitingEnvironment = true;
    m_spec.environmentProvider(this,
                               [self = QPointer<ChildProcess>(this)](Result<EnvironmentVariables> answer) {
                                   if (self)
                                       self->environmentArrived(answer);
                               });
}

void ChildProcess::environmentArrived(const Result<EnvironmentVariables> &answer)
{
    if (!m_awaitingEnvironment)
        return; // stopped meanwhile, or answered already
    m_awaitingEnvironment = false;
    const QByteArray early = std::exchange(m_earlyInput, QByteArray());
    if (!answer) {
        failStart(answer.error().message, answer.error().code == ErrorCode::Unavailable);
        return;
    }
    QProcessEnvironment environment = m_spec.environment;
    for (const auto &[name, value] : answer.value())
        environment.insert(name, value);
    m_process->setProcessEnvironment(environment);
    spawn();
    if (!early.isEmpty() && m_process->state() != QProcess::NotRunning)
        (void)m_stdio->write(early); // within the bound: write() checked it
}

void ChildProcess::spawn()
{
    if (!m_stdio->open()) {
        failStart(m_stdio->errorString());
        return;
    }
    const int ruleset = m_spec.sandbox ? m_spec.sandbox->rulesetDescriptor() : -1;
    // The broker's pid, seen from the child after fork: if it is no longer the
    // parent, the broker died before PR_SET_PDEATHSIG took hold.
    const pid_t broker = ::getpid();
    m_process->setChildProcessModifier([stdio = m_stdio->childProcessModifier(), ruleset, broker] {
        // Children die with the broker, even on SIGKILL (issue 14): a broker of a
        // cluster that is killed must not leave children holding its users' tokens.
        // QProcess forks on this (the event loop's) thread, which lives as long as
        // the process, so the signal comes only when the broker itself ends.
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != broker)
            ::_exit(127);
        stdio();
        ChildSandbox::restrictChild(ruleset);
    });
    m_process->start(QIODevice::ReadWrite);
    m_stdio->releaseChildEnds(); // forked (or failed): the child has its copies
}

void ChildProcess::failStart(const QString &error, bool unavailable)
{
    ExitInfo info;
    info.exitCode = -1;
    info.failedToStart = true;
    info.unavailable = unavailable;
    info.reason = QStringLiteral("could not start %1: %2").arg(m_spec.program, error);
    // QProcess::start() emits errorOccurred before it returns when it cannot
    // make its pipes (EMFILE); exited() must not reach the caller inside start().
    QMetaObject::invokeMethod(
        this, [this, info] { finish(info); }, Qt::QueuedConnection);
}

bool ChildProcess::write(const QByteArray &line)
{
    if (m_finished || m_stopStage > 0 ||
        (!m_awaitingEnvironment && m_process->state() == QProcess::NotRunning))
        return false;
    const qint64 pending = m_awaitingEnvironment ? m_earlyInput.size() : m_stdio->pendingBytes();
    if (pending + line.size() + 1 > m_spec.maxPendingInputBytes) {
        qCWarning(lcChild).noquote() << m_spec.label << "is not reading its input:" << pending
                                     << "bytes pending, limit" << m_spec.maxPendingInputBytes;
        return false;
    }
    QByteArray framed;
    framed.reserve(line.size() + 1);
    framed.append(line).append('\n');
    metrics::add(metrics::Counter::BytesToChildren, quint64(framed.size()));
    if (m_awaitingEnvironment) {
        m_earlyInput.append(framed); // sent right after the fork
        return true;
    }
    // Sent at once, without a trip through the event loop (docs/benchmarks.md,
    // problem 4); what the kernel does not take now goes when it can.
    return m_stdio->write(framed);
}

void ChildProcess::stop()
{
    if (m_finished || m_stopStage > 0)
        return;
    if (m_awaitingEnvironment) {
        // Nothing forked: the late answer is ignored, and exited() comes from the event loop.
        m_awaitingEnvironment = false;
        m_earlyInput.clear();
        m_stopStage = 1;
        failStart(QStringLiteral("stopped while waiting for its environment"));
        return;
    }
    if (m_process->state() == QProcess::NotRunning) {
        return; // not started yet or already gone: finished/errorOccurred will come
    }
    m_stopStage = 1;
    // MCP stdio shutdown: close the server's input first, then signals.
    m_stdio->closeWrite();
    m_stopTimer->start(m_spec.stopGrace);
}

void ChildProcess::escalate()
{
    if (m_finished)
        return;
    if (m_stopStage == 1) {
        m_stopStage = 2;
        qCDebug(lcChild).noquote() << m_spec.label << "did not exit after stdin closed; sending SIGTERM";
        m_process->terminate();
        m_stopTimer->start(m_spec.stopGrace);
    } else if (m_stopStage == 2) {
        m_stopStage = 3;
        qCWarning(lcChild).noquote() << m_spec.label << "ignored SIGTERM; sending SIGKILL";
        m_process->kill();
    }
}

bool ChildProcess::isRunning() const
{
    return !m_finished && m_process->state() == QProcess::Running;
}

qint64 ChildProcess::processId() const
{
    return m_finished ? 0 : m_pid;
}

void ChildProcess::readStdout(qsizetype budget)
{
    const QPointer<ChildProcess> self(this); // a line's receiver may delete us (deleteLater is the rule)
    char chunk[ReadChunk];
    bool drained = false;
    while (budget > 0 && !drained && self && !m_finished) {
        const qsizetype wanted = std::min(budget, ReadChunk);
        const qsizetype received = m_stdio->read(chunk, wanted);
        if (received <= 0)
            return; // nothing waiting, or stdout has ended
        // A short read took all there was: a second read() would only say
        // EAGAIN (one syscall per answer saved). Anything that arrives
        // meanwhile wakes the notifier again.
        drained = received < wanted;
        budget -= received;
        const QList<LineFramer::Event> events = m_framer.feed(QByteArrayView(chunk, received));
        for (const LineFramer::Event &event : events) {
            if (!self || m_finished)
                return;
            if (event.overflowBytes > 0) {
                ++m_droppedLines;
                qCWarning(lcChild).noquote()
                    << m_spec.label << "wrote a line of" << event.overflowBytes << "bytes, over the limit of"
                    << m_spec.maxLineBytes << "; dropped";
                continue;
            }
            metrics::add(metrics::Counter::BytesFromChildren, quint64(event.line.size()) + 1);
            Q_EMIT lineReceived(event.line);
        }
    }
}

void ChildProcess::readStderr()
{
    m_stderr.feed(m_process->readAllStandardError());
}

void ChildProcess::finish(ExitInfo info)
{
    if (m_finished)
        return;
    // Whatever the child wrote before it went is still owed to its session.
    if (!info.failedToStart) {
        const QPointer<ChildProcess> self(this);
        readStdout(FinalReadBudget);
        if (!self)
            return;
        readStderr();
    }
    m_stdio->close();
    m_stderr.flush();
    m_finished = true;
    m_stopTimer->stop();
    if (m_stopStage > 0 && !info.failedToStart)
        info.reason = QStringLiteral("stopped (%1)").arg(info.reason);
    qCDebug(lcChild).noquote() << m_spec.label << info.reason;
    metrics::add(info.failedToStart   ? metrics::Counter::ChildrenFailedToStart
                 : info.crashed       ? metrics::Counter::ChildrenExitedSignal
                 : info.exitCode == 0 ? metrics::Counter::ChildrenExitedClean
                                      : metrics::Counter::ChildrenExitedError);
    Q_EMIT exited(info);
}

} // namespace fmb
