#pragma once

#include <chrono>
#include <functional>

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QPointer>

#include "AdminProtocol.h"
#include "EventThrottle.h"
#include "base/Result.h"

class QLocalServer;
class QTimer;

namespace fmb {

class AdminPeer;
class Session;
class SessionRegistry;

struct AdminServerConfig {
    QString socketPath;
    // The socket's directory must belong to us and is kept at 0700 (set for
    // the default path under /tmp or the runtime dir; an operator's own
    // directory is left as it is).
    bool privateDirectory = true;
    qsizetype maxLineBytes = AdminMaxLineBytes;
    qint64 maxQueuedBytes = 1024 * 1024; // per client, unsent; over it the client is dropped
    int maxClients = 64;
    std::chrono::milliseconds activityInterval{1000}; // session.activity, per session
};

// The daemon's admin socket: a QLocalServer (mode 0600, in a 0700 directory)
// that serves the admin protocol (AdminProtocol.h) from the session registry,
// and pushes session events to subscribers. Connections from another uid are
// refused (SO_PEERCRED) and logged to fmb.admin. Runs on the registry's thread;
// never blocks except for the one connect() probe of a leftover socket file in
// listen().
class AdminServer final : public QObject {
    Q_OBJECT
public:
    AdminServer(AdminServerConfig config, SessionRegistry *registry, QObject *parent = nullptr);
    // Removes the socket file if we still listen.
    ~AdminServer() override;

    // The parts of "info" the registry does not know (version, listen URL, ...).
    void setDaemonInfo(const DaemonInfo &info) { m_info = info; }

    // What "revoke" does to the store: takes the user's grants, broker
    // tokens and stored Forgejo tokens and says how many (sessions is left
    // to the server), through `reply`, now or later (the daemon's store
    // thread writes), on this object's thread. The daemon's OAuth mode sets
    // it; without one, revoke answers "unavailable" (local mode has no
    // tokens to take).
    using RevokeReply = std::function<void(Result<RevokeOutcome>)>;
    using UserRevoker = std::function<void(const QString &user, RevokeReply reply)>;
    void setUserRevoker(UserRevoker revoker) { m_revoker = std::move(revoker); }

    // The brokers of the cluster (issue 14): the daemon sets it when a
    // BrokerDirectory runs; without one, "brokers" answers this broker alone
    // (source "self"). The lister answers through `reply`, now or later (the
    // directory reads the database on its own thread), on this object's
    // thread; a reply for an admin client that left is dropped.
    using BrokerReply = std::function<void(Result<QList<BrokerStatus>>)>;
    using BrokerLister = std::function<void(BrokerReply reply)>;
    void setBrokerLister(BrokerLister lister) { m_brokerLister = std::move(lister); }

    // Creates the directory, removes a stale socket file (only when nothing
    // listens on it), listens, and checks the mode. Conflict when another
    // process serves the path.
    [[nodiscard]] Result<void> listen();
    // Stops accepting and removes the socket file; connected clients stay.
    void stopListening();
    [[nodiscard]] bool isListening() const;

    [[nodiscard]] const QString &socketPath() const { return m_config.socketPath; }
    [[nodiscard]] int clientCount() const { return int(m_peers.size()); }
    [[nodiscard]] int subscriberCount() const;
    [[nodiscard]] DaemonInfo daemonInfo() const;
    // This process's counters since it started (base/Metrics).
    [[nodiscard]] static ActivityCounters activityCounters();
    // session.activity events the rate limit holds back, owed to subscribers.
    [[nodiscard]] bool holdsActivity() const { return m_activity.hasHeld(); }

    // One session as the protocol describes it.
    [[nodiscard]] static SessionInfo describe(const Session &session);

Q_SIGNALS:
    // After a revoke took what it could; outcome.user names the user.
    void userRevoked(const fmb::RevokeOutcome &outcome);

private:
    void onNewConnection();
    void onRequest(quint64 peerId, const ParsedAdminRequest &parsed);
    void onPeerClosed(quint64 peerId);
    [[nodiscard]] QJsonValue evict(const AdminRequest &request);
    // The store's part first, then the user's sessions end; `done` gets the
    // outcome (now, or when the revoker answers).
    void revoke(const QString &user, std::function<void(Result<RevokeOutcome>)> done);
    [[nodiscard]] RevokeOutcome endRevokedSessions(const QString &user, RevokeOutcome outcome);
    [[nodiscard]] QList<SessionInfo> sessionList() const;
    // What "brokers" answers, or why it cannot, handed to `done`.
    void listBrokers(std::function<void(Result<BrokerList>)> done);
    [[nodiscard]] Result<BrokerList> databaseBrokers(Result<QList<BrokerStatus>> brokers) const;
    [[nodiscard]] BrokerList selfBroker() const;

    void watch(Session *session);
    void publish(const QString &event, const QString &sessionId);
    void publishEnded(const QString &sessionId, const QString &reason);
    void broadcast(const QByteArray &line);
    void onActivity(const QString &sessionId);
    void flushActivity();

    AdminServerConfig m_config;
    QPointer<SessionRegistry> m_registry;
    QLocalServer *m_server = nullptr; // child
    DaemonInfo m_info;
    UserRevoker m_revoker;
    BrokerLister m_brokerLister;
    QHash<quint64, AdminPeer *> m_peers; // children; deleted later once closed
    quint64 m_nextPeerId = 1;
    QHash<QString, SessionInfo> m_known; // last description of each live session, for session.ended
    EventThrottle m_activity;
    QElapsedTimer m_clock;
    QTimer *m_activityTimer = nullptr; // child
};

} // namespace fmb
