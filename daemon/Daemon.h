#pragma once

#include <memory>

#include <QObject>
#include <QPointer>

#include "base/Result.h"
#include "child/ChildSandbox.h"
#include "child/ChildStdio.h"
#include "config/BrokerConfig.h"

class QTimer;

namespace fmb {

class AdminServer;
class McpHttpServer;
class MetricsServer;
class OAuthMode;
class SessionRegistry;

// Wires the daemon together from its config: the session registry with a
// child-process backend factory, the HTTP server, the admin socket, and
// graceful shutdown.
class Daemon final : public QObject {
    Q_OBJECT
public:
    explicit Daemon(BrokerConfig config, QObject *parent = nullptr);
    ~Daemon() override;

    // Binds and serves; logs "listening on http://HOST:PORT". Then opens the
    // admin socket: failing that is an error when --admin-socket named it, a
    // warning for the default path (another broker may be using it).
    [[nodiscard]] Result<void> start();
    // Stops accepting, ends every session, stops every child; stopped() follows.
    void shutdown();

Q_SIGNALS:
    void stopped();

private:
    // The children's Landlock ruleset, per child_sandbox; an error stops the start.
    [[nodiscard]] Result<void> prepareSandbox();
    [[nodiscard]] Result<void> startMetrics();

    BrokerConfig m_config;
    SessionRegistry *m_registry = nullptr;               // child
    McpHttpServer *m_server = nullptr;                   // child
    OAuthMode *m_oauth = nullptr;                        // child; null in local mode
    AdminServer *m_admin = nullptr;                      // child
    MetricsServer *m_metrics = nullptr;                  // child; null without metrics_listen
    QTimer *m_shutdownDeadline = nullptr;                // child
    ChildStdioKind m_childStdio = ChildStdioKind::Pipes; // chosen in start()
    std::shared_ptr<const ChildSandbox> m_sandbox;       // null: children run unconfined
    bool m_stopping = false;
};

} // namespace fmb
