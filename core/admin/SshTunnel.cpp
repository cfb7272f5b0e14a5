#include "SshTunnel.h"

#include <QDir>
#include <QProcess>
#include <QTemporaryDir>
#include <QTimer>

#include "AdminPaths.h"
#include "Logging.h"

namespace fmb {
namespace {

constexpr qsizetype MaxStderrBytes = 4096;
constexpr int PollIntervalMs = 50;

} // namespace

SshOptions sshOptionsFromEnvironment()
{
    SshOptions options;
    const QString extra = qEnvironmentVariable("FMB_SSH_OPTIONS").trimmed();
    if (!extra.isEmpty())
        options.extraArguments = QProcess::splitCommand(extra);
    const QString program = qEnvironmentVariable("FMB_SSH_PROGRAM").trimmed();
    if (!program.isEmpty())
        options.program = program;
    return options;
}

SshTunnel::SshTunnel(AdminTarget target, SshOptions options, QObject *parent)
    : QObject(parent)
    , m_target(std::move(target))
    , m_options(std::move(options))
    , m_remotePath(m_target.socketPath)
    , m_poll(new QTimer(this))
    , m_deadline(new QTimer(this))
{
    m_poll->setInterval(PollIntervalMs);
    connect(m_poll, &QTimer::timeout, this, &SshTunnel::poll);
    m_deadline->setSingleShot(true);
    connect(m_deadline, &QTimer::timeout, this, [this] {
        fail(QStringLiteral("ssh %1 did not set up the forward within %2 s%3")
                 .arg(m_target.sshDestination)
                 .arg(m_options.timeout.count() / 1000.0)
                 .arg(recentStderr().isEmpty() ? QString() : QLatin1String(": ") + recentStderr()));
    });
}

SshTunnel::~SshTunnel()
{
    stop();
}

QStringList SshTunnel::baseArguments() const
{
    QStringList arguments{QStringLiteral("-o"), QStringLiteral("BatchMode=yes")};
    arguments += m_options.extraArguments;
    return arguments;
}

void SshTunnel::start()
{
    m_dir = std::make_unique<QTemporaryDir>(QDir::tempPath() + QLatin1String("/fmb-ssh-XXXXXX"));
    if (!m_dir->isValid()) {
        QMetaObject::invokeMethod(
            this,
            [this] {
                fail(QStringLiteral("cannot create a temporary directory: %1").arg(m_dir->errorString()));
            },
            Qt::QueuedConnection);
        return;
    }
    m_localPath = m_dir->filePath(QStringLiteral("admin.sock"));
    m_deadline->start(m_options.timeout);
    if (m_remotePath.isEmpty())
        QMetaObject::invokeMethod(this, &SshTunnel::startResolve, Qt::QueuedConnection);
    else
        QMetaObject::invokeMethod(this, &SshTunnel::startForward, Qt::QueuedConnection);
}

void SshTunnel::startResolve()
{
    if (m_done)
        return;
    m_resolve = new QProcess(this);
    m_resolve->setStandardInputFile(QProcess::nullDevice());
    connect(m_resolve, &QProcess::readyReadStandardError, this, [this] { collectStderr(m_resolve); });
    connect(m_resolve, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            fail(QStringLiteral("cannot run %1: %2").arg(m_options.program, m_resolve->errorString()));
    });
    connect(m_resolve, &QProcess::finished, this, [this] {
        if (m_done)
            return;
        collectStderr(m_resolve);
        const QString path = QString::fromUtf8(m_resolve->readAllStandardOutput()).trimmed();
        if (m_resolve->exitStatus() != QProcess::NormalExit || m_resolve->exitCode() != 0 ||
            !path.startsWith(QLatin1Char('/'))) {
            fail(QStringLiteral("ssh %1 could not look up the admin socket path (%2)%3")
                     .arg(m_target.sshDestination, exitText(m_resolve),
                          recentStderr().isEmpty() ? QString() : QLatin1String(": ") + recentStderr()));
            return;
        }
        m_remotePath = path.section(QLatin1Char('\n'), 0, 0).trimmed();
        qCDebug(lcAdmin).noquote() << "remote admin socket on" << m_target.sshDestination << "is"
                                   << m_remotePath;
        startForward();
    });
    QStringList arguments = baseArguments();
    arguments << QStringLiteral("--") << m_target.sshDestination << remoteDefaultSocketCommand();
    m_resolve->start(m_options.program, arguments);
}

void SshTunnel::startForward()
{
    if (m_done)
        return;
    m_stderr.clear();
    m_ssh = new QProcess(this);
    m_ssh->setStandardInputFile(QProcess::nullDevice());
    connect(m_ssh, &QProcess::readyReadStandardError, this, [this] { collectStderr(m_ssh); });
    connect(m_ssh, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            fail(QStringLiteral("cannot run %1: %2").arg(m_options.program, m_ssh->errorString()));
    });
    connect(m_ssh, &QProcess::finished, this, [this] {
        collectStderr(m_ssh);
        m_poll->stop();
        const QString detail = recentStderr().isEmpty() ? QString() : QLatin1String(": ") + recentStderr();
        if (!m_ready) {
            fail(
                QStringLiteral("ssh %1 failed (%2)%3").arg(m_target.sshDestination, exitText(m_ssh), detail));
            return;
        }
        if (m_done)
            return;
        m_done = true;
        Q_EMIT closed(QStringLiteral("the ssh connection to %1 ended (%2)%3")
                          .arg(m_target.sshDestination, exitText(m_ssh), detail));
    });
    QStringList arguments{QStringLiteral("-N"), QStringLiteral("-o"),
                          QStringLiteral("ExitOnForwardFailure=yes"), QStringLiteral("-o"),
                          QStringLiteral("StreamLocalBindUnlink=yes")};
    arguments += baseArguments();
    arguments << QStringLiteral("-L") << m_localPath + QLatin1Char(':') + m_remotePath << QStringLiteral("--")
              << m_target.sshDestination;
    qCDebug(lcAdmin).noquote() << "starting" << m_options.program << arguments.join(QLatin1Char(' '));
    m_ssh->start(m_options.program, arguments);
    m_poll->start();
}

void SshTunnel::poll()
{
    if (m_done || m_ready)
        return;
    if (probeUnixSocket(m_localPath) != SocketProbe::Listening)
        return;
    m_ready = true;
    m_poll->stop();
    m_deadline->stop();
    qCInfo(lcAdmin).noquote() << "ssh forward to" << m_target.sshDestination + QLatin1Char(':') + m_remotePath
                              << "ready at" << m_localPath;
    Q_EMIT ready(m_localPath);
}

void SshTunnel::fail(const QString &message)
{
    if (m_done)
        return;
    m_done = true;
    m_poll->stop();
    m_deadline->stop();
    qCWarning(lcAdmin).noquote() << message;
    for (QProcess *process : {m_resolve, m_ssh}) {
        if (process && process->state() != QProcess::NotRunning) {
            process->disconnect(this);
            process->kill();
            process->waitForFinished(1000);
        }
    }
    Q_EMIT failed(message);
}

void SshTunnel::stop()
{
    m_done = true;
    m_poll->stop();
    m_deadline->stop();
    for (QProcess *process : {m_resolve, m_ssh}) {
        if (process && process->state() != QProcess::NotRunning) {
            process->disconnect(this);
            process->terminate();
            if (!process->waitForFinished(1000)) {
                process->kill();
                process->waitForFinished(1000);
            }
        }
    }
    m_dir.reset(); // removes the temporary socket with its directory
}

void SshTunnel::collectStderr(QProcess *process)
{
    if (!process)
        return;
    m_stderr += process->readAllStandardError();
    if (m_stderr.size() > MaxStderrBytes)
        m_stderr = m_stderr.right(MaxStderrBytes);
}

QString SshTunnel::recentStderr() const
{
    QStringList lines = QString::fromUtf8(m_stderr).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    for (QString &line : lines)
        line = line.trimmed();
    lines.removeAll(QString());
    while (lines.size() > 3)
        lines.removeFirst();
    return lines.join(QLatin1String("; "));
}

QString SshTunnel::exitText(QProcess *process) const
{
    if (process->exitStatus() == QProcess::CrashExit)
        return QStringLiteral("killed");
    return QStringLiteral("exit %1").arg(process->exitCode());
}

} // namespace fmb
