#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <QHash>
#include <QObject>
#include <QString>

#include "Session.h"
#include "base/Result.h"

class QTimer;

namespace fmb {

struct RegistryLimits {
    int maxSessions = 1000;
    int maxSessionsPerOwner = 0; // 0 = no per-owner cap
    int fileCeiling = 0;         // sessions the open-file limit has room for; 0 = not checked
    std::chrono::milliseconds idleTimeout{std::chrono::minutes(15)};
    std::chrono::milliseconds reapInterval{std::chrono::seconds(30)};
    StreamLimits streams;
};

// Why a session ended, counted in /metrics (the reason text says more in
// the log). A session that ends by itself (its child exited, a respawn
// failed) is ChildExit.
enum class EndCause { ChildExit, Client, Idle, Operator, Revoked, RefreshFailed, Shutdown };

// Makes the backend of a new session (or of a respawn): a child process
// started with the owner's token, in the daemon.
using BackendFactory =
    std::function<std::unique_ptr<Backend>(const SessionOwner &owner, const QString &sessionId)>;

// Every live session by id; creates them (192-bit random hex ids, after
// "NODEID-" once setNodeId() was called), enforces
// the caps, evicts, reaps idle sessions on a timer, and removes a session
// when it ends (its Done watcher: a backend exit ends the session only while
// that backend is current — see Session). Sessions that ended but whose
// children are still stopping are counted until they finish.
class SessionRegistry final : public QObject {
    Q_OBJECT
public:
    SessionRegistry(RegistryLimits limits, BackendFactory factory, QObject *parent = nullptr);
    ~SessionRegistry() override;

    // A new session with a started backend. LimitReached at a cap (sessions
    // still stopping count against fileCeiling: their children hold descriptors).
    [[nodiscard]] Result<Session *> create(const SessionOwner &owner, SessionKind kind = SessionKind::Client);
    // The user child of owner.user (issue 13): the one running, else a new
    // one (counted like a session against the caps) that the registry
    // initializes itself with userChildInitialize() and
    // notifications/initialized. Its backend gets the token of owner's grant.
    [[nodiscard]] Result<Session *> userChild(const SessionOwner &owner);
    // Null when the user has none running.
    [[nodiscard]] Session *findUserChild(const QString &user) const { return m_userChildren.value(user); }
    // The initialize a user child gets: protocol 2025-11-25, the broker's
    // client info, and every client capability a 2026-07-28 client may declare.
    [[nodiscard]] static QJsonObject userChildInitialize(const QJsonValue &id);
    // Null for unknown or ended ids.
    [[nodiscard]] Session *find(const QString &id) const;
    [[nodiscard]] QList<Session *> sessions() const;
    [[nodiscard]] int count() const { return int(m_sessions.size()); }
    // Of count(): the 2026-07-28 children, one per user (issue 13).
    [[nodiscard]] int userChildCount() const { return int(m_userChildren.size()); }
    // Sessions of one user (all of their grants): what the per-user cap counts.
    [[nodiscard]] int countFor(const QString &user) const { return m_perOwner.value(user); }
    [[nodiscard]] int stoppingCount() const { return int(m_stopping.size()); }
    [[nodiscard]] const RegistryLimits &limits() const { return m_limits; }
    // Known only once the daemon has raised its open-file limit.
    void setFileCeiling(int sessions) { m_limits.fileCeiling = sessions; }
    // Ids of sessions created from now on start with "NODEID-" (issue 14:
    // nginx routes on it). Empty: bare hex, as before.
    void setNodeId(const QString &nodeId) { m_nodeId = nodeId; }
    // New caps, idle timeout, reap interval and stream limits (SIGHUP).
    // Caps apply to the next create(): sessions over a lowered cap stay; new
    // stream limits apply to sessions created from now on. fileCeiling is kept.
    void setLimits(RegistryLimits limits);

    // True when the session existed. Its children stop in the background.
    bool evict(const QString &id, const QString &reason, EndCause cause = EndCause::Operator);
    int evictOwner(const QString &user, const QString &reason);
    // Every session of these grants (a revoked grant, a refused refresh);
    // sessions without a grant (local mode) never match. Returns how many.
    int evictGrants(const QStringList &grantIds, const QString &reason, EndCause cause = EndCause::Revoked);
    int evictAll(const QString &reason, EndCause cause = EndCause::Operator);

    // Runs one idle sweep now (the timer calls this every reap interval).
    int reapIdle();

    // Respawns a session's backend from the factory (token rotation).
    bool respawn(const QString &id);

    // Evicts everything; allStopped() follows once every child has exited.
    void shutdown();

Q_SIGNALS:
    void sessionCreated(fmb::Session *session);
    void sessionEnded(const QString &id, const QString &reason);
    // After sessionEnded, once every child of the session has exited; it no
    // longer counts as stopping. The session is deleted later.
    void sessionFinished(const QString &id);
    void allStopped();

private:
    int evictWhere(const std::function<bool(const Session &)> &matches, const QString &reason,
                   EndCause cause);
    void stopSession(Session *session, const QString &reason, EndCause cause);
    void onEnded(Session *session, const QString &reason);
    void onFinished(Session *session);
    [[nodiscard]] QString newId() const;

    RegistryLimits m_limits;
    QString m_nodeId;
    BackendFactory m_factory;
    QHash<QString, Session *> m_sessions;     // children of this registry
    QHash<QString, int> m_perOwner;           // by user
    QHash<QString, Session *> m_userChildren; // by user; also in m_sessions
    QHash<Session *, bool> m_stopping;        // ended, children still exiting
    QTimer *m_reaper = nullptr;
    bool m_shuttingDown = false;
    // The cause of the stop() under way; a session that ends on its own ends
    // outside any, as ChildExit.
    EndCause m_endingCause = EndCause::ChildExit;
};

} // namespace fmb
