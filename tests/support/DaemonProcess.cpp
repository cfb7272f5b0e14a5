#include "DaemonProcess.h"

#include <csignal>

#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QTest>

namespace fmbtest {

DaemonProcess::DaemonProcess(QObject *parent)
    : QObject(parent)
{
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    const QStringList keys = environment.keys();
    for (const QString &key : keys) {
        if (key.startsWith(QLatin1String("FMB_")))
            environment.remove(key); // settings come from the test's flags only
    }
    environment.insert(QStringLiteral("LANG"), QStringLiteral("C.UTF-8"));
    environment.insert(QStringLiteral("LC_ALL"), QStringLiteral("C.UTF-8"));
    // QT_LOGGING_RULES stays the test's own (ctest sets fmb.*.debug=false for
    // every test; a test of log_rules clears it so the daemon's setting applies).
    m_process.setProcessEnvironment(environment);
    m_process.setProcessChannelMode(QProcess::SeparateChannels);
    m_process.setProgram(daemonPath());
    connect(&m_process, &QProcess::readyReadStandardError, this, &DaemonProcess::collect);
    connect(&m_process, &QProcess::readyReadStandardOutput, this, &DaemonProcess::collect);
    connect(&m_process, &QProcess::finished, this, &DaemonProcess::finished);
}

DaemonProcess::~DaemonProcess()
{
    (void)stop();
}

QString DaemonProcess::daemonPath()
{
    return QStringLiteral(FMB_BIN_DIR "/forgejo-mcp-brokerd");
}

QString DaemonProcess::testServerPath()
{
    return QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server");
}

void DaemonProcess::setEnvironmentValue(const QString &name, const QString &value)
{
    QProcessEnvironment environment = m_process.processEnvironment();
    environment.insert(name, value);
    m_process.setProcessEnvironment(environment);
}

void DaemonProcess::setWorkingDirectory(const QString &directory)
{
    m_process.setWorkingDirectory(directory);
}

void DaemonProcess::setChildProcessModifier(const std::function<void()> &modifier)
{
    m_process.setChildProcessModifier(modifier);
}

bool DaemonProcess::run(const QStringList &arguments)
{
    m_failure.clear();
    m_url.clear();
    m_process.setArguments(arguments);
    m_process.start();
    if (!waitFor([this] { return m_process.state() != QProcess::Starting; }, WaitMs,
                 QStringLiteral("the start of ") + daemonPath()))
        return false;
    if (m_process.state() != QProcess::Running) {
        m_failure = QStringLiteral("%1 did not start: %2").arg(daemonPath(), m_process.errorString());
        return false;
    }
    return true;
}

bool DaemonProcess::start(const QStringList &extra, const QString &childCommand)
{
    return run(QStringList{QStringLiteral("--auth"), QStringLiteral("none"), QStringLiteral("--listen"),
                           QStringLiteral("127.0.0.1:0"), QStringLiteral("--child-command"), childCommand} +
               extra);
}

bool DaemonProcess::startListening(const QStringList &arguments)
{
    return run(arguments) && waitForListening();
}

bool DaemonProcess::waitForListening(int timeoutMs)
{
    // Daemon.cpp logs it once the HTTP port (and before it the admin socket) listens.
    static const QRegularExpression listening(QStringLiteral("fmb\\.http: listening on (http://[^\\s/]+)"));
    const QRegularExpressionMatch match = waitForLine(listening, timeoutMs);
    if (!match.hasMatch())
        return false;
    m_url = QUrl(match.captured(1));
    return true;
}

QRegularExpressionMatch DaemonProcess::waitForLine(const QRegularExpression &pattern, int timeoutMs)
{
    QRegularExpressionMatch found;
    const auto matched = [&] {
        const QList<QByteArray> lines = logLines();
        for (const QByteArray &line : lines) {
            found = pattern.match(QString::fromUtf8(line));
            if (found.hasMatch())
                return true;
        }
        return false;
    };
    if (!waitFor(matched, timeoutMs, QStringLiteral("a log line matching /%1/").arg(pattern.pattern())))
        return {};
    return found;
}

bool DaemonProcess::waitForExit(int timeoutMs)
{
    m_failure.clear();
    if (QTest::qWaitFor([this] { return !isRunning(); }, timeoutMs)) {
        collect();
        return true;
    }
    m_failure = QStringLiteral("forgejo-mcp-brokerd still runs after %1 ms; its log:\n%2")
                    .arg(timeoutMs)
                    .arg(QString::fromUtf8(log()));
    return false;
}

const QByteArray &DaemonProcess::log()
{
    collect();
    return m_log;
}

QList<QByteArray> DaemonProcess::logLines()
{
    const QByteArray &text = log();
    // Only whole lines: a line still being written could match a prefix of it.
    const qsizetype end = text.lastIndexOf('\n');
    if (end < 0)
        return {};
    return text.left(end).split('\n');
}

const QByteArray &DaemonProcess::standardOutput()
{
    collect();
    return m_stdout;
}

void DaemonProcess::terminate()
{
    m_process.terminate();
}

void DaemonProcess::kill()
{
    m_process.kill();
}

void DaemonProcess::sendSignal(int signalNumber)
{
    if (isRunning())
        (void)::kill(pid_t(m_process.processId()), signalNumber);
}

int DaemonProcess::stop(int timeoutMs)
{
    if (isRunning()) {
        m_process.terminate();
        if (!QTest::qWaitFor([this] { return !isRunning(); }, timeoutMs)) {
            m_process.kill();
            m_process.waitForFinished(WaitMs); // reaps it: SIGKILL cannot be refused
            return -1;
        }
    }
    collect();
    return m_process.exitStatus() == QProcess::NormalExit ? m_process.exitCode() : -1;
}

bool DaemonProcess::waitFor(const std::function<bool()> &condition, int timeoutMs, const QString &what)
{
    m_failure.clear();
    const bool met =
        QTest::qWaitFor([&] { return condition() || m_process.state() == QProcess::NotRunning; }, timeoutMs);
    if (met && condition())
        return true;
    const QString why =
        !met ? QStringLiteral("it did not come within %1 ms").arg(timeoutMs)
             : QStringLiteral("the daemon exited first (%1, exit code %2)")
                   .arg(m_process.exitStatus() == QProcess::NormalExit ? QStringLiteral("normal exit")
                                                                       : QStringLiteral("crashed"))
                   .arg(m_process.exitCode());
    m_failure = QStringLiteral("forgejo-mcp-brokerd: waited for %1, but %2; its log:\n%3")
                    .arg(what, why, QString::fromUtf8(log()));
    return false;
}

void DaemonProcess::collect()
{
    m_log += m_process.readAllStandardError();
    m_stdout += m_process.readAllStandardOutput();
}

} // namespace fmbtest
