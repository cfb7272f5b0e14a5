#include "AdminFleet.h"

#include <algorithm>
#include <memory>
#include <utility>

#include <QHash>
#include <QMap>

#include "AdminClient.h"
#include "Logging.h"

namespace fmb {
namespace {

// Collects the answers of several members and calls `done` after the last.
template <typename Value>
struct FanIn {
    int outstanding = 0;
    QList<Value> values;
    QStringList problems;
};

QString memberProblem(const QString &broker, const AdminReply &reply)
{
    return QStringLiteral("%1: %2").arg(broker, reply.error.message);
}

} // namespace

FleetEvictPlan planFleetEvict(const QStringList &asked, const QList<FleetSession> &sessions, int members)
{
    FleetEvictPlan plan;
    plan.perMember.resize(members);
    QStringList liveIds;
    QHash<QString, int> memberOf;
    for (const FleetSession &row : sessions) {
        liveIds.append(row.session.id);
        memberOf.insert(row.session.id, row.member);
    }
    const EvictOutcome resolved = resolveEvictTargets(asked, liveIds);
    plan.notFound = resolved.notFound;
    plan.ambiguous = resolved.ambiguous;
    for (const QString &id : resolved.evicted) {
        const int member = memberOf.value(id, -1);
        if (member >= 0 && member < members)
            plan.perMember[member].append(id);
    }
    return plan;
}

AdminFleet::AdminFleet(QObject *parent)
    : QObject(parent)
    , m_sshOptions(sshOptionsFromEnvironment())
{}

AdminFleet::~AdminFleet()
{
    disconnectAll();
}

void AdminFleet::connectTo(const QList<AdminTarget> &targets)
{
    disconnectAll();
    m_settledSent = false;
    for (const AdminTarget &target : targets) {
        Member member;
        member.target = target;
        member.client = new AdminClient(this);
        member.client->setSshOptions(m_sshOptions);
        member.client->setReplyTimeout(m_memberTimeout);
        m_members.append(member);
    }
    for (int i = 0; i < m_members.size(); ++i) {
        AdminClient *client = m_members.at(i).client;
        connect(client, &AdminClient::connected, this, [this, i] { onConnected(i); });
        connect(client, &AdminClient::connectionFailed, this,
                [this, i](const QString &message) { setUnreachable(i, message); });
        connect(client, &AdminClient::disconnected, this,
                [this, i](const QString &reason) { setUnreachable(i, reason); });
        client->connectTo(m_members.at(i).target);
    }
    if (m_members.isEmpty())
        QMetaObject::invokeMethod(this, &AdminFleet::checkSettled, Qt::QueuedConnection);
}

void AdminFleet::disconnectAll()
{
    const QList<Member> members = std::exchange(m_members, {});
    for (const Member &member : members) {
        member.client->disconnect(this);
        member.client->disconnectFromDaemon();
        member.client->deleteLater();
    }
}

void AdminFleet::reconnect(int member)
{
    if (member < 0 || member >= m_members.size() || m_members.at(member).state != MemberState::Unreachable)
        return;
    m_members[member].state = MemberState::Connecting;
    m_members.at(member).client->connectTo(m_members.at(member).target);
}

const AdminTarget &AdminFleet::target(int member) const
{
    return m_members.at(member).target;
}

AdminClient *AdminFleet::client(int member) const
{
    return m_members.at(member).client;
}

AdminFleet::MemberState AdminFleet::state(int member) const
{
    return m_members.at(member).state;
}

QString AdminFleet::brokerName(int member) const
{
    const Member &m = m_members.at(member);
    return m.nodeId.isEmpty() ? m.target.displayName() : m.nodeId;
}

QString AdminFleet::nodeId(int member) const
{
    return m_members.at(member).nodeId;
}

QString AdminFleet::problem(int member) const
{
    return m_members.at(member).problem;
}

bool AdminFleet::isSettled() const
{
    return std::none_of(m_members.cbegin(), m_members.cend(),
                        [](const Member &m) { return m.state == MemberState::Connecting; });
}

void AdminFleet::onConnected(int member)
{
    // Named before it counts as connected: every row then carries its node id.
    m_members[member].client->info([this, member](const AdminReply &reply, const DaemonInfo &info) {
        if (member >= m_members.size())
            return;
        if (!reply.ok)
            return setUnreachable(member, reply.error.message);
        Member &m = m_members[member];
        m.nodeId = info.nodeId;
        m.state = MemberState::Connected;
        m.problem.clear();
        qCDebug(lcAdmin).noquote() << "fleet member" << m.target.displayName() << "is broker" << m.nodeId;
        Q_EMIT memberChanged(member);
        checkSettled();
    });
}

void AdminFleet::setUnreachable(int member, const QString &why)
{
    if (member >= m_members.size())
        return;
    Member &m = m_members[member];
    m.state = MemberState::Unreachable;
    m.problem = why;
    qCDebug(lcAdmin).noquote() << "fleet member" << m.target.displayName() << "unreachable:" << why;
    Q_EMIT memberChanged(member);
    checkSettled();
}

void AdminFleet::checkSettled()
{
    if (m_settledSent || !isSettled())
        return;
    m_settledSent = true;
    Q_EMIT settled();
}

QStringList AdminFleet::unreachableProblems() const
{
    QStringList problems;
    for (int i = 0; i < m_members.size(); ++i) {
        if (m_members.at(i).state == MemberState::Unreachable)
            problems.append(QStringLiteral("%1: %2").arg(brokerName(i), m_members.at(i).problem));
    }
    return problems;
}

QList<int> AdminFleet::reachable() const
{
    QList<int> members;
    for (int i = 0; i < m_members.size(); ++i) {
        if (m_members.at(i).state == MemberState::Connected)
            members.append(i);
    }
    return members;
}

void AdminFleet::listSessions(SessionsHandler handler)
{
    const QList<int> members = reachable();
    auto fan = std::make_shared<FanIn<QList<FleetSession>>>();
    fan->outstanding = int(members.size());
    fan->values.resize(m_members.size());
    fan->problems = unreachableProblems();
    const auto finish = [fan, handler] {
        QList<FleetSession> merged;
        for (const QList<FleetSession> &rows : std::as_const(fan->values))
            merged += rows;
        handler(merged, fan->problems);
    };
    if (members.isEmpty())
        return finish();
    for (const int member : members) {
        const QString broker = brokerName(member);
        m_members.at(member).client->listSessions(
            [fan, finish, member, broker](const AdminReply &reply, const QList<SessionInfo> &sessions) {
                if (reply.ok) {
                    for (const SessionInfo &session : sessions)
                        fan->values[member].append(FleetSession{member, broker, session});
                } else {
                    fan->problems.append(memberProblem(broker, reply));
                }
                if (--fan->outstanding == 0)
                    finish();
            });
    }
}

void AdminFleet::evictSessions(const QStringList &asked, EvictHandler handler)
{
    listSessions([this, asked, handler](const QList<FleetSession> &sessions, const QStringList &problems) {
        const FleetEvictPlan plan = planFleetEvict(asked, sessions, size());
        EvictOutcome planned;
        planned.notFound = plan.notFound;
        planned.ambiguous = plan.ambiguous;
        QList<std::pair<int, EvictSelector>> requests;
        for (int member = 0; member < plan.perMember.size(); ++member) {
            if (!plan.perMember.at(member).isEmpty())
                requests.append({member, EvictSelector::ofSessions(plan.perMember.at(member))});
        }
        sendEvicts(requests, planned, problems, handler);
    });
}

void AdminFleet::evictEverywhere(const EvictSelector &selector, EvictHandler handler)
{
    QList<std::pair<int, EvictSelector>> requests;
    for (const int member : reachable())
        requests.append({member, selector});
    EvictOutcome planned;
    // A member that is down is named: its sessions, if any, were not evicted.
    sendEvicts(requests, planned, unreachableProblems(),
               [selector, handler](EvictOutcome outcome, const QStringList &problems) {
                   // A user is "not found" only when no broker had a session of theirs.
                   if (!selector.user.isEmpty()) {
                       outcome.notFound.clear();
                       if (outcome.evicted.isEmpty())
                           outcome.notFound.append(selector.user);
                   }
                   handler(outcome, problems);
               });
}

void AdminFleet::evictOn(int member, const QString &sessionId, EvictHandler handler)
{
    if (member < 0 || member >= m_members.size() || m_members.at(member).state != MemberState::Connected) {
        EvictOutcome outcome;
        outcome.notFound.append(sessionId);
        const QString why = member >= 0 && member < m_members.size()
                                ? QStringLiteral("%1: not connected").arg(brokerName(member))
                                : QStringLiteral("no such broker");
        handler(outcome, {why});
        return;
    }
    sendEvicts({{member, EvictSelector::ofSessions({sessionId})}}, EvictOutcome(), {}, std::move(handler));
}

void AdminFleet::sendEvicts(const QList<std::pair<int, EvictSelector>> &requests, EvictOutcome planned,
                            QStringList problems, EvictHandler handler)
{
    if (requests.isEmpty())
        return handler(planned, problems);
    struct State {
        int outstanding = 0;
        EvictOutcome outcome;
        QStringList problems;
    };
    auto state = std::make_shared<State>();
    state->outstanding = int(requests.size());
    state->outcome = std::move(planned);
    state->problems = std::move(problems);
    for (const auto &[member, selector] : requests) {
        const QString broker = brokerName(member);
        const QStringList ids = selector.sessions;
        m_members.at(member).client->evict(
            selector, [state, handler, broker, ids](const AdminReply &reply, const EvictOutcome &outcome) {
                if (reply.ok) {
                    state->outcome.evicted += outcome.evicted;
                    state->outcome.notFound += outcome.notFound;
                    state->outcome.ambiguous += outcome.ambiguous;
                } else {
                    state->problems.append(memberProblem(broker, reply));
                    state->outcome.notFound += ids;
                }
                if (--state->outstanding == 0) {
                    state->outcome.evicted.sort();
                    handler(state->outcome, state->problems);
                }
            });
    }
}

void AdminFleet::listBrokers(BrokersHandler handler)
{
    const QList<int> members = reachable();
    auto fan = std::make_shared<FanIn<BrokerStatus>>();
    fan->outstanding = int(members.size());
    fan->problems = unreachableProblems();
    const auto finish = [fan, handler] {
        // By node id; where two brokers describe a third, the fresher beat wins.
        QMap<QString, BrokerStatus> merged;
        for (const BrokerStatus &broker : std::as_const(fan->values)) {
            auto it = merged.find(broker.nodeId);
            if (it == merged.end()) {
                merged.insert(broker.nodeId, broker);
            } else {
                const bool self = it->self || broker.self;
                if (broker.heartbeatAgeMs < it->heartbeatAgeMs)
                    *it = broker;
                it->self = self;
            }
        }
        handler(merged.values(), fan->problems);
    };
    if (members.isEmpty())
        return finish();
    for (const int member : members) {
        const QString broker = brokerName(member);
        const QString node = nodeId(member);
        m_members.at(member).client->brokers(
            [fan, finish, broker, node](const AdminReply &reply, const BrokerList &list) {
                if (reply.ok) {
                    for (BrokerStatus status : list.brokers) {
                        // "self" means the one that answered; here: any target we reach.
                        status.self = status.nodeId == node;
                        fan->values.append(status);
                    }
                } else {
                    fan->problems.append(memberProblem(broker, reply));
                }
                if (--fan->outstanding == 0)
                    finish();
            });
    }
}

} // namespace fmb
