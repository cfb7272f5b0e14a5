// Issue 14: two brokers on one PostgreSQL database refresh a Forgejo grant
// once. Each "broker" here is the real stack below the daemon: a
// PostgresTokenStore, an UpstreamClient talking to fmb-fake-forgejo (which
// refuses a spent refresh token as Forgejo does), a StoreTokenSource, a
// SessionRegistry whose sessions run the test MCP server, and a
// TokenRotator. Skips when PostgreSQL is not installed.

#include <chrono>
#include <memory>
#include <vector>

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include "OAuthTestSupport.h"
#include "PgCluster.h"
#include "TestSink.h"
#include "oauth/UpstreamClient.h"
#include "rotation/StoreTokenSource.h"
#include "rotation/TokenRotator.h"
#include "session/Session.h"
#include "session/SessionRegistry.h"
#include "store/PostgresTokenStore.h"
#include "store/StoreRunner.h"

using namespace std::chrono_literals;
using namespace fmb;

namespace {

const QString ClientId = QStringLiteral("broker");
const QString ClientSecret = QStringLiteral("cluster-secret");
const QString RedirectUri = QStringLiteral("http://127.0.0.1:9/oauth/callback");
constexpr auto Lead = 5min;

// One broker of the cluster. Declared in teardown order: the rotator goes
// before the registry, the source before the store.
struct Broker {
    std::unique_ptr<PostgresTokenStore> store;
    std::unique_ptr<StoreRunner> stores; // the source's way into the store
    std::unique_ptr<UpstreamClient> upstream;
    std::unique_ptr<StoreTokenSource> source;
    std::unique_ptr<SessionRegistry> registry;
    std::unique_ptr<TokenRotator> rotator;
    QList<QByteArray> spawnedWith; // the upstream access token of every backend made, in order
};

} // namespace

class tst_ClusterRefresh : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void concurrentSweepsRefreshOnce();
    void lateTimerAdoptsInsteadOfRefreshing();
    void sweepAdoptsWithoutTheAnnouncement();
    void oneBrokerRefreshesAUserOnce();
    void failedSiblingSaveHealsWithoutALogout();

private:
    [[nodiscard]] std::unique_ptr<Broker> makeBroker();
    // Makes the stored access token due for refresh (as time would).
    void makeDue();
    [[nodiscard]] int forgejoRefreshes();
    [[nodiscard]] QByteArray storedAccessToken(Broker &broker) const;
    // Alice's second grant (another client, the same tokens), due now like
    // the first: its id and the due pair.
    void addSecondGrant(QString *grantId, UpstreamTokens *due);
    // One sweep of each rotator, started together; how many refreshes they
    // started once the source has answered them all.
    [[nodiscard]] static int sweep(const QList<Broker *> &brokers);

    QString m_unavailable;
    std::unique_ptr<fmbtest::PgCluster> m_cluster;
    std::unique_ptr<fmbtest::FakeForgejo> m_forgejo;
    QNetworkAccessManager m_network;
    QTemporaryDir m_dir;
    PostgresParams m_params;
    std::unique_ptr<Broker> m_a;
    std::unique_ptr<Broker> m_b;
    QString m_grantId;
};

void tst_ClusterRefresh::initTestCase()
{
    m_unavailable = fmbtest::PgCluster::unavailableReason();
    if (!m_unavailable.isEmpty())
        return;
    m_cluster = std::make_unique<fmbtest::PgCluster>();
    Result<void> started = m_cluster->start();
    QVERIFY2(started.ok(), started.ok() ? ""
                                        : qPrintable(started.error().message + QLatin1Char('\n') +
                                                     QString::fromUtf8(m_cluster->log())));
    m_forgejo = std::make_unique<fmbtest::FakeForgejo>();
    QVERIFY(m_forgejo->start(ClientId, ClientSecret, RedirectUri,
                             {QStringLiteral("--access-ttl"), QStringLiteral("3600")}));
}

std::unique_ptr<Broker> tst_ClusterRefresh::makeBroker()
{
    auto broker = std::make_unique<Broker>();
    broker->store = std::make_unique<PostgresTokenStore>();
    Result<void> opened = broker->store->open(m_params, m_dir.filePath(QStringLiteral("upstream.key")));
    if (!opened.ok()) {
        qWarning("cannot open the store: %s", qPrintable(opened.error().message));
        return nullptr;
    }
    UpstreamConfig config;
    config.authorizeUrl = m_forgejo->url(QStringLiteral("/login/oauth/authorize"));
    config.tokenUrl = m_forgejo->url(QStringLiteral("/login/oauth/access_token"));
    config.userUrl = m_forgejo->url(QStringLiteral("/api/v1/user"));
    config.clientId = ClientId;
    config.clientSecret = ClientSecret.toUtf8();
    config.redirectUri = QUrl(RedirectUri);
    config.timeoutMs = 5000;
    broker->upstream = std::make_unique<UpstreamClient>(config);
    broker->stores = StoreRunner::inlineOn(broker->store.get());
    broker->source = std::make_unique<StoreTokenSource>(broker->stores.get(), broker->upstream.get());
    Broker *raw = broker.get();
    broker->registry = std::make_unique<SessionRegistry>(
        RegistryLimits{}, [raw](const SessionOwner &owner, const QString &) -> std::unique_ptr<Backend> {
            // What the daemon's factory puts into the child's environment.
            Result<UpstreamTokens> tokens = raw->store->upstreamTokens(owner.grantId);
            raw->spawnedWith.append(tokens ? tokens.value().accessToken : QByteArray());
            return fmb::test::testServer();
        });
    broker->rotator = std::make_unique<TokenRotator>(broker->registry.get(), broker->source.get(), 1h, Lead);
    return broker;
}

void tst_ClusterRefresh::init()
{
    if (!m_unavailable.isEmpty())
        QSKIP(qPrintable(QStringLiteral("no PostgreSQL cluster: ") + m_unavailable));
    Result<PostgresParams> database = m_cluster->createDatabase();
    QVERIFY(database.ok());
    m_params = database.value();
    m_a = makeBroker();
    m_b = makeBroker();
    QVERIFY(m_a && m_b);

    // Alice logs in at Forgejo (through broker A): a real code exchange.
    const QString verifier = QStringLiteral("a-verifier-of-more-than-forty-three-characters-0123456789");
    const QString challenge =
        QString::fromLatin1(QCryptographicHash::hash(verifier.toLatin1(), QCryptographicHash::Sha256)
                                .toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
    const QUrl authorize = m_a->upstream->authorizeUrl(QStringLiteral("s"), challenge);
    const fmbtest::HttpResult answer = fmbtest::http(&m_network, "GET", authorize);
    const QString code = fmbtest::queryOf(answer.location()).value(QStringLiteral("code"));
    QVERIFY2(!code.isEmpty(), answer.describe().constData());
    std::optional<Result<UpstreamTokens>> exchanged;
    m_a->upstream->exchangeCode(code, verifier, [&exchanged](Result<UpstreamTokens> r) { exchanged = r; });
    QTRY_VERIFY(exchanged.has_value());
    QVERIFY2(exchanged->ok(), exchanged->ok() ? "" : qPrintable(exchanged->error().message));

    ClientRecord client;
    client.clientId = QStringLiteral("mcp-client");
    client.redirectUris = {QStringLiteral("http://127.0.0.1/cb")};
    QVERIFY(m_a->store->registerClient(client).ok());
    GrantRecord grant;
    grant.userLogin = QStringLiteral("alice");
    grant.userId = 1;
    grant.clientId = client.clientId;
    grant.scope = QStringLiteral("forgejo");
    Result<GrantRecord> created = m_a->store->createGrant(grant, exchanged->value());
    QVERIFY(created.ok());
    m_grantId = created.value().grantId;

    // Alice has a session on each broker.
    for (Broker *broker : {m_a.get(), m_b.get()})
        QVERIFY(broker->registry->create(SessionOwner{QStringLiteral("alice"), m_grantId}).ok());
}

void tst_ClusterRefresh::cleanup()
{
    for (std::unique_ptr<Broker> *broker : {&m_a, &m_b}) {
        if (!*broker)
            continue;
        (*broker)->rotator.reset();
        QSignalSpy allStopped((*broker)->registry.get(), &SessionRegistry::allStopped);
        (*broker)->registry->shutdown();
        QTRY_VERIFY_WITH_TIMEOUT(allStopped.count() > 0, 10000);
        broker->reset();
    }
}

void tst_ClusterRefresh::makeDue()
{
    Result<UpstreamTokens> tokens = m_a->store->upstreamTokens(m_grantId);
    QVERIFY(tokens.ok());
    UpstreamTokens due = tokens.value();
    due.accessExpiresAt = QDateTime::currentDateTimeUtc().addSecs(60);
    QVERIFY(m_a->store->saveUpstreamTokens(m_grantId, due).ok());
}

int tst_ClusterRefresh::forgejoRefreshes()
{
    const QJsonObject stats = m_forgejo->stats(&m_network);
    return stats.value(QStringLiteral("refreshes")).toInt() +
           stats.value(QStringLiteral("refresh_failures")).toInt();
}

QByteArray tst_ClusterRefresh::storedAccessToken(Broker &broker) const
{
    Result<UpstreamTokens> tokens = broker.store->upstreamTokens(m_grantId);
    return tokens ? tokens.value().accessToken : QByteArray();
}

int tst_ClusterRefresh::sweep(const QList<Broker *> &brokers)
{
    std::vector<std::unique_ptr<QSignalSpy>> spies;
    for (Broker *broker : brokers) {
        spies.push_back(std::make_unique<QSignalSpy>(broker->rotator.get(), &TokenRotator::swept));
        (void)broker->rotator->sweep(); // the source reads the store first
    }
    int started = 0;
    for (const std::unique_ptr<QSignalSpy> &spy : spies) {
        if (spy->isEmpty() && !spy->wait(5000))
            return -1;
        started += spy->first().first().toInt();
    }
    return started;
}

void tst_ClusterRefresh::concurrentSweepsRefreshOnce()
{
    // Several rotations in a row: each one reaches Forgejo exactly once, and
    // both brokers' children end up on the new token.
    for (int rotation = 1; rotation <= 3; ++rotation) {
        makeDue();
        const int before = forgejoRefreshes();
        const QByteArray old = storedAccessToken(*m_a);
        QSignalSpy refreshedA(m_a->rotator.get(), &TokenRotator::grantRefreshed);
        QSignalSpy refreshedB(m_b->rotator.get(), &TokenRotator::grantRefreshed);
        QSignalSpy failedA(m_a->rotator.get(), &TokenRotator::grantFailed);
        QSignalSpy failedB(m_b->rotator.get(), &TokenRotator::grantFailed);
        // Both timers fire together: both see the token due.
        const int started = sweep({m_a.get(), m_b.get()});
        QVERIFY(started >= 1);
        QTRY_VERIFY(!m_a->rotator->isRefreshing(m_grantId) && !m_b->rotator->isRefreshing(m_grantId));
        QTRY_COMPARE(refreshedA.count() + refreshedB.count(), 1);
        QCOMPARE(failedA.count() + failedB.count(), 0);
        QCOMPARE(forgejoRefreshes(), before + 1);
        const QByteArray fresh = storedAccessToken(*m_a);
        QVERIFY(!fresh.isEmpty() && fresh != old);
        QCOMPARE(storedAccessToken(*m_b), fresh);
        // Both brokers' sessions respawned onto the new token, once each.
        QTRY_COMPARE(m_a->spawnedWith.size(), 1 + rotation);
        QTRY_COMPARE(m_b->spawnedWith.size(), 1 + rotation);
        QCOMPARE(m_a->spawnedWith.last(), fresh);
        QCOMPARE(m_b->spawnedWith.last(), fresh);
        QCOMPARE(m_a->registry->sessions().size(), 1);
        QCOMPARE(m_b->registry->sessions().size(), 1);
    }
}

void tst_ClusterRefresh::lateTimerAdoptsInsteadOfRefreshing()
{
    makeDue();
    // B looked at the expiry before A refreshed (its timer fired late).
    QSignalSpy refreshedA(m_a->rotator.get(), &TokenRotator::grantRefreshed);
    QCOMPARE(sweep({m_a.get()}), 1);
    QTRY_COMPARE(refreshedA.count(), 1);
    const int after = forgejoRefreshes();
    const QByteArray fresh = storedAccessToken(*m_a);

    QSignalSpy refreshedB(m_b->rotator.get(), &TokenRotator::grantRefreshed);
    QSignalSpy failedB(m_b->rotator.get(), &TokenRotator::grantFailed);
    QVERIFY(m_b->rotator->refreshGrant(m_grantId));
    QTRY_VERIFY(!m_b->rotator->isRefreshing(m_grantId));
    QCOMPARE(refreshedB.count(), 0);
    QCOMPARE(failedB.count(), 0);
    QCOMPARE(forgejoRefreshes(), after);
    QCOMPARE(storedAccessToken(*m_b), fresh);
    // B's session moved to A's token once (announcement or adoption, not both).
    QTRY_COMPARE(m_b->spawnedWith.size(), 2);
    QCOMPARE(m_b->spawnedWith.last(), fresh);
}

void tst_ClusterRefresh::sweepAdoptsWithoutTheAnnouncement()
{
    // B missed the NOTIFY (connection hiccup): its next sweep still moves
    // its session to the tokens A stored.
    m_b->store->setUpstreamTokensListener({});
    makeDue();
    QSignalSpy refreshedA(m_a->rotator.get(), &TokenRotator::grantRefreshed);
    QCOMPARE(sweep({m_a.get()}), 1);
    QTRY_COMPARE(refreshedA.count(), 1);
    const int after = forgejoRefreshes();
    QCOMPARE(m_b->spawnedWith.size(), 1);

    QSignalSpy adoptedB(m_b->rotator.get(), &TokenRotator::tokensAdopted);
    QCOMPARE(sweep({m_b.get()}), 0);
    QCOMPARE(adoptedB.count(), 1);
    QCOMPARE(forgejoRefreshes(), after);
    QTRY_COMPARE(m_b->spawnedWith.size(), 2);
    QCOMPARE(m_b->spawnedWith.last(), storedAccessToken(*m_a));
}

void tst_ClusterRefresh::addSecondGrant(QString *grantId, UpstreamTokens *due)
{
    // Alice signed in with a second client: two grants, one Forgejo pair.
    ClientRecord client;
    client.clientId = QStringLiteral("second-client");
    client.redirectUris = {QStringLiteral("http://127.0.0.1/cb2")};
    QVERIFY(m_a->store->registerClient(client).ok());
    Result<UpstreamTokens> tokens = m_a->store->upstreamTokens(m_grantId);
    QVERIFY(tokens.ok());
    GrantRecord grant;
    grant.userLogin = QStringLiteral("alice");
    grant.userId = 1;
    grant.clientId = client.clientId;
    grant.scope = QStringLiteral("forgejo");
    Result<GrantRecord> created = m_a->store->createGrant(grant, tokens.value());
    QVERIFY(created.ok());
    *due = tokens.value();
    due->accessExpiresAt = QDateTime::currentDateTimeUtc().addSecs(60);
    QVERIFY(m_a->store->saveUpstreamTokens(m_grantId, *due).ok());
    QVERIFY(m_a->store->saveUpstreamTokens(created.value().grantId, *due).ok());
    *grantId = created.value().grantId;
}

void tst_ClusterRefresh::oneBrokerRefreshesAUserOnce()
{
    // One broker, two grants of one user, both due, and the rotator not yet
    // knowing they share tokens (the second has no session it has loaded):
    // the second refresh must not spend the refresh token the first is
    // spending (Forgejo would refuse it, and both grants would be revoked).
    // The store's lock does not help here: PostgreSQL's is re-entrant on
    // one connection.
    QString second;
    UpstreamTokens due;
    addSecondGrant(&second, &due);
    QVERIFY(!second.isEmpty());
    const int before = forgejoRefreshes();
    QSignalSpy refreshed(m_a->rotator.get(), &TokenRotator::grantRefreshed);
    QSignalSpy failed(m_a->rotator.get(), &TokenRotator::grantFailed);
    QVERIFY(m_a->rotator->refreshGrant(m_grantId));
    QVERIFY(m_a->rotator->refreshGrant(second));
    QTRY_VERIFY(!m_a->rotator->isRefreshing(m_grantId) && !m_a->rotator->isRefreshing(second));
    QTRY_COMPARE(refreshed.count(), 1);
    QCOMPARE(failed.count(), 0);
    QCOMPARE(forgejoRefreshes(), before + 1);
    const QByteArray fresh = storedAccessToken(*m_a);
    QVERIFY(fresh != due.accessToken);
    QCOMPARE(m_a->store->upstreamTokens(second).value().accessToken, fresh);
    QVERIFY(!m_a->store->findGrant(m_grantId).value().revoked.isValid());
    QVERIFY(!m_a->store->findGrant(second).value().revoked.isValid());
}

void tst_ClusterRefresh::failedSiblingSaveHealsWithoutALogout()
{
    QString second;
    UpstreamTokens due;
    addSecondGrant(&second, &due);
    QVERIFY(!second.isEmpty());

    // The database refuses the second grant's save once, right after
    // Forgejo spent the old refresh token.
    const auto sql = [this](const QString &statement) {
        const QString name = QStringLiteral("tst.clusterrefresh.sql");
        bool ok = false;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
            m_params.applyTo(db);
            QSqlQuery query(db);
            ok = db.open() && query.exec(statement);
            if (!ok)
                qWarning("%s: %s", qPrintable(statement), qPrintable(query.lastError().text()));
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
        return ok;
    };
    QVERIFY(sql(QStringLiteral("CREATE FUNCTION refuse_save() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                               "RAISE EXCEPTION 'save refused' USING ERRCODE = '08006'; END $$")));
    QVERIFY(sql(QStringLiteral("CREATE TRIGGER refuse_save BEFORE UPDATE ON grants FOR EACH ROW WHEN "
                               "(OLD.grant_id = '%1') EXECUTE FUNCTION refuse_save()")
                    .arg(second)));
    const int before = forgejoRefreshes();
    QSignalSpy refreshed(m_a->rotator.get(), &TokenRotator::grantRefreshed);
    QSignalSpy failed(m_a->rotator.get(), &TokenRotator::grantFailed);
    QVERIFY(m_a->rotator->refreshGrant(m_grantId));
    QTRY_VERIFY(!m_a->rotator->isRefreshing(m_grantId));
    // Forgejo refreshed, the first grant holds the new pair: a refresh, not a failure.
    QCOMPARE(forgejoRefreshes(), before + 1);
    QCOMPARE(refreshed.count(), 1);
    QCOMPARE(failed.count(), 0);
    const QByteArray fresh = storedAccessToken(*m_a);
    QVERIFY(fresh != due.accessToken);
    QCOMPARE(m_a->store->upstreamTokens(second).value().accessToken, due.accessToken);

    // The database is well again. The second grant is due with the spent
    // refresh token: it takes over the first grant's pair instead of
    // spending the dead token at Forgejo (which would revoke both grants).
    QVERIFY(sql(QStringLiteral("DROP TRIGGER refuse_save ON grants")));
    QVERIFY(m_a->rotator->refreshGrant(second));
    QTRY_VERIFY(!m_a->rotator->isRefreshing(second));
    QCOMPARE(failed.count(), 0);
    const QJsonObject stats = m_forgejo->stats(&m_network);
    QCOMPARE(stats.value(QStringLiteral("refresh_failures")).toInt() +
                 stats.value(QStringLiteral("refreshes")).toInt(),
             before + 1);
    QCOMPARE(m_a->store->upstreamTokens(second).value().accessToken, fresh);
    QVERIFY(m_a->store->findGrant(m_grantId).ok());
    QVERIFY(!m_a->store->findGrant(m_grantId).value().revoked.isValid());
    QCOMPARE(m_a->registry->sessions().size(), 1);
}

QTEST_GUILESS_MAIN(tst_ClusterRefresh)
#include "tst_clusterrefresh.moc"
