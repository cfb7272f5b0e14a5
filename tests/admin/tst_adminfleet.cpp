// AdminFleet (issue 14): several brokers' admin sockets at once, over real
// QLocalSockets to real AdminServers, each with its own SessionRegistry and
// node id; one table with a broker column, evict routed to the right broker.
#include <memory>

#include <QDateTime>
#include <QLocalServer>
#include <QLocalSocket>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "TestBroker.h"
#include "admin/AdminClient.h"
#include "admin/AdminFleet.h"
#include "admin/AdminServer.h"
#include "session/SessionRegistry.h"

using namespace fmb;

class tst_AdminFleet : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void planFleetEvict_data();
    void planFleetEvict();
    void connectNamesEveryMember();
    void listMergesWithBrokerColumn();
    void evictByPrefixGoesToItsBroker();
    void evictOnRowsBroker();
    void evictUserEverywhere();
    void evictEverywhereNamesUnreachable();
    void brokersMergeAndKeepStale();
    void brokerThatGoesIsUnreachable();
    void silentBrokerTimesOut();

private:
    void connectFleet(AdminFleet &fleet, bool withMissing = false);
    [[nodiscard]] QList<FleetSession> list(AdminFleet &fleet, QStringList *problems = nullptr);

    std::unique_ptr<fmbtest::TwoBrokers> m_brokers;
};

void tst_AdminFleet::init()
{
    m_brokers = std::make_unique<fmbtest::TwoBrokers>();
    QVERIFY(m_brokers->listen());
}

void tst_AdminFleet::cleanup()
{
    m_brokers.reset();
}

void tst_AdminFleet::connectFleet(AdminFleet &fleet, bool withMissing)
{
    QList<AdminTarget> targets{AdminTarget::local(m_brokers->alpha->server->socketPath()),
                               AdminTarget::local(m_brokers->beta->server->socketPath())};
    if (withMissing)
        targets.append(AdminTarget::local(m_brokers->missingSocket()));
    QSignalSpy settled(&fleet, &AdminFleet::settled);
    fleet.connectTo(targets);
    QCOMPARE(settled.count(), 0); // never before connectTo() returns
    QTRY_COMPARE(settled.count(), 1);
}

QList<FleetSession> tst_AdminFleet::list(AdminFleet &fleet, QStringList *problems)
{
    std::optional<QList<FleetSession>> rows;
    fleet.listSessions([&](const QList<FleetSession> &sessions, const QStringList &why) {
        rows = sessions;
        if (problems)
            *problems = why;
    });
    (void)QTest::qWaitFor([&rows] { return rows.has_value(); }, 5000);
    return rows.value_or(QList<FleetSession>{});
}

void tst_AdminFleet::planFleetEvict_data()
{
    QTest::addColumn<QStringList>("asked");
    QTest::addColumn<QStringList>("toAlpha");
    QTest::addColumn<QStringList>("toBeta");
    QTest::addColumn<QStringList>("notFound");
    QTest::addColumn<QStringList>("ambiguous");
    QTest::newRow("full ids go to their brokers")
        << QStringList{QStringLiteral("alpha-1111aaaa"), QStringLiteral("beta-2222bbbb")}
        << QStringList{QStringLiteral("alpha-1111aaaa")} << QStringList{QStringLiteral("beta-2222bbbb")}
        << QStringList{} << QStringList{};
    QTest::newRow("a prefix unique in the fleet")
        << QStringList{QStringLiteral("beta-2222")} << QStringList{}
        << QStringList{QStringLiteral("beta-2222bbbb")} << QStringList{} << QStringList{};
    QTest::newRow("unknown id") << QStringList{QStringLiteral("gamma-999999")} << QStringList{}
                                << QStringList{} << QStringList{QStringLiteral("gamma-999999")}
                                << QStringList{};
    QTest::newRow("a prefix two brokers share is ambiguous")
        << QStringList{QStringLiteral("shared")} << QStringList{} << QStringList{} << QStringList{}
        << QStringList{QStringLiteral("shared")};
}

void tst_AdminFleet::planFleetEvict()
{
    QFETCH(QStringList, asked);
    const auto row = [](int member, const QString &broker, const QString &id) {
        FleetSession session;
        session.member = member;
        session.broker = broker;
        session.session.id = id;
        return session;
    };
    const QList<FleetSession> sessions{
        row(0, QStringLiteral("alpha"), QStringLiteral("alpha-1111aaaa")),
        row(0, QStringLiteral("alpha"), QStringLiteral("shared-aaaa11")),
        row(1, QStringLiteral("beta"), QStringLiteral("beta-2222bbbb")),
        row(1, QStringLiteral("beta"), QStringLiteral("shared-bbbb22")),
    };
    const FleetEvictPlan plan = fmb::planFleetEvict(asked, sessions, 2);
    QCOMPARE(plan.perMember.size(), 2);
    QTEST(plan.perMember.at(0), "toAlpha");
    QTEST(plan.perMember.at(1), "toBeta");
    QTEST(plan.notFound, "notFound");
    QTEST(plan.ambiguous, "ambiguous");
}

void tst_AdminFleet::connectNamesEveryMember()
{
    AdminFleet fleet;
    connectFleet(fleet, true);
    QCOMPARE(fleet.size(), 3);
    QCOMPARE(fleet.state(0), AdminFleet::MemberState::Connected);
    QCOMPARE(fleet.brokerName(0), QStringLiteral("alpha"));
    QCOMPARE(fleet.brokerName(1), QStringLiteral("beta"));
    QCOMPARE(fleet.state(2), AdminFleet::MemberState::Unreachable);
    QVERIFY(fleet.nodeId(2).isEmpty());
    QVERIFY(fleet.brokerName(2).contains(QLatin1String("gone/admin.sock")));
    QVERIFY(!fleet.problem(2).isEmpty());
}

void tst_AdminFleet::listMergesWithBrokerColumn()
{
    const QString a1 = m_brokers->alpha->create(QStringLiteral("alice"));
    const QString b1 = m_brokers->beta->create(QStringLiteral("bob"));
    const QString b2 = m_brokers->beta->create(QStringLiteral("carol"));
    QVERIFY(!a1.isEmpty() && !b1.isEmpty() && !b2.isEmpty());
    AdminFleet fleet;
    connectFleet(fleet, true);
    QStringList problems;
    const QList<FleetSession> rows = list(fleet, &problems);
    QCOMPARE(rows.size(), 3);
    QCOMPARE(rows.at(0).broker, QStringLiteral("alpha"));
    QCOMPARE(rows.at(0).member, 0);
    QCOMPARE(rows.at(0).session.id, a1);
    QCOMPARE(rows.at(0).session.user, QStringLiteral("alice"));
    QCOMPARE(rows.at(1).broker, QStringLiteral("beta"));
    QCOMPARE(rows.at(1).session.id, b1);
    QCOMPARE(rows.at(2).broker, QStringLiteral("beta"));
    QCOMPARE(rows.at(2).session.id, b2);
    QCOMPARE(problems.size(), 1);
    QVERIFY2(problems.at(0).contains(QLatin1String("gone/admin.sock")), qPrintable(problems.at(0)));
}

void tst_AdminFleet::evictByPrefixGoesToItsBroker()
{
    const QString a1 = m_brokers->alpha->create(QStringLiteral("alice"));
    const QString b1 = m_brokers->beta->create(QStringLiteral("bob"));
    AdminFleet fleet;
    connectFleet(fleet);
    std::optional<EvictOutcome> outcome;
    // The id with its node prefix cut to a prefix: only beta serves it.
    fleet.evictSessions({b1.left(12)}, [&](const EvictOutcome &o, const QStringList &) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QCOMPARE(outcome->evicted, QStringList{b1});
    QVERIFY(outcome->notFound.isEmpty());
    QTRY_COMPARE(m_brokers->beta->registry.count(), 0);
    QCOMPARE(m_brokers->alpha->registry.count(), 1);
    QVERIFY(m_brokers->alpha->registry.find(a1));

    outcome.reset();
    fleet.evictSessions({QStringLiteral("nosuchsession")},
                        [&](const EvictOutcome &o, const QStringList &) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QCOMPARE(outcome->notFound, QStringList{QStringLiteral("nosuchsession")});
    QCOMPARE(m_brokers->alpha->registry.count(), 1);
}

void tst_AdminFleet::evictOnRowsBroker()
{
    const QString a1 = m_brokers->alpha->create(QStringLiteral("alice"));
    const QString b1 = m_brokers->beta->create(QStringLiteral("bob"));
    AdminFleet fleet;
    connectFleet(fleet);
    const QList<FleetSession> rows = list(fleet);
    QCOMPARE(rows.size(), 2);
    std::optional<EvictOutcome> outcome;
    // The console's path: the row knows its member.
    fleet.evictOn(rows.at(0).member, rows.at(0).session.id,
                  [&](const EvictOutcome &o, const QStringList &) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QCOMPARE(outcome->evicted, QStringList{a1});
    QTRY_COMPARE(m_brokers->alpha->registry.count(), 0);
    QCOMPARE(m_brokers->beta->registry.count(), 1);

    // Sent to the wrong broker, an id is not found there: nothing else goes.
    outcome.reset();
    fleet.evictOn(0, b1, [&](const EvictOutcome &o, const QStringList &) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QCOMPARE(outcome->notFound, QStringList{b1});
    QCOMPARE(m_brokers->beta->registry.count(), 1);
}

void tst_AdminFleet::evictUserEverywhere()
{
    m_brokers->alpha->create(QStringLiteral("alice"));
    m_brokers->beta->create(QStringLiteral("alice"));
    m_brokers->beta->create(QStringLiteral("bob"));
    AdminFleet fleet;
    connectFleet(fleet);
    std::optional<EvictOutcome> outcome;
    fleet.evictEverywhere(EvictSelector::ofUser(QStringLiteral("alice")),
                          [&](const EvictOutcome &o, const QStringList &) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QCOMPARE(outcome->evicted.size(), 2);
    QVERIFY(outcome->notFound.isEmpty()); // alpha and beta both had her
    QTRY_COMPARE(m_brokers->alpha->registry.count(), 0);
    QTRY_COMPARE(m_brokers->beta->registry.count(), 1);

    outcome.reset();
    fleet.evictEverywhere(EvictSelector::ofUser(QStringLiteral("carol")),
                          [&](const EvictOutcome &o, const QStringList &) { outcome = o; });
    QTRY_VERIFY(outcome.has_value());
    QCOMPARE(outcome->notFound, QStringList{QStringLiteral("carol")});
}

void tst_AdminFleet::evictEverywhereNamesUnreachable()
{
    // brokerctl --ssh a --ssh b evict --user alice with b down must not exit
    // 0 in silence: b may hold sessions of hers that nobody evicted.
    m_brokers->alpha->create(QStringLiteral("alice"));
    AdminFleet fleet;
    connectFleet(fleet, true);
    std::optional<EvictOutcome> outcome;
    QStringList problems;
    fleet.evictEverywhere(EvictSelector::ofUser(QStringLiteral("alice")),
                          [&](const EvictOutcome &o, const QStringList &why) {
                              outcome = o;
                              problems = why;
                          });
    QTRY_VERIFY(outcome.has_value());
    QCOMPARE(outcome->evicted.size(), 1);
    QCOMPARE(problems.size(), 1);
    QVERIFY2(problems.at(0).contains(QLatin1String("gone/admin.sock")), qPrintable(problems.join(u'|')));
}

void tst_AdminFleet::brokersMergeAndKeepStale()
{
    // Both answer from "the database": alpha's view holds a stale gamma.
    const auto record = [](const QString &node, qint64 ageMs, bool stale) {
        BrokerStatus status;
        status.nodeId = node;
        status.heartbeatAgeMs = ageMs;
        status.staleAfterMs = 15000;
        status.stale = stale;
        return status;
    };
    m_brokers->alpha->server->setBrokerLister([&](const AdminServer::BrokerReply &reply) {
        reply(Result<QList<BrokerStatus>>(QList<BrokerStatus>{record(QStringLiteral("alpha"), 100, false),
                                                              record(QStringLiteral("beta"), 4000, false),
                                                              record(QStringLiteral("gamma"), 60000, true)}));
    });
    m_brokers->beta->server->setBrokerLister([&](const AdminServer::BrokerReply &reply) {
        reply(Result<QList<BrokerStatus>>(QList<BrokerStatus>{record(QStringLiteral("alpha"), 3000, false),
                                                              record(QStringLiteral("beta"), 50, false),
                                                              record(QStringLiteral("gamma"), 60010, true)}));
    });
    AdminFleet fleet;
    connectFleet(fleet);
    std::optional<QList<BrokerStatus>> brokers;
    fleet.listBrokers([&](const QList<BrokerStatus> &b, const QStringList &) { brokers = b; });
    QTRY_VERIFY(brokers.has_value());
    QCOMPARE(brokers->size(), 3);
    QCOMPARE(brokers->at(0).nodeId, QStringLiteral("alpha"));
    QCOMPARE(brokers->at(0).heartbeatAgeMs, qint64(100)); // the fresher view
    QVERIFY(brokers->at(0).self);
    QCOMPARE(brokers->at(1).heartbeatAgeMs, qint64(50));
    QVERIFY(brokers->at(1).self);
    QCOMPARE(brokers->at(2).nodeId, QStringLiteral("gamma"));
    QVERIFY(brokers->at(2).stale);
    QVERIFY(!brokers->at(2).self); // no target of ours reaches it
}

void tst_AdminFleet::brokerThatGoesIsUnreachable()
{
    m_brokers->alpha->create(QStringLiteral("alice"));
    m_brokers->beta->create(QStringLiteral("bob"));
    AdminFleet fleet;
    connectFleet(fleet);
    QSignalSpy changed(&fleet, &AdminFleet::memberChanged);
    m_brokers->beta.reset(); // the broker exits: its socket closes
    QTRY_COMPARE(fleet.state(1), AdminFleet::MemberState::Unreachable);
    QVERIFY(!changed.isEmpty());
    QCOMPARE(fleet.brokerName(1), QStringLiteral("beta")); // still named
    QStringList problems;
    const QList<FleetSession> rows = list(fleet, &problems);
    QCOMPARE(rows.size(), 1);
    QCOMPARE(rows.at(0).broker, QStringLiteral("alpha"));
    QCOMPARE(problems.size(), 1);
    QVERIFY(problems.at(0).startsWith(QLatin1String("beta: ")));
}

void tst_AdminFleet::silentBrokerTimesOut()
{
    // A daemon that accepts the socket but never answers (hung, stopped)
    // must not keep the fleet unsettled: the others' answers still come.
    m_brokers->alpha->create(QStringLiteral("alice"));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QLocalServer silent;
    QVERIFY(silent.listen(dir.filePath(QStringLiteral("silent.sock"))));
    QList<QLocalSocket *> accepted; // owned by `silent`; read from, never answered
    connect(&silent, &QLocalServer::newConnection, &silent, [&] {
        while (QLocalSocket *socket = silent.nextPendingConnection())
            accepted.append(socket);
    });
    AdminFleet fleet;
    fleet.setMemberTimeout(std::chrono::milliseconds(300));
    QSignalSpy settled(&fleet, &AdminFleet::settled);
    fleet.connectTo({AdminTarget::local(m_brokers->alpha->server->socketPath()),
                     AdminTarget::local(silent.fullServerName())});
    QTRY_COMPARE(settled.count(), 1);
    QVERIFY(!accepted.isEmpty()); // it did accept: the deadline, not a refusal, ended it
    QCOMPARE(fleet.state(0), AdminFleet::MemberState::Connected);
    QCOMPARE(fleet.state(1), AdminFleet::MemberState::Unreachable);
    QVERIFY2(fleet.problem(1).contains(QLatin1String("within 0.3 s")), qPrintable(fleet.problem(1)));
    QStringList problems;
    const QList<FleetSession> rows = list(fleet, &problems);
    QCOMPARE(rows.size(), 1);
    QCOMPARE(rows.at(0).broker, QStringLiteral("alpha"));
    QCOMPARE(problems.size(), 1);
}

QTEST_GUILESS_MAIN(tst_AdminFleet)
#include "tst_adminfleet.moc"
