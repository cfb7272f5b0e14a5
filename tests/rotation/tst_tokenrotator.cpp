// TokenRotator through its TokenSource seam: a fake source whose refreshes
// the test completes by hand, a real SessionRegistry whose sessions run the
// real test MCP server. What the rotator decides (which grants, how often,
// what happens to the sessions) is checked here; tst_rotation runs the whole
// daemon against a fake Forgejo.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include <QDateTime>
#include <QHash>
#include <QPointer>
#include <QSignalSpy>
#include <QStringList>
#include <QTest>

#include "TestSink.h"
#include "base/Metrics.h"
#include "child/ChildProcess.h"
#include "rotation/TokenRotator.h"
#include "rotation/TokenSource.h"
#include "session/Session.h"
#include "session/SessionRegistry.h"

using namespace std::chrono_literals;
using namespace fmb;

namespace {

constexpr auto Lead = 5min;

// Expiry times relative to now: inside the refresh lead or well outside it.
QDateTime soon()
{
    return QDateTime::currentDateTimeUtc().addSecs(60);
}

QDateTime later()
{
    return QDateTime::currentDateTimeUtc().addSecs(3600);
}

// The seam: expiries and refresh keys the test sets, refreshes it completes.
class FakeTokenSource final : public TokenSource {
public:
    struct Call {
        QString grantId;
        QDateTime dueBefore;
        RefreshCallback done;
    };

    // A store-backed source answers later: with `deferLoads`, a load waits
    // in `loads` until the test answers it.
    void load(const QStringList &grantIds, std::function<void()> ready) override
    {
        if (!deferLoads) {
            ready();
            return;
        }
        loads.append({grantIds, std::move(ready)});
    }
    [[nodiscard]] Result<QDateTime> expiryOf(const QString &grantId) const override
    {
        if (broken.contains(grantId))
            return Error{ErrorCode::Io, grantId, QStringLiteral("the store cannot read this grant")};
        return expiries.value(grantId);
    }
    [[nodiscard]] QString refreshKey(const QString &grantId) const override
    {
        return keys.value(grantId, QStringLiteral("grant:") + grantId);
    }
    void refresh(const QString &grantId, const QDateTime &dueBefore, RefreshCallback done) override
    {
        calls.append(Call{grantId, dueBefore, std::move(done)});
    }
    // What another broker's announcement does.
    void announce(const QStringList &grantIds) { tokensChanged(grantIds); }

    QStringList refreshedGrants() const
    {
        QStringList out;
        for (const Call &call : calls)
            out.append(call.grantId);
        return out;
    }

    QHash<QString, QDateTime> expiries; // missing: no expiry known (invalid QDateTime)
    QHash<QString, QString> keys;       // grants with one key share upstream tokens
    QStringList broken;                 // expiryOf fails for these
    QList<Call> calls;                  // every refresh the rotator started, in order
    bool deferLoads = false;
    QList<std::pair<QStringList, std::function<void()>>> loads; // unanswered loads, in order
};

} // namespace

class tst_TokenRotator : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void sweepRefreshesOnlyWithinTheLead();
    void sweepDecidesOnceTheSourceHasLoaded();
    void unreadableExpiryIsSkipped();
    void oneRefreshPerKeyInFlight();
    void refreshRespawnsEverySessionOfTheRefreshedGrants();
    void refusalEvictsTheRevokedGrants();
    void refusalSubjectIsNotAGrantList();
    void transientFailureKeepsSessionsAndRetries_data();
    void transientFailureKeepsSessionsAndRetries();
    void newSessionNearExpiryRefreshesAtOnce();
    void timerSweeps();
    void lateAnswerAfterTheRotatorIsGone();
    void announcementRespawnsSessionsOnOlderTokens();
    void adoptedRefreshRespawnsOnlyOlderSessions();

private:
    TokenRotator *makeRotator(std::chrono::milliseconds interval = 1h);
    Session *create(const QString &user, const QString &grantId);
    // Sessions made before the rotator exists are found by sweeps only
    // (the rotator looks at new sessions as they are created).
    // How often the registry's factory made a backend for this session: its
    // creation, then one per respawn.
    int backendsMade(const Session *session) const { return m_backendsMade.value(session->id()); }

    FakeTokenSource m_source;
    std::unique_ptr<SessionRegistry> m_registry;
    std::unique_ptr<TokenRotator> m_rotator;
    QHash<QString, int> m_backendsMade; // by session id
};

void tst_TokenRotator::init()
{
    m_source.expiries.clear();
    m_source.keys.clear();
    m_source.broken.clear();
    m_source.calls.clear();
    m_source.deferLoads = false;
    m_source.loads.clear();
    m_backendsMade.clear();
    m_registry = std::make_unique<SessionRegistry>(
        RegistryLimits{}, [this](const SessionOwner &, const QString &sessionId) -> std::unique_ptr<Backend> {
            ++m_backendsMade[sessionId];
            return fmb::test::testServer();
        });
}

void tst_TokenRotator::cleanup()
{
    m_rotator.reset();
    QSignalSpy allStopped(m_registry.get(), &SessionRegistry::allStopped);
    m_registry->shutdown();
    QTRY_VERIFY_WITH_TIMEOUT(allStopped.count() > 0, 10000);
    m_registry.reset();
}

TokenRotator *tst_TokenRotator::makeRotator(std::chrono::milliseconds interval)
{
    m_rotator = std::make_unique<TokenRotator>(m_registry.get(), &m_source, interval, Lead);
    return m_rotator.get();
}

Session *tst_TokenRotator::create(const QString &user, const QString &grantId)
{
    Result<Session *> created = m_registry->create(SessionOwner{user, grantId});
    return created.ok() ? created.value() : nullptr;
}

void tst_TokenRotator::sweepRefreshesOnlyWithinTheLead()
{
    m_source.expiries = {{QStringLiteral("due"), soon()}, {QStringLiteral("fresh"), later()}};
    QVERIFY(create(QStringLiteral("alice"), QStringLiteral("due")));
    QVERIFY(create(QStringLiteral("bob"), QStringLiteral("fresh")));
    QVERIFY(create(QStringLiteral("carol"), QStringLiteral("no-expiry")));
    QVERIFY(create(QStringLiteral("dave"), QString())); // no grant: not OAuth
    TokenRotator *rotator = makeRotator();

    QCOMPARE(rotator->sweep(), 1);
    QCOMPARE(m_source.refreshedGrants(), QStringList{QStringLiteral("due")});
    QVERIFY(rotator->isRefreshing(QStringLiteral("due")));
    QVERIFY(!rotator->isRefreshing(QStringLiteral("fresh")));
}

void tst_TokenRotator::sweepDecidesOnceTheSourceHasLoaded()
{
    // Issue 14: the real source reads the store on its own thread. The
    // sweep decides when the expiries are in, and a sweep that finds the
    // last one still waiting is skipped rather than queued behind it.
    m_source.expiries = {{QStringLiteral("due"), soon()}};
    QVERIFY(create(QStringLiteral("alice"), QStringLiteral("due")));
    m_source.deferLoads = true;
    TokenRotator *rotator = makeRotator();
    QSignalSpy swept(rotator, &TokenRotator::swept);

    QCOMPARE(rotator->sweep(), 0);
    QCOMPARE(rotator->sweep(), 0);
    QCOMPARE(m_source.loads.size(), 1);
    QCOMPARE(m_source.loads.first().first, QStringList{QStringLiteral("due")});
    QVERIFY(m_source.calls.isEmpty());
    QVERIFY(swept.isEmpty());

    m_source.loads.takeFirst().second();
    QCOMPARE(swept.size(), 1);
    QCOMPARE(swept.first().first().toInt(), 1);
    QCOMPARE(m_source.refreshedGrants(), QStringList{QStringLiteral("due")});
    // The pass is over: the next one loads again.
    QCOMPARE(rotator->sweep(), 0);
    QCOMPARE(m_source.loads.size(), 1);
}

void tst_TokenRotator::unreadableExpiryIsSkipped()
{
    m_source.expiries = {{QStringLiteral("due"), soon()}, {QStringLiteral("broken"), soon()}};
    m_source.broken = {QStringLiteral("broken")};
    QVERIFY(create(QStringLiteral("alice"), QStringLiteral("due")));
    QVERIFY(create(QStringLiteral("bob"), QStringLiteral("broken")));
    TokenRotator *rotator = makeRotator();

    QCOMPARE(rotator->sweep(), 1);
    QCOMPARE(m_source.refreshedGrants(), QStringList{QStringLiteral("due")});
}

void tst_TokenRotator::oneRefreshPerKeyInFlight()
{
    // Two grants of one user share the user's upstream tokens (one key).
    m_source.expiries = {{QStringLiteral("g1"), soon()}, {QStringLiteral("g2"), soon()}};
    m_source.keys = {{QStringLiteral("g1"), QStringLiteral("user:7")},
                     {QStringLiteral("g2"), QStringLiteral("user:7")}};
    QVERIFY(create(QStringLiteral("alice"), QStringLiteral("g1")));
    QVERIFY(create(QStringLiteral("alice"), QStringLiteral("g2")));
    TokenRotator *rotator = makeRotator();

    QCOMPARE(rotator->sweep(), 1);
    QCOMPARE(m_source.calls.size(), 1);
    QVERIFY(rotator->isRefreshing(QStringLiteral("g1")));
    QVERIFY(rotator->isRefreshing(QStringLiteral("g2")));
    // Forgejo spends a refresh token on use: no second refresh while one runs.
    QCOMPARE(rotator->sweep(), 0);
    QVERIFY(!rotator->refreshGrant(QStringLiteral("g2")));
    QCOMPARE(m_source.calls.size(), 1);

    const QString first = m_source.calls.at(0).grantId;
    m_source.calls.at(0).done(TokenSource::Refreshed{later(), {QStringLiteral("g1"), QStringLiteral("g2")}});
    QVERIFY(!rotator->isRefreshing(QStringLiteral("g1")));
    QVERIFY(!rotator->isRefreshing(QStringLiteral("g2")));
    // Once it has answered, the next refresh of that key may start.
    QVERIFY(rotator->refreshGrant(first));
    QCOMPARE(m_source.calls.size(), 2);
}

void tst_TokenRotator::refreshRespawnsEverySessionOfTheRefreshedGrants()
{
    m_source.expiries = {{QStringLiteral("g1"), soon()}, {QStringLiteral("other"), later()}};
    Session *a = create(QStringLiteral("alice"), QStringLiteral("g1"));
    Session *b = create(QStringLiteral("alice"), QStringLiteral("g1"));
    Session *c = create(QStringLiteral("alice"), QStringLiteral("g2")); // shares the new tokens
    Session *d = create(QStringLiteral("bob"), QStringLiteral("other"));
    QVERIFY(a && b && c && d);
    TokenRotator *rotator = makeRotator();
    QSignalSpy refreshed(rotator, &TokenRotator::grantRefreshed);
    QSignalSpy failed(rotator, &TokenRotator::grantFailed);
    const quint64 succeededBefore = metrics::value(metrics::Counter::RefreshesSucceeded);

    QVERIFY(rotator->refreshGrant(QStringLiteral("g1")));
    QCOMPARE(m_source.calls.size(), 1);
    const QDateTime expiry = later().addSecs(600);
    m_source.calls.at(0).done(TokenSource::Refreshed{expiry, {QStringLiteral("g1"), QStringLiteral("g2")}});

    QCOMPARE(refreshed.count(), 1);
    QCOMPARE(refreshed.at(0).at(0).toString(), QStringLiteral("g1"));
    QCOMPARE(refreshed.at(0).at(1).toInt(), 3);
    QCOMPARE(failed.count(), 0);
    QCOMPARE(metrics::value(metrics::Counter::RefreshesSucceeded), succeededBefore + 1);
    for (Session *session : {a, b, c}) {
        QCOMPARE(backendsMade(session), 2); // created, then respawned once
        QCOMPARE(session->tokenExpiresMs(), expiry.toMSecsSinceEpoch());
    }
    QCOMPARE(backendsMade(d), 1);
    QCOMPARE(m_registry->count(), 4);
}

void tst_TokenRotator::refusalEvictsTheRevokedGrants()
{
    m_source.expiries = {{QStringLiteral("g1"), soon()}};
    Session *sessionA = create(QStringLiteral("alice"), QStringLiteral("g1"));
    Session *sessionB = create(QStringLiteral("alice"), QStringLiteral("g2"));
    Session *sessionC = create(QStringLiteral("bob"), QStringLiteral("other"));
    QVERIFY(sessionA && sessionB && sessionC);
    const QString a = sessionA->id();
    const QString b = sessionB->id();
    const QString c = sessionC->id();
    TokenRotator *rotator = makeRotator();
    QSignalSpy failed(rotator, &TokenRotator::grantFailed);
    QSignalSpy ended(m_registry.get(), &SessionRegistry::sessionEnded);
    const quint64 refusedBefore = metrics::value(metrics::Counter::RefreshesRefused);
    const quint64 endedBefore = metrics::value(metrics::Counter::SessionsEndedRefreshFailed);

    QVERIFY(rotator->refreshGrant(QStringLiteral("g1")));
    // The source revoked both grants of the user that shared the spent token.
    m_source.calls.at(0).done(TokenSource::RefreshFailure{
        Error{ErrorCode::Unauthorized, QStringLiteral("https://forgejo.example/login/oauth/access_token"),
              QStringLiteral("invalid_grant: the refresh token was revoked")},
        {QStringLiteral("g1"), QStringLiteral("g2")}});

    QCOMPARE(failed.count(), 1);
    QCOMPARE(failed.at(0).at(0).toString(), QStringLiteral("g1"));
    QCOMPARE(failed.at(0).at(1).toString(), QStringLiteral("invalid_grant: the refresh token was revoked"));
    QCOMPARE(m_registry->find(a), nullptr);
    QCOMPARE(m_registry->find(b), nullptr);
    QVERIFY(m_registry->find(c));
    QCOMPARE(ended.count(), 2);
    QCOMPARE(metrics::value(metrics::Counter::RefreshesRefused), refusedBefore + 1);
    QCOMPARE(metrics::value(metrics::Counter::SessionsEndedRefreshFailed), endedBefore + 2);
    QVERIFY(!rotator->isRefreshing(QStringLiteral("g1")));
}

// The grants to evict come from the failure's own list, not from its
// error subject (which used to carry them space-joined).
void tst_TokenRotator::refusalSubjectIsNotAGrantList()
{
    Session *sessionA = create(QStringLiteral("alice"), QStringLiteral("g1"));
    Session *sessionB = create(QStringLiteral("bob"), QStringLiteral("g2"));
    QVERIFY(sessionA && sessionB);
    const QString a = sessionA->id();
    TokenRotator *rotator = makeRotator();

    QVERIFY(rotator->refreshGrant(QStringLiteral("g1")));
    m_source.calls.at(0).done(TokenSource::RefreshFailure{
        Error{ErrorCode::Unauthorized, QStringLiteral("g2 g3"), QStringLiteral("invalid_grant")}, {}});

    QCOMPARE(m_registry->find(a), nullptr); // the refused grant itself always goes
    QCOMPARE(m_registry->find(sessionB->id()), sessionB);
}

void tst_TokenRotator::transientFailureKeepsSessionsAndRetries_data()
{
    QTest::addColumn<fmb::ErrorCode>("code");
    QTest::addColumn<QString>("message");
    QTest::addColumn<int>("failures"); // grantFailed and RefreshesUnavailable
    QTest::newRow("Forgejo unreachable")
        << ErrorCode::Unavailable << QStringLiteral("Forgejo did not answer") << 1;
    // Issue 14: another broker holds the refresh lock; its tokens come by announcement.
    QTest::newRow("busy: another broker refreshes")
        << ErrorCode::Conflict << QStringLiteral("another broker is refreshing") << 0;
}

void tst_TokenRotator::transientFailureKeepsSessionsAndRetries()
{
    QFETCH(fmb::ErrorCode, code);
    QFETCH(QString, message);
    QFETCH(int, failures);
    m_source.expiries = {{QStringLiteral("g1"), soon()}};
    Session *session = create(QStringLiteral("alice"), QStringLiteral("g1"));
    QVERIFY(session);
    TokenRotator *rotator = makeRotator();
    QSignalSpy failed(rotator, &TokenRotator::grantFailed);
    const quint64 unavailableBefore = metrics::value(metrics::Counter::RefreshesUnavailable);
    const QString id = session->id();

    QCOMPARE(rotator->sweep(), 1);
    m_source.calls.at(0).done(TokenSource::RefreshFailure{Error{code, QStringLiteral("g1"), message}, {}});

    QCOMPARE(failed.count(), failures);
    if (failures > 0)
        QCOMPARE(failed.at(0).at(1).toString(), message);
    QCOMPARE(metrics::value(metrics::Counter::RefreshesUnavailable), unavailableBefore + quint64(failures));
    QCOMPARE(m_registry->find(id), session); // the token may still be good
    QCOMPARE(backendsMade(session), 1);
    QVERIFY(!rotator->isRefreshing(QStringLiteral("g1")));
    // No backoff of its own: the next sweep tries again.
    QCOMPARE(rotator->sweep(), 1);
    QCOMPARE(m_source.refreshedGrants(), (QStringList{QStringLiteral("g1"), QStringLiteral("g1")}));
}

void tst_TokenRotator::newSessionNearExpiryRefreshesAtOnce()
{
    const QDateTime dueAt = soon();
    const QDateTime freshAt = later();
    m_source.expiries = {{QStringLiteral("due"), dueAt}, {QStringLiteral("fresh"), freshAt}};
    makeRotator();
    Session *fresh = create(QStringLiteral("bob"), QStringLiteral("fresh"));
    Session *due = create(QStringLiteral("alice"), QStringLiteral("due"));
    QVERIFY(fresh && due);
    // The expiry is known as soon as the session exists (the admin list shows it).
    QCOMPARE(fresh->tokenExpiresMs(), freshAt.toMSecsSinceEpoch());
    QCOMPARE(due->tokenExpiresMs(), dueAt.toMSecsSinceEpoch());
    // The refresh is queued, not started inside create().
    QVERIFY(m_source.calls.isEmpty());
    QTRY_COMPARE(m_source.refreshedGrants(), QStringList{QStringLiteral("due")});
}

void tst_TokenRotator::timerSweeps()
{
    makeRotator(50ms);
    // Created before the source knows the expiry: only a sweep can find it.
    QVERIFY(create(QStringLiteral("alice"), QStringLiteral("g1")));
    QVERIFY(m_source.calls.isEmpty());
    m_source.expiries = {{QStringLiteral("g1"), soon()}};
    QTRY_COMPARE(m_source.refreshedGrants(), QStringList{QStringLiteral("g1")});
}

void tst_TokenRotator::lateAnswerAfterTheRotatorIsGone()
{
    m_source.expiries = {{QStringLiteral("g1"), soon()}};
    Session *session = create(QStringLiteral("alice"), QStringLiteral("g1"));
    QVERIFY(session);
    TokenRotator *rotator = makeRotator();
    const QString id = session->id();
    QCOMPARE(rotator->sweep(), 1);
    m_rotator.reset();
    // The upstream answers after shutdown began: nothing is touched.
    m_source.calls.at(0).done(TokenSource::RefreshFailure{
        Error{ErrorCode::Unauthorized, QStringLiteral("g1"), QStringLiteral("refused")},
        {QStringLiteral("g1")}});
    QCOMPARE(m_registry->find(id), session);
    QCOMPARE(backendsMade(session), 1);
}

void tst_TokenRotator::announcementRespawnsSessionsOnOlderTokens()
{
    // Issue 14: another broker refreshed g1; its announcement moves our
    // sessions of g1 to the stored tokens, once.
    m_source.expiries = {{QStringLiteral("g1"), soon()}, {QStringLiteral("other"), soon()}};
    Session *a = create(QStringLiteral("alice"), QStringLiteral("g1"));
    Session *b = create(QStringLiteral("bob"), QStringLiteral("other"));
    QVERIFY(a && b);
    makeRotator();
    QSignalSpy adopted(m_rotator.get(), &TokenRotator::tokensAdopted);
    const QDateTime stored = later();
    m_source.expiries.insert(QStringLiteral("g1"), stored);

    m_source.announce({QStringLiteral("g1")});
    QCOMPARE(adopted.count(), 1);
    QCOMPARE(adopted.at(0).at(1).toInt(), 1);
    QCOMPARE(backendsMade(a), 2);
    QCOMPARE(a->tokenExpiresMs(), stored.toMSecsSinceEpoch());
    QCOMPARE(backendsMade(b), 1);
    // Heard twice (or made up by a sweep): no second respawn.
    m_source.announce({QStringLiteral("g1")});
    QCOMPARE(m_rotator->sweep(), 1); // "other" is due: refreshed, not adopted
    QCOMPARE(adopted.count(), 1);
    QCOMPARE(backendsMade(a), 2);
}

void tst_TokenRotator::adoptedRefreshRespawnsOnlyOlderSessions()
{
    m_source.expiries = {{QStringLiteral("g1"), soon()}};
    Session *older = create(QStringLiteral("alice"), QStringLiteral("g1"));
    QVERIFY(older);
    TokenRotator *rotator = makeRotator();
    QSignalSpy refreshed(rotator, &TokenRotator::grantRefreshed);
    const QDateTime stored = later();
    m_source.expiries.insert(QStringLiteral("g1"), stored);
    Session *newer = create(QStringLiteral("alice"), QStringLiteral("g1")); // started on the stored tokens

    QVERIFY(rotator->refreshGrant(QStringLiteral("g1")));
    QCOMPARE(m_source.calls.at(0).dueBefore > QDateTime::currentDateTimeUtc(), true);
    m_source.calls.at(0).done(TokenSource::Refreshed{stored, {QStringLiteral("g1")}, true});
    QCOMPARE(refreshed.count(), 0); // nothing was refreshed here
    QCOMPARE(backendsMade(older), 2);
    QCOMPARE(backendsMade(newer), 1);
}

QTEST_GUILESS_MAIN(tst_TokenRotator)
#include "tst_tokenrotator.moc"
