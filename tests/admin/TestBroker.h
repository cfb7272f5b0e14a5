#pragma once

#include <memory>

#include <QDateTime>
#include <QTemporaryDir>

#include "QuietBackend.h"
#include "admin/AdminServer.h"
#include "session/SessionRegistry.h"

namespace fmbtest {

// One broker in a test process: a registry of quiet sessions with a node id
// and its admin server on socketPath (not listening yet), for the tests of
// several brokers at once (issue 14).
struct TestBroker {
    TestBroker(const QString &node, const QString &socketPath)
        : registry(fmb::RegistryLimits{}, [](const fmb::SessionOwner &, const QString &) {
            return std::make_unique<QuietBackend>();
        })
    {
        registry.setNodeId(node);
        fmb::AdminServerConfig config;
        config.socketPath = socketPath;
        server = std::make_unique<fmb::AdminServer>(config, &registry);
        fmb::DaemonInfo info;
        info.version = QStringLiteral("test");
        info.nodeId = node;
        info.startedMs = QDateTime::currentMSecsSinceEpoch();
        server->setDaemonInfo(info);
    }
    ~TestBroker() { server.reset(); } // before the registry it watches
    TestBroker(const TestBroker &) = delete;
    TestBroker &operator=(const TestBroker &) = delete;

    // A new session of user; its id, or empty.
    QString create(const QString &user)
    {
        fmb::Result<fmb::Session *> session = registry.create(fmb::SessionOwner{user, QString()});
        return session ? session.value()->id() : QString();
    }

    fmb::SessionRegistry registry;
    std::unique_ptr<fmb::AdminServer> server;
};

// Brokers "alpha" and "beta" listening on sockets in a temporary directory.
struct TwoBrokers {
    [[nodiscard]] bool listen()
    {
        alpha = std::make_unique<TestBroker>(QStringLiteral("alpha"),
                                             dir.filePath(QStringLiteral("a/admin.sock")));
        beta = std::make_unique<TestBroker>(QStringLiteral("beta"),
                                            dir.filePath(QStringLiteral("b/admin.sock")));
        return dir.isValid() && alpha->server->listen().ok() && beta->server->listen().ok();
    }
    // A socket path nobody serves.
    [[nodiscard]] QString missingSocket() const { return dir.filePath(QStringLiteral("gone/admin.sock")); }

    QTemporaryDir dir;
    std::unique_ptr<TestBroker> alpha;
    std::unique_ptr<TestBroker> beta;
};

} // namespace fmbtest
