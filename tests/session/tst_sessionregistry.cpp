#include <algorithm>
#include <cerrno>
#include <chrono>
#include <memory>

#include <signal.h>
#include <sys/types.h>

#include <QPointer>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTest>

#include "TestSink.h"
#include "base/Metrics.h"
#include "child/ChildProcess.h"
#include "session/Session.h"
#include "session/SessionRegistry.h"

using namespace std::chrono_literals;
using namespace fmb;
using namespace fmb::test;

namespace {

SessionOwner owner(const QString &user, const QString &grant = QStringLiteral("grant-1"))
{
    return SessionOwner{user, grant};
}

// "alice" or "alice/grant-2": a user and one of their grants (one MCP client each).
SessionOwner parseOwner(const QString &text)
{
    const QStringList parts = text.split(QLatin1Char('/'));
    return parts.size() > 1 ? owner(parts.at(0), parts.at(1)) : owner(parts.at(0));
}

bool processGone(qint64 pid)
{
    return ::kill(pid_t(pid), 0) == -1 && errno == ESRCH;
}

} // namespace

class tst_SessionRegistry : public QObject {
    Q_OBJECT

public:
    // What a session does while the reaper looks at it.
    enum class Activity {
        Nothing,
        OpenGetStream,
        ClosedGetStream,
        RecentPing,
        PendingClientWaiting,
        PendingClientGone,
    };
    Q_ENUM(Activity)

private Q_SLOTS:
    void init();
    void cleanup();

    void idsAreHexAndUnique();
    void idsCarryTheNodeId();
    void caps_data();
    void caps();
    void evict();
    void evictOwner();
    void evictGrants();
    void reapIdle_data();
    void reapIdle();
    void reaperTimerFires();
    void childExitEndsSession();
    void oldChildExitAfterSwapKeepsSession();
    void shutdown_data();
    void shutdown();
    void fileCeilingCountsStoppingSessions();
    void endCausesAreCounted_data();
    void endCausesAreCounted();
    void userChildIsOnePerUser();
    void userChildRoutesServerRequestsToTheirCall();
    void userChildInitializedFollowsTheAnswer();
    void userChildExitEndsItAndAnotherStarts();
    void userChildIsReapedWhenIdle();

private:
    SessionRegistry *makeRegistry(RegistryLimits limits = {}, const QStringList &serverArguments = {});
    Session *create(const SessionOwner &who);
    TestSink *newSink() { return new TestSink(m_scope.get()); }

    std::unique_ptr<QObject> m_scope; // owns this test's sinks
    std::unique_ptr<SessionRegistry> m_registry;
    QList<QPointer<ChildProcess>> m_children; // every backend the factory made, in order
    bool m_shutDown = false;
};

void tst_SessionRegistry::init()
{
    m_scope = std::make_unique<QObject>();
    m_children.clear();
    m_shutDown = false;
}

void tst_SessionRegistry::cleanup()
{
    if (m_registry && !m_shutDown) {
        QSignalSpy allStopped(m_registry.get(), &SessionRegistry::allStopped);
        m_registry->shutdown();
        QTRY_VERIFY_WITH_TIMEOUT(allStopped.count() > 0, 10000);
    }
    m_registry.reset();
    m_scope.reset();
}

SessionRegistry *tst_SessionRegistry::makeRegistry(RegistryLimits limits, const QStringList &serverArguments)
{
    m_registry = std::make_unique<SessionRegistry>(
        limits, [this, serverArguments](const SessionOwner &, const QString &) -> std::unique_ptr<Backend> {
            std::unique_ptr<ChildProcess> child = testServer(serverArguments);
            m_children.append(child.get());
            return child;
        });
    return m_registry.get();
}

Session *tst_SessionRegistry::create(const SessionOwner &who)
{
    Result<Session *> created = m_registry->create(who);
    return created.ok() ? created.value() : nullptr;
}

void tst_SessionRegistry::idsAreHexAndUnique()
{
    SessionRegistry *registry = makeRegistry();
    QSignalSpy created(registry, &SessionRegistry::sessionCreated);
    const QRegularExpression hex48(QStringLiteral("^[0-9a-f]{48}$")); // 192 bits

    QSet<QString> ids;
    for (int i = 0; i < 6; ++i) {
        Session *session = create(owner(QStringLiteral("alice")));
        QVERIFY(session);
        QVERIFY2(hex48.match(session->id()).hasMatch(), qPrintable(session->id()));
        ids.insert(session->id());
        QCOMPARE(registry->find(session->id()), session);
    }
    QCOMPARE(ids.size(), 6);
    QCOMPARE(created.count(), 6);
    QCOMPARE(registry->count(), 6);
    QCOMPARE(registry->sessions().size(), 6);
    QCOMPARE(registry->find(QString(48, QLatin1Char('0'))), nullptr);
}

// Issue 14: an nginx map routes on the prefix; the random part stays 192 bits.
void tst_SessionRegistry::idsCarryTheNodeId()
{
    SessionRegistry *registry = makeRegistry();
    registry->setNodeId(QStringLiteral("web-1.b_2"));
    const QRegularExpression prefixed(QStringLiteral("^web-1\\.b_2-[0-9a-f]{48}$"));

    Session *first = create(owner(QStringLiteral("alice")));
    Session *second = create(owner(QStringLiteral("alice")));
    QVERIFY(first && second);
    QVERIFY2(prefixed.match(first->id()).hasMatch(), qPrintable(first->id()));
    QVERIFY2(prefixed.match(second->id()).hasMatch(), qPrintable(second->id()));
    QVERIFY(first->id() != second->id());
    QCOMPARE(registry->find(first->id()), first);
    // Logs name a session by its random part, not by the node id all share.
    QCOMPARE(shortSessionId(first->id()), first->id().mid(first->id().size() - 48, 8));
    QCOMPARE(shortSessionId(QStringLiteral("0123456789abcdef")), QStringLiteral("01234567"));
}

void tst_SessionRegistry::caps_data()
{
    QTest::addColumn<int>("maxSessions");
    QTest::addColumn<int>("perOwner");
    QTest::addColumn<QStringList>("users");    // "user" or "user/grant"
    QTest::addColumn<QStringList>("outcomes"); // "ok" or the limit's name (the error subject)

    QTest::newRow("max_sessions across users")
        << 2 << 0 << QStringList{QStringLiteral("alice"), QStringLiteral("bob"), QStringLiteral("carol")}
        << QStringList{QStringLiteral("ok"), QStringLiteral("ok"), QStringLiteral("max_sessions")};
    QTest::newRow("per-user cap, others unaffected")
        << 10 << 1 << QStringList{QStringLiteral("alice"), QStringLiteral("alice"), QStringLiteral("bob")}
        << QStringList{QStringLiteral("ok"), QStringLiteral("max_sessions_per_user"), QStringLiteral("ok")};
    QTest::newRow("per-user cap of 2")
        << 10 << 2
        << QStringList{QStringLiteral("alice"), QStringLiteral("alice"), QStringLiteral("alice"),
                       QStringLiteral("bob")}
        << QStringList{QStringLiteral("ok"), QStringLiteral("ok"), QStringLiteral("max_sessions_per_user"),
                       QStringLiteral("ok")};
    QTest::newRow("per-user cap spans the user's grants")
        << 10 << 1
        << QStringList{QStringLiteral("alice/grant-1"), QStringLiteral("alice/grant-2"),
                       QStringLiteral("bob")}
        << QStringList{QStringLiteral("ok"), QStringLiteral("max_sessions_per_user"), QStringLiteral("ok")};
    QTest::newRow("global cap hit before the per-user cap")
        << 1 << 5 << QStringList{QStringLiteral("alice"), QStringLiteral("alice")}
        << QStringList{QStringLiteral("ok"), QStringLiteral("max_sessions")};
}

void tst_SessionRegistry::caps()
{
    QFETCH(int, maxSessions);
    QFETCH(int, perOwner);
    QFETCH(QStringList, users);
    QFETCH(QStringList, outcomes);

    RegistryLimits limits;
    limits.maxSessions = maxSessions;
    limits.maxSessionsPerOwner = perOwner;
    SessionRegistry *registry = makeRegistry(limits);

    QString refusedUser;
    QList<Session *> accepted;
    for (int i = 0; i < users.size(); ++i) {
        const Result<Session *> created = registry->create(parseOwner(users.at(i)));
        const QString row = QStringLiteral("create #%1 (%2)").arg(i).arg(users.at(i));
        if (outcomes.at(i) == QLatin1String("ok")) {
            QVERIFY2(created.ok(), qPrintable(row));
            accepted.append(created.value());
        } else {
            QVERIFY2(!created.ok(), qPrintable(row));
            QCOMPARE(created.error().code, ErrorCode::LimitReached);
            QCOMPARE(created.error().subject, outcomes.at(i));
            QVERIFY(!created.error().message.isEmpty());
            refusedUser = parseOwner(users.at(i)).user;
        }
    }
    QCOMPARE(registry->count(), int(outcomes.count(QStringLiteral("ok"))));
    QCOMPARE(m_children.size(), registry->count()); // a refused session starts no child

    // Evicting a session that counts against the refused create frees its slot.
    QVERIFY(!refusedUser.isEmpty());
    Session *victim = accepted.first();
    for (Session *session : std::as_const(accepted)) {
        if (session->owner().user == refusedUser) {
            victim = session;
            break;
        }
    }
    QVERIFY(registry->evict(victim->id(), QStringLiteral("make room")));
    QTRY_COMPARE(registry->stoppingCount(), 0);
    const Result<Session *> again = registry->create(owner(refusedUser));
    QVERIFY(again.ok());
}

void tst_SessionRegistry::evict()
{
    SessionRegistry *registry = makeRegistry();
    Session *session = create(owner(QStringLiteral("alice")));
    QVERIFY(session);
    Session *other = create(owner(QStringLiteral("alice")));
    QVERIFY(other);
    const QString id = session->id();
    QTRY_VERIFY(session->backendPid() > 0);
    const qint64 pid = session->backendPid();
    QPointer<Session> watched = session;
    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);

    QVERIFY(registry->evict(id, QStringLiteral("admin said so")));
    QCOMPARE(ended.count(), 1);
    QCOMPARE(ended.first().at(0).toString(), id);
    QCOMPARE(ended.first().at(1).toString(), QStringLiteral("admin said so"));
    QCOMPARE(registry->find(id), nullptr);
    QCOMPARE(registry->count(), 1);
    QCOMPARE(registry->countFor(QStringLiteral("alice")), 1);

    // Its child stops in the background; then the session object goes too.
    QTRY_COMPARE(registry->stoppingCount(), 0);
    QVERIFY(processGone(pid));
    QTRY_VERIFY(!watched);

    QVERIFY(!registry->evict(id, QStringLiteral("twice")));
    QVERIFY(!registry->evict(QStringLiteral("no-such-session"), QStringLiteral("unknown")));
    QCOMPARE(ended.count(), 1);
    QCOMPARE(registry->find(other->id()), other);
}

void tst_SessionRegistry::evictOwner()
{
    SessionRegistry *registry = makeRegistry();
    QVERIFY(create(owner(QStringLiteral("alice"), QStringLiteral("grant-1"))));
    QVERIFY(create(owner(QStringLiteral("alice"), QStringLiteral("grant-2"))));
    Session *bob = create(owner(QStringLiteral("bob")));
    QVERIFY(bob);
    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);

    QCOMPARE(registry->evictOwner(QStringLiteral("alice"), QStringLiteral("logged out")), 2);
    QCOMPARE(ended.count(), 2);
    QCOMPARE(registry->count(), 1);
    QCOMPARE(registry->sessions(), QList<Session *>{bob});
    QCOMPARE(registry->countFor(QStringLiteral("alice")), 0);
    QCOMPARE(registry->countFor(QStringLiteral("bob")), 1);
    QCOMPARE(registry->evictOwner(QStringLiteral("nobody"), QStringLiteral("none")), 0);
    QTRY_COMPARE(registry->stoppingCount(), 0);
}

// What a revoked grant or a refused refresh ends: the sessions of those
// grants, of whichever user; never a session without a grant (local mode).
void tst_SessionRegistry::evictGrants()
{
    SessionRegistry *registry = makeRegistry();
    QVERIFY(create(owner(QStringLiteral("alice"), QStringLiteral("grant-1"))));
    QVERIFY(create(owner(QStringLiteral("alice"), QStringLiteral("grant-1"))));
    Session *aliceOther = create(owner(QStringLiteral("alice"), QStringLiteral("grant-2")));
    QVERIFY(aliceOther);
    QVERIFY(create(owner(QStringLiteral("bob"), QStringLiteral("grant-3"))));
    Session *local = create(owner(QStringLiteral("local"), QString()));
    QVERIFY(local);
    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);

    QCOMPARE(registry->evictGrants({QStringLiteral("grant-1"), QStringLiteral("grant-3"), QString()},
                                   QStringLiteral("grant revoked")),
             3);
    QCOMPARE(ended.count(), 3);
    for (const QList<QVariant> &signal : std::as_const(ended))
        QCOMPARE(signal.at(1).toString(), QStringLiteral("grant revoked"));
    QSet<Session *> left;
    for (Session *session : registry->sessions())
        left.insert(session);
    QCOMPARE(left, (QSet<Session *>{aliceOther, local}));
    QCOMPARE(registry->evictGrants({QStringLiteral("grant-9")}, QStringLiteral("none")), 0);
    QCOMPARE(registry->evictGrants({}, QStringLiteral("none")), 0);
    QCOMPARE(registry->count(), 2);
    QTRY_COMPARE(registry->stoppingCount(), 0);
}

void tst_SessionRegistry::reapIdle_data()
{
    QTest::addColumn<Activity>("activity");
    QTest::addColumn<bool>("reaped");

    QTest::newRow("nothing since initialize: reaped") << Activity::Nothing << true;
    QTest::newRow("open GET stream: kept") << Activity::OpenGetStream << false;
    QTest::newRow("GET stream whose client left: reaped") << Activity::ClosedGetStream << true;
    QTest::newRow("ping just now: kept") << Activity::RecentPing << false;
    QTest::newRow("pending request, client waiting: kept") << Activity::PendingClientWaiting << false;
    QTest::newRow("pending request, client gone: reaped") << Activity::PendingClientGone << true;
}

void tst_SessionRegistry::reapIdle()
{
    QFETCH(Activity, activity);
    QFETCH(bool, reaped);

    constexpr auto IdleTimeout = 200ms;
    RegistryLimits limits;
    limits.idleTimeout = IdleTimeout;
    limits.reapInterval = 1h; // this test sweeps by hand
    SessionRegistry *registry = makeRegistry(limits);

    Session *target = create(owner(QStringLiteral("alice")));
    Session *baseline = create(owner(QStringLiteral("bob"))); // idle throughout: always reaped
    QVERIFY(target && baseline);
    const QString targetId = target->id();
    const QString baselineId = baseline->id();
    QVERIFY(initializeSession(*target, QStringLiteral("2025-11-25"), m_scope.get()));
    QVERIFY(initializeSession(*baseline, QStringLiteral("2025-11-25"), m_scope.get()));

    TestSink *sink = newSink();
    switch (activity) {
    case Activity::Nothing:
    case Activity::RecentPing:
        break;
    case Activity::OpenGetStream:
    case Activity::ClosedGetStream:
        QVERIFY(target->openStream(sink, {}).ok());
        break;
    case Activity::PendingClientWaiting:
    case Activity::PendingClientGone:
        QVERIFY(
            post(*target, toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}), sink).ok());
        break;
    }
    if (activity == Activity::ClosedGetStream || activity == Activity::PendingClientGone)
        sink->disconnectClient();

    // Wait until both would be over the limit unless they count as active.
    QTRY_VERIFY_WITH_TIMEOUT(baseline->idleMs() > IdleTimeout.count() &&
                                 (target->isActive() || target->idleMs() > IdleTimeout.count()),
                             5000);
    if (activity == Activity::RecentPing) {
        // The client pings and leaves at once: recent activity, but nothing that stays active.
        TestSink *ping = newSink();
        QVERIFY(post(*target, request(2, QStringLiteral("ping")), ping).ok());
        ping->disconnectClient();
        QVERIFY(!target->isActive());
    }
    QCOMPARE(target->isActive(),
             activity == Activity::OpenGetStream || activity == Activity::PendingClientWaiting);

    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);
    QCOMPARE(registry->reapIdle(), reaped ? 2 : 1);
    QCOMPARE(registry->find(baselineId), nullptr);
    QCOMPARE(registry->find(targetId) == nullptr, reaped);
    QCOMPARE(ended.count(), reaped ? 2 : 1);
    for (const QList<QVariant> &args : std::as_const(ended))
        QCOMPARE(args.at(1).toString(), QStringLiteral("idle timeout"));
}

void tst_SessionRegistry::reaperTimerFires()
{
    RegistryLimits limits;
    limits.idleTimeout = 100ms;
    limits.reapInterval = 50ms;
    SessionRegistry *registry = makeRegistry(limits);
    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);

    // Created first, so it is always the older of the two: only its stream keeps it.
    Session *streaming = create(owner(QStringLiteral("alice")));
    QVERIFY(streaming);
    QVERIFY(streaming->openStream(newSink(), {}).ok());
    Session *idle = create(owner(QStringLiteral("bob")));
    QVERIFY(idle);
    const QString idleId = idle->id();

    // Due after idleTimeout plus one interval; the bound leaves room for a slow machine.
    QTRY_COMPARE_WITH_TIMEOUT(ended.count(), 1, 5000);
    QCOMPARE(ended.first().at(0).toString(), idleId);
    QCOMPARE(ended.first().at(1).toString(), QStringLiteral("idle timeout"));
    QCOMPARE(registry->find(idleId), nullptr);
    QCOMPARE(registry->find(streaming->id()), streaming);
}

void tst_SessionRegistry::childExitEndsSession()
{
    SessionRegistry *registry = makeRegistry();
    Session *session = create(owner(QStringLiteral("alice")));
    QVERIFY(session);
    QVERIFY(initializeSession(*session, QStringLiteral("2025-11-25"), m_scope.get()));
    const QString id = session->id();
    QPointer<Session> watched = session;
    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);

    TestSink *sink = newSink();
    QVERIFY(post(*session, toolCall(1, QStringLiteral("crash"), {{QStringLiteral("code"), 3}}), sink).ok());
    QTRY_COMPARE(ended.count(), 1);
    QCOMPARE(ended.first().at(0).toString(), id);
    QVERIFY2(ended.first().at(1).toString().contains(QLatin1String("exited with status 3")),
             qPrintable(ended.first().at(1).toString()));
    QCOMPARE(registry->find(id), nullptr);
    QCOMPARE(registry->count(), 0);
    QCOMPARE(errorCode(parseObject(sink->json)), JsonRpcError::BackendExited);
    QTRY_COMPARE(registry->stoppingCount(), 0);
    QTRY_VERIFY(!watched);
}

void tst_SessionRegistry::oldChildExitAfterSwapKeepsSession()
{
    SessionRegistry *registry = makeRegistry();
    Session *session = create(owner(QStringLiteral("alice")));
    QVERIFY(session);
    QVERIFY(initializeSession(*session, QStringLiteral("2025-11-25"), m_scope.get()));
    const QString id = session->id();
    QCOMPARE(m_children.size(), 1);
    QPointer<ChildProcess> oldChild = m_children.first();
    const qint64 oldPid = oldChild->processId();
    QSignalSpy oldExited(oldChild.data(), &Backend::exited);
    QSignalSpy swapped(session, &Session::backendSwapped);
    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);

    QVERIFY(!registry->respawn(QStringLiteral("no-such-session")));
    QVERIFY(registry->respawn(id));
    QTRY_COMPARE(swapped.count(), 1);
    QCOMPARE(m_children.size(), 2);
    QCOMPARE(session->backendPid(), m_children.at(1)->processId());

    // Nothing was in flight: the old child is stopped at once, and its exit is expected.
    QTRY_COMPARE(oldExited.count(), 1);
    QVERIFY(processGone(oldPid));
    QCOMPARE(ended.count(), 0);
    QCOMPARE(registry->find(id), session);
    QCOMPARE(registry->count(), 1);

    TestSink *echo = newSink();
    QVERIFY(post(*session,
                 toolCall(1, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("alive")}}),
                 echo)
                .ok());
    QTRY_VERIFY(echo->complete);
    QCOMPARE(toolText(parseObject(echo->json)), QStringLiteral("alive"));

    // The current child's exit still ends the session.
    QVERIFY(post(*session, toolCall(2, QStringLiteral("crash")), newSink()).ok());
    QTRY_COMPARE(ended.count(), 1);
    QCOMPARE(registry->find(id), nullptr);
}

void tst_SessionRegistry::shutdown_data()
{
    QTest::addColumn<int>("sessions");
    QTest::newRow("no sessions") << 0;
    QTest::newRow("three: idle, streaming, busy") << 3;
}

void tst_SessionRegistry::shutdown()
{
    QFETCH(int, sessions);

    SessionRegistry *registry = makeRegistry();
    QList<qint64> pids;
    QList<Session *> created;
    for (int i = 0; i < sessions; ++i) {
        Session *session = create(owner(QStringLiteral("user%1").arg(i)));
        QVERIFY(session);
        QVERIFY(initializeSession(*session, QStringLiteral("2025-11-25"), m_scope.get()));
        pids.append(session->backendPid());
        created.append(session);
    }
    TestSink *stream = newSink();
    TestSink *busy = newSink();
    if (sessions == 3) {
        QVERIFY(created.at(1)->openStream(stream, {}).ok());
        QVERIFY(
            post(*created.at(2), toolCall(1, QStringLiteral("slow"), {{QStringLiteral("ms"), 60000}}), busy)
                .ok());
    }
    QSignalSpy allStopped(registry, &SessionRegistry::allStopped);
    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);

    registry->shutdown();
    m_shutDown = true;
    QCOMPARE(allStopped.count(), 0); // never from inside shutdown()
    QCOMPARE(ended.count(), sessions);
    QCOMPARE(registry->count(), 0);
    QTRY_COMPARE(allStopped.count(), 1);
    QCOMPARE(registry->stoppingCount(), 0);
    for (qint64 pid : std::as_const(pids))
        QVERIFY2(processGone(pid), qPrintable(QString::number(pid)));
    QTRY_VERIFY(std::none_of(m_children.cbegin(), m_children.cend(),
                             [](const QPointer<ChildProcess> &child) { return !child.isNull(); }));
    if (sessions == 3) {
        QCOMPARE(stream->endCount, 1);
        QCOMPARE(busy->jsonCount, 1);
        QCOMPARE(errorCode(parseObject(busy->json)), JsonRpcError::BackendExited);
    }

    const Result<Session *> late = registry->create(owner(QStringLiteral("late")));
    QVERIFY(!late.ok());
    QCOMPARE(late.error().code, ErrorCode::Unavailable);
    QCOMPARE(m_children.size(), sessions); // no child was started for it
    QCOMPARE(allStopped.count(), 1);
}

// The open-file ceiling counts sessions whose children still hold their
// descriptors while they stop.
void tst_SessionRegistry::fileCeilingCountsStoppingSessions()
{
    SessionRegistry *registry = makeRegistry();
    registry->setFileCeiling(2);
    Session *first = create(owner(QStringLiteral("alice")));
    QVERIFY(first);
    QVERIFY(create(owner(QStringLiteral("bob"))));
    const Result<Session *> refused = registry->create(owner(QStringLiteral("carol")));
    QVERIFY(!refused.ok());
    QCOMPARE(refused.error().code, ErrorCode::LimitReached);
    QCOMPARE(refused.error().subject, QStringLiteral("open_files"));
    QCOMPARE(m_children.size(), 2); // a refused session starts no child

    QTRY_VERIFY(first->backendPid() > 0);
    QVERIFY(registry->evict(first->id(), QStringLiteral("make room")));
    QCOMPARE(registry->count(), 1);
    QCOMPARE(registry->stoppingCount(), 1); // its child has not exited yet
    QCOMPARE(registry->create(owner(QStringLiteral("carol"))).error().subject, QStringLiteral("open_files"));
    QTRY_COMPARE(registry->stoppingCount(), 0);
    QVERIFY(create(owner(QStringLiteral("carol"))));
}

QTEST_GUILESS_MAIN(tst_SessionRegistry)
#include "tst_sessionregistry.moc"

void tst_SessionRegistry::endCausesAreCounted_data()
{
    QTest::addColumn<int>("how");
    QTest::addColumn<int>("counter");

    QTest::newRow("evict: operator") << 0 << int(metrics::Counter::SessionsEndedOperator);
    QTest::newRow("evict by the client") << 1 << int(metrics::Counter::SessionsEndedClient);
    QTest::newRow("evictOwner: operator") << 2 << int(metrics::Counter::SessionsEndedOperator);
    QTest::newRow("evictGrants: revoked") << 3 << int(metrics::Counter::SessionsEndedRevoked);
    QTest::newRow("evictGrants after a refused refresh")
        << 4 << int(metrics::Counter::SessionsEndedRefreshFailed);
    QTest::newRow("reaped when idle") << 5 << int(metrics::Counter::SessionsEndedIdle);
    QTest::newRow("shutdown") << 6 << int(metrics::Counter::SessionsEndedShutdown);
    QTest::newRow("the child exited") << 7 << int(metrics::Counter::SessionsEndedChildExit);
}

void tst_SessionRegistry::endCausesAreCounted()
{
    QFETCH(int, how);
    QFETCH(int, counter);
    RegistryLimits limits;
    limits.idleTimeout = std::chrono::milliseconds(0);
    limits.reapInterval = std::chrono::hours(1); // this test sweeps by hand
    SessionRegistry *registry = makeRegistry(limits);
    SessionOwner who = owner(QStringLiteral("alice"));
    who.grantId = QStringLiteral("grant-1");
    Session *session = create(who);
    QVERIFY(session);
    QVERIFY(initializeSession(*session, QStringLiteral("2025-11-25"), m_scope.get()));
    std::array<quint64, int(metrics::Counter::Count)> before{};
    for (int i = 0; i < int(metrics::Counter::Count); ++i)
        before[size_t(i)] = metrics::value(metrics::Counter(i));
    QSignalSpy ended(registry, &SessionRegistry::sessionEnded);
    QSignalSpy allStopped(registry, &SessionRegistry::allStopped);

    switch (how) {
    case 0:
        QVERIFY(registry->evict(session->id(), QStringLiteral("test")));
        break;
    case 1:
        QVERIFY(registry->evict(session->id(), QStringLiteral("test"), EndCause::Client));
        break;
    case 2:
        QCOMPARE(registry->evictOwner(QStringLiteral("alice"), QStringLiteral("test")), 1);
        break;
    case 3:
        QCOMPARE(registry->evictGrants({QStringLiteral("grant-1")}, QStringLiteral("test")), 1);
        break;
    case 4:
        QCOMPARE(registry->evictGrants({QStringLiteral("grant-1")}, QStringLiteral("test"),
                                       EndCause::RefreshFailed),
                 1);
        break;
    case 5:
        // Idle for more than 0 ms from the next millisecond on (QTRY_COMPARE would sweep twice).
        QVERIFY(QTest::qWaitFor([session] { return session->idleMs() > 0; }, 5000));
        QCOMPARE(registry->reapIdle(), 1);
        break;
    case 6:
        registry->shutdown();
        m_shutDown = true;
        QTRY_VERIFY_WITH_TIMEOUT(allStopped.count() > 0, 10000);
        break;
    case 7: {
        TestSink *sink = newSink();
        QVERIFY(
            post(*session, toolCall(1, QStringLiteral("crash"), {{QStringLiteral("code"), 3}}), sink).ok());
        break;
    }
    }
    QTRY_COMPARE(ended.count(), 1);
    // Exactly one "ended" counter moved, the expected one, by one.
    for (int i = int(metrics::Counter::SessionsEndedClient);
         i <= int(metrics::Counter::SessionsEndedShutdown); ++i) {
        const quint64 moved = metrics::value(metrics::Counter(i)) - before[size_t(i)];
        QCOMPARE(moved, quint64(i == counter ? 1 : 0));
    }
}

// issue 13: one user child per user, across their grants, counted once
// against the caps beside their sessions.
void tst_SessionRegistry::userChildIsOnePerUser()
{
    RegistryLimits limits;
    limits.maxSessionsPerOwner = 2;
    SessionRegistry *registry = makeRegistry(limits);
    const Result<Session *> first = registry->userChild(owner(QStringLiteral("alice"), QStringLiteral("g1")));
    QVERIFY(first.ok());
    QCOMPARE(first.value()->kind(), SessionKind::UserChild);
    const Result<Session *> again = registry->userChild(owner(QStringLiteral("alice"), QStringLiteral("g2")));
    QVERIFY(again.ok());
    QCOMPARE(again.value(), first.value());
    QCOMPARE(registry->countFor(QStringLiteral("alice")), 1);
    QVERIFY(create(owner(QStringLiteral("alice"))));
    QCOMPARE(registry->countFor(QStringLiteral("alice")), 2);
    QVERIFY(!create(owner(QStringLiteral("alice")))); // the user child took one of the two
    const Result<Session *> bobs = registry->userChild(owner(QStringLiteral("bob")));
    QVERIFY(bobs.ok());
    QVERIFY(bobs.value() != first.value());
    QTRY_VERIFY(!first.value()->initializeResult().isEmpty());
    QCOMPARE(first.value()->clientName(), QStringLiteral("forgejo-mcp-broker"));
}

// The child's sampling/elicitation/roots request during a call goes to that
// call's stream, and the call stays in flight (2026-07-28 mrtr).
void tst_SessionRegistry::userChildRoutesServerRequestsToTheirCall()
{
    SessionRegistry *registry = makeRegistry();
    Session *child = registry->userChild(owner(QStringLiteral("alice"))).value();
    TestSink *sink = newSink();
    QVERIFY(post(*child,
                 toolCall(QStringLiteral("fmb-1"), QStringLiteral("sample"),
                          {{QStringLiteral("prompt"), QStringLiteral("hi")}}),
                 sink)
                .ok());
    // The call that asks gets the request (its sink makes it input_required, issue 13).
    QTRY_VERIFY(!sink->dataEvents().isEmpty());
    QCOMPARE(parseObject(sink->dataEvents().first().data).value(QLatin1String("method")).toString(),
             QStringLiteral("sampling/createMessage"));
    QVERIFY(!sink->complete);
    QCOMPARE(child->pendingRequests(), 1);
}

// The user child's notifications/initialized waits for the answer to
// initialize (2025-11-25 lifecycle): an SDK server that gets it sooner does
// not know the client's capabilities yet (server-everything then registers
// no sampling tools). This server never answers initialize.
void tst_SessionRegistry::userChildInitializedFollowsTheAnswer()
{
    SessionRegistry *registry = makeRegistry({}, {QStringLiteral("--no-initialize-reply")});
    Session *child = registry->userChild(owner(QStringLiteral("alice"))).value();
    TestSink *state = newSink();
    QVERIFY(post(*child, toolCall(QStringLiteral("fmb-1"), QStringLiteral("state")), state).ok());
    QTRY_VERIFY(state->complete);
    const QJsonObject seen = parseObject(toolText(parseObject(state->json)).toUtf8());
    QVERIFY2(seen.contains(QLatin1String("initializedCount")), state->json.constData());
    QCOMPARE(seen.value(QLatin1String("initializedCount")).toInt(), 0);
}

// A user child whose server exits fails what it ran; the next request
// starts another.
void tst_SessionRegistry::userChildExitEndsItAndAnotherStarts()
{
    SessionRegistry *registry = makeRegistry();
    QPointer<Session> child = registry->userChild(owner(QStringLiteral("alice"))).value();
    TestSink *sink = newSink();
    QVERIFY(post(*child, toolCall(QStringLiteral("fmb-1"), QStringLiteral("crash")), sink).ok());
    QTRY_VERIFY(sink->complete);
    QCOMPARE(errorCode(parseObject(sink->json)), JsonRpcError::BackendExited);
    QCOMPARE(registry->findUserChild(QStringLiteral("alice")), nullptr);
    const Result<Session *> next = registry->userChild(owner(QStringLiteral("alice")));
    QVERIFY(next.ok());
    QVERIFY(next.value() != child.data());
    QCOMPARE(registry->findUserChild(QStringLiteral("alice")), next.value());
}

void tst_SessionRegistry::userChildIsReapedWhenIdle()
{
    RegistryLimits limits;
    limits.idleTimeout = 1ms;
    limits.reapInterval = std::chrono::hours(1); // swept by hand
    SessionRegistry *registry = makeRegistry(limits);
    Session *child = registry->userChild(owner(QStringLiteral("alice"))).value();
    QTRY_VERIFY(!child->initializeResult().isEmpty());
    int reaped = 0;
    QTRY_VERIFY((reaped += registry->reapIdle()) > 0);
    QCOMPARE(reaped, 1);
    QCOMPARE(registry->findUserChild(QStringLiteral("alice")), nullptr);
}
