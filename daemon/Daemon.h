#pragma once

#include <QObject>
#include <QPointer>

#include "base/Result.h"
#include "config/BrokerConfig.h"

class QTimer;

namespace fmb {

class McpHttpServer;
class SessionRegistry;

// Wires the daemon together from its config: the session registry with a
// child-process backend factory, the HTTP server, and graceful shutdown.
class Daemon final : public QObject {
    Q_OBJECT
public:
    explicit Daemon(BrokerConfig config, QObject *parent = nullptr);
    ~Daemon() override;

    // Binds and serves; logs "listening on http://HOST:PORT".
    [[nodiscard]] Result<void> start();
    // Stops accepting, ends every session, stops every child; stopped() follows.
    void shutdown();

Q_SIGNALS:
    void stopped();

private:
    BrokerConfig m_config;
    SessionRegistry *m_registry = nullptr; // child
    McpHttpServer *m_server = nullptr;     // child
    QTimer *m_shutdownDeadline = nullptr;  // child
    bool m_stopping = false;
};

} // namespace fmb
