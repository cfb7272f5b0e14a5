#pragma once

#include <chrono>
#include <functional>

#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include "AdminProtocol.h"
#include "AdminTarget.h"
#include "SshTunnel.h"

namespace fmb {

class AdminClient;

// One session of a fleet: which broker serves it (issue 14).
struct FleetSession {
    int member = -1; // index of the target in the fleet
    QString broker;  // that broker's node id (its target's name while unknown)
    SessionInfo session;

    friend bool operator==(const FleetSession &, const FleetSession &) = default;
};

// Where each asked id goes: resolved against the sessions of every broker at
// once, so a prefix that two brokers' sessions share is ambiguous, not sent
// to both. Pure.
struct FleetEvictPlan {
    QList<QStringList> perMember; // full ids, by member index
    QStringList notFound;
    QStringList ambiguous;
};
[[nodiscard]] FleetEvictPlan planFleetEvict(const QStringList &asked, const QList<FleetSession> &sessions,
                                            int members);

// Several brokers' admin sockets at once, for brokerctl and the console: one
// AdminClient per target (local sockets and ssh forwards alike), each
// connected and asked "info" for its node id. Lists merge into one table with
// a broker column; an evict goes to the broker that serves the session.
// Members that cannot be reached are reported, never fatal to the others.
class AdminFleet final : public QObject {
    Q_OBJECT
public:
    enum class MemberState { Connecting, Connected, Unreachable };
    Q_ENUM(MemberState)

    explicit AdminFleet(QObject *parent = nullptr);
    ~AdminFleet() override;

    void setSshOptions(const SshOptions &options) { m_sshOptions = options; }
    // How long a member may leave a request (its "info" too) unanswered
    // before it counts as Unreachable; pending lists then complete with the
    // other members' answers. For the members of the next connectTo().
    static constexpr std::chrono::milliseconds DefaultMemberTimeout{5000};
    void setMemberTimeout(std::chrono::milliseconds timeout) { m_memberTimeout = timeout; }
    // Replaces the members (closing the old ones) and connects to each;
    // settled() follows once every member is connected (and named) or
    // unreachable, never before this returns.
    void connectTo(const QList<AdminTarget> &targets);
    void disconnectAll();
    // Tries an unreachable member again (memberChanged follows either way).
    void reconnect(int member);

    [[nodiscard]] int size() const { return int(m_members.size()); }
    [[nodiscard]] const AdminTarget &target(int member) const;
    [[nodiscard]] AdminClient *client(int member) const;
    [[nodiscard]] MemberState state(int member) const;
    // The node id "info" gave, else the target's display name.
    [[nodiscard]] QString brokerName(int member) const;
    [[nodiscard]] QString nodeId(int member) const;
    [[nodiscard]] QString problem(int member) const; // Unreachable: why
    [[nodiscard]] bool isSettled() const;

    // Every reachable member's sessions, merged in member order (each
    // broker's own order kept); problems name the members that failed
    // ("NAME: why"). The handler runs once, after every answer.
    using SessionsHandler =
        std::function<void(const QList<FleetSession> &sessions, const QStringList &problems)>;
    void listSessions(SessionsHandler handler);

    // Evicts by full id or unique prefix across the fleet: lists, plans
    // (planFleetEvict) and sends each broker its own ids. The outcome merges
    // the brokers' answers and the plan's unknown and ambiguous ids.
    using EvictHandler = std::function<void(const EvictOutcome &outcome, const QStringList &problems)>;
    void evictSessions(const QStringList &asked, EvictHandler handler);
    // Every session of a user, or every session, on every reachable member;
    // the problems name the unreachable ones.
    void evictEverywhere(const EvictSelector &selector, EvictHandler handler);
    // One session on the member that serves it: no listing first.
    void evictOn(int member, const QString &sessionId, EvictHandler handler);

    // "brokers" of every reachable member, merged by node id (the freshest
    // heartbeat wins); problems as above.
    using BrokersHandler =
        std::function<void(const QList<BrokerStatus> &brokers, const QStringList &problems)>;
    void listBrokers(BrokersHandler handler);

Q_SIGNALS:
    void memberChanged(int member);
    void settled();

private:
    struct Member {
        AdminTarget target;
        AdminClient *client = nullptr; // child
        MemberState state = MemberState::Connecting;
        QString nodeId;
        QString problem;
    };
    void onConnected(int member);
    void setUnreachable(int member, const QString &why);
    void checkSettled();
    [[nodiscard]] QList<int> reachable() const;
    // "NAME: why" for every Unreachable member.
    [[nodiscard]] QStringList unreachableProblems() const;
    void sendEvicts(const QList<std::pair<int, EvictSelector>> &requests, EvictOutcome planned,
                    QStringList problems, EvictHandler handler);

    QList<Member> m_members;
    SshOptions m_sshOptions;
    bool m_settledSent = false;
    std::chrono::milliseconds m_memberTimeout = DefaultMemberTimeout;
};

} // namespace fmb
