#include "ChildProcess.h"

#include <QProcess>
#include <QTimer>

#include "Logging.h"

namespace fmb {

ChildProcess::ChildProcess(ChildSpec spec, QObject *parent)
    : Backend(parent)
    , m_spec(std::move(spec))
    , m_process(new QProcess(this))
    , m_stopTimer(new QTimer(this))
    , m_framer(m_spec.maxLineBytes)
    , m_stderr(m_spec.label, {}, [](const QString &line) { qCInfo(lcChild).noquote() << line; })
{
    m_process->setProgram(m_spec.program);
    m_process->setArguments(m_spec.arguments);
    m_process->setProcessEnvironment(m_spec.environment);
    m_process->setProcessChannelMode(QProcess::SeparateChannels);
    m_stopTimer->setSingleShot(true);

    connect(m_process, &QProcess::readyReadStandardOutput, this, &ChildProcess::readStdout);
    connect(m_process, &QProcess::readyReadStandardError, this, &ChildProcess::readStderr);
    connect(m_process, &QProcess::started, this, [this] {
        m_pid = m_process->processId();
        qCDebug(lcChild).noquote() << m_spec.label << "started, pid" << m_pid;
        Q_EMIT started();
    });
    connect(m_process, &QProcess::finished, this, [this](int exitCode, QProcess::ExitStatus status) {
        ExitInfo info;
        info.exitCode = exitCode;
        info.crashed = status == QProcess::CrashExit;
        info.reason = info.crashed ? QStringLiteral("killed by a signal")
                                   : QStringLiteral("exited with status %1").arg(exitCode);
        if (m_sendingInput) {
            QMetaObject::invokeMethod(
                this, [this, info] { finish(info); }, Qt::QueuedConnection);
            return;
        }
        finish(info);
    });
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        // finished() follows every other error; a failed start has no finished().
        if (error != QProcess::FailedToStart)
            return;
        ExitInfo info;
        info.exitCode = -1;
        info.failedToStart = true;
        info.reason = QStringLiteral("could not start %1: %2").arg(m_spec.program, m_process->errorString());
        // QProcess::start() emits this before it returns when it cannot make
        // its pipes (EMFILE); exited() must not reach the caller inside start().
        QMetaObject::invokeMethod(
            this, [this, info] { finish(info); }, Qt::QueuedConnection);
    });
    connect(m_stopTimer, &QTimer::timeout, this, &ChildProcess::escalate);
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
    // A failed start reaches exited() from the event loop (errorOccurred
    // queues it), so nothing is emitted before we return.
    m_process->start(QIODevice::ReadWrite);
}

bool ChildProcess::write(const QByteArray &line)
{
    if (m_finished || m_stopStage > 0 || m_process->state() == QProcess::NotRunning)
        return false;
    if (m_process->bytesToWrite() + line.size() > m_spec.maxPendingInputBytes) {
        qCWarning(lcChild).noquote() << m_spec.label
                                     << "is not reading its input:" << m_process->bytesToWrite()
                                     << "bytes pending, limit" << m_spec.maxPendingInputBytes;
        return false;
    }
    QByteArray framed;
    framed.reserve(line.size() + 1);
    framed.append(line).append('\n');
    if (m_process->write(framed) != framed.size())
        return false;
    sendInput();
    return true;
}

// QProcess::write() only queues: the line would reach the child on the next
// write notification, one event-loop iteration later (docs/benchmarks.md,
// problem 4). waitForBytesWritten(0) writes it now, without blocking. When the
// pipe is full it reads stdout or reaps the child instead, and emits those
// signals from inside this call; while m_sendingInput is set their handlers
// queue themselves, so our owner never hears from us inside its own write().
void ChildProcess::sendInput()
{
    if (m_process->state() != QProcess::Running)
        return; // Starting: waitForBytesWritten() would wait for (and emit) started
    m_sendingInput = true;
    (void)m_process->waitForBytesWritten(0);
    m_sendingInput = false;
}

void ChildProcess::stop()
{
    if (m_finished || m_stopStage > 0)
        return;
    if (m_process->state() == QProcess::NotRunning) {
        return; // not started yet or already gone: finished/errorOccurred will come
    }
    m_stopStage = 1;
    // MCP stdio shutdown: close the server's input first, then signals.
    m_process->closeWriteChannel();
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

void ChildProcess::readStdout()
{
    if (m_sendingInput) {
        if (!m_stdoutDeferred) {
            m_stdoutDeferred = true;
            QMetaObject::invokeMethod(
                this,
                [this] {
                    m_stdoutDeferred = false;
                    readStdout();
                },
                Qt::QueuedConnection);
        }
        return;
    }
    const QByteArray chunk = m_process->readAllStandardOutput();
    const QList<LineFramer::Event> events = m_framer.feed(chunk);
    for (const LineFramer::Event &event : events) {
        if (m_finished)
            return;
        if (event.overflowBytes > 0) {
            ++m_droppedLines;
            qCWarning(lcChild).noquote() << m_spec.label << "wrote a line of" << event.overflowBytes
                                         << "bytes, over the limit of" << m_spec.maxLineBytes << "; dropped";
            continue;
        }
        Q_EMIT lineReceived(event.line);
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
        readStdout();
        readStderr();
    }
    m_stderr.flush();
    m_finished = true;
    m_stopTimer->stop();
    if (m_stopStage > 0 && !info.failedToStart)
        info.reason = QStringLiteral("stopped (%1)").arg(info.reason);
    qCDebug(lcChild).noquote() << m_spec.label << info.reason;
    Q_EMIT exited(info);
}

} // namespace fmb
