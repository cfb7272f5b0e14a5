#pragma once

#include <chrono>
#include <memory>

#include <QObject>
#include <QStringList>

#include "AdminTarget.h"

class QProcess;
class QTemporaryDir;
class QTimer;

namespace fmb {

struct SshOptions {
    QString program = QStringLiteral("ssh");
    QStringList extraArguments;               // e.g. -p 2222 -i KEY; see sshOptionsFromEnvironment()
    std::chrono::milliseconds timeout{15000}; // to resolve the path and set up the forward
};

// SshOptions with extraArguments split (like a shell) from FMB_SSH_OPTIONS.
[[nodiscard]] SshOptions sshOptionsFromEnvironment();

// Reaches a remote daemon's admin socket through the system OpenSSH client:
// `ssh -N -o ExitOnForwardFailure=yes -o BatchMode=yes -L LOCAL:REMOTE DEST`,
// LOCAL being a socket in a private temporary directory. Without a remote path
// it first asks the host for its default (remoteDefaultSocketCommand()).
// Owns the ssh process: stopping or destroying the tunnel ends it and removes
// the temporary socket.
class SshTunnel final : public QObject {
    Q_OBJECT
public:
    SshTunnel(AdminTarget target, SshOptions options, QObject *parent = nullptr);
    ~SshTunnel() override;

    // Asynchronous: ready() or failed() follows, never before start() returns.
    void start();
    // Ends ssh (SIGTERM, then SIGKILL after a second). No signal follows.
    void stop();

    [[nodiscard]] QString localSocketPath() const { return m_localPath; }
    [[nodiscard]] QString remoteSocketPath() const { return m_remotePath; }
    // The last lines ssh wrote to stderr (diagnostics for a failed channel).
    [[nodiscard]] QString recentStderr() const;

Q_SIGNALS:
    void ready(const QString &localSocketPath);
    void failed(const QString &message); // before ready(); once
    void closed(const QString &message); // ssh ended after ready(); once

private:
    void startResolve();
    void startForward();
    void poll();
    void fail(const QString &message);
    void collectStderr(QProcess *process);
    [[nodiscard]] QStringList baseArguments() const;
    [[nodiscard]] QString exitText(QProcess *process) const;

    AdminTarget m_target;
    SshOptions m_options;
    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_localPath;
    QString m_remotePath;
    QProcess *m_resolve = nullptr; // child
    QProcess *m_ssh = nullptr;     // child
    QTimer *m_poll = nullptr;      // child
    QTimer *m_deadline = nullptr;  // child
    QByteArray m_stderr;
    bool m_ready = false;
    bool m_done = false; // failed() or closed() was emitted, or stop() ran
};

} // namespace fmb
