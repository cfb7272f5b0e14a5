#pragma once

#include <memory>

#include <QObject>
#include <QPointer>

#include "base/Result.h"
#include "child/ChildSandbox.h"
#include "child/ChildStdio.h"
#include "config/BrokerConfig.h"
#include "session/SessionRegistry.h"
#include "transport/McpHttpServer.h"

class QTimer;

namespace fmb {

class AdminServer;
class BrokerDirectory;
class AuditTrail;
class MetricsServer;
class OAuthMode;
class SystemdNotifier;

// Wires the daemon together from its config: the session registry with a
// child-process backend factory, the HTTP server, the admin socket, and
// graceful shutdown.
class Daemon final : public QObject {
    Q_OBJECT
public:
    explicit Daemon(BrokerConfig config, QObject *parent = nullptr);
    ~Daemon() override;

    // Opens the store (auth oauth) and the admin socket (failing that is an
    // error when --admin-socket named it, a warning for the default path:
    // another broker may be using it), then binds and serves, logs
    // "listening on http://HOST:PORT" and tells systemd READY=1.
    [[nodiscard]] Result<void> start();
    // Stops accepting, ends every session, stops every child; stopped() follows.
    void shutdown();
    // SIGHUP: applies the settings of `next` that can change while serving
    // (limits, timeouts, allowed origins, log rules) and logs which settings changed and
    // which of those wait for a restart. An error keeps the running
    // configuration. systemd hears RELOADING=1, then READY=1.
    void reload(const Result<BrokerConfig> &next);

Q_SIGNALS:
    void stopped();

private:
    // What STATUS= tells systemd (systemctl status shows it).
    [[nodiscard]] QString statusText() const;
    // The registry's and the HTTP server's settings, from m_config.
    [[nodiscard]] RegistryLimits registryLimits() const;
    [[nodiscard]] HttpConfig httpConfig() const;
    // max_connections, or its "auto", within what the open-file limit has room for.
    [[nodiscard]] int maxConnections() const;
    // The children's Landlock ruleset, per child_sandbox; an error stops the start.
    [[nodiscard]] Result<void> prepareSandbox();
    [[nodiscard]] Result<void> startMetrics();
    // Issue 14: this broker's row in the cluster's database, and the admin
    // socket's "brokers" from it. Nothing with a SQLite store or local mode.
    void startBrokerDirectory();

    BrokerConfig m_config;
    SessionRegistry *m_registry = nullptr;               // child
    McpHttpServer *m_server = nullptr;                   // child
    OAuthMode *m_oauth = nullptr;                        // child; null in local mode
    AdminServer *m_admin = nullptr;                      // child
    BrokerDirectory *m_directory = nullptr;              // child; null unless in a cluster
    AuditTrail *m_audit = nullptr;                       // child; null without audit_log
    MetricsServer *m_metrics = nullptr;                  // child; null without metrics_listen
    QTimer *m_shutdownDeadline = nullptr;                // child
    SystemdNotifier *m_systemd = nullptr;                // child
    QTimer *m_statusDelay = nullptr;                     // child: STATUS= at most once a second
    QString m_listenUrl;                                 // set in start()
    QString m_nodeId;                                    // set in start(): --node-id or its default
    ChildStdioKind m_childStdio = ChildStdioKind::Pipes; // chosen in start()
    quint64 m_fileLimit = 0;                             // RLIMIT_NOFILE, raised in start()
    std::shared_ptr<const ChildSandbox> m_sandbox;       // null: children run unconfined
    bool m_stopping = false;
};

} // namespace fmb
