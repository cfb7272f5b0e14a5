// Issue 14: the bearer cache of the PostgreSQL store against a throwaway
// PostgreSQL cluster. A cached access token costs no database round trip,
// a revocation on one broker's store evicts it from another's (NOTIFY), and
// when PostgreSQL goes away cached tokens keep working for the outage
// grace, anything else is Unavailable, and the store reconnects by itself
// once PostgreSQL is back.
#include <chrono>
#include <memory>

#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include "PgCluster.h"
#include "store/BearerCache.h"
#include "store/PostgresTokenStore.h"

using namespace std::chrono_literals;
using fmb::BearerCacheLimits;
using fmb::BearerRevocation;
using fmb::ErrorCode;
using fmb::PostgresTokenStore;
using fmb::Result;
using fmb::TokenHash;

namespace {

const QString Resource = QStringLiteral("https://mcp.example.org/mcp");

bool isRefused(const Result<fmb::TokenRecord> &found)
{
    return !found.ok() && found.error().code == ErrorCode::Unauthorized;
}

// A broker's store with a cache clock the test moves.
struct Broker {
    std::unique_ptr<PostgresTokenStore> store = std::make_unique<PostgresTokenStore>();
    std::chrono::milliseconds clock{1000000};
};

} // namespace

class tst_BearerCache : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void revocationRoundTrip_data();
    void revocationRoundTrip();
    void cacheCap();
    void cachedTokenCostsNoQuery();
    void revocationReachesOtherBroker_data();
    void revocationReachesOtherBroker();
    void outageKeepsCachedTokens();
    void issuedTokenIsCachedAtOnce();
    void tokenInUseIsRevalidatedAhead();

private:
    [[nodiscard]] std::unique_ptr<Broker> makeBroker(BearerCacheLimits limits);
    // A client, a grant of alice, a token pair; returns the access token.
    [[nodiscard]] QByteArray issue(PostgresTokenStore &store, const QString &user = QStringLiteral("alice"));
    // Runs `sql` on a connection of its own (not a broker's: no NOTIFY).
    void sqlBehindTheCachesBack(const QString &sql);

    QString m_unavailable;
    std::unique_ptr<fmbtest::PgCluster> m_cluster;
    fmb::PostgresParams m_params;
    QTemporaryDir m_dir;
    std::unique_ptr<Broker> m_a;
    std::unique_ptr<Broker> m_b;
    int m_clients = 0;
};

void tst_BearerCache::initTestCase()
{
    m_unavailable = fmbtest::PgCluster::unavailableReason();
    if (!m_unavailable.isEmpty())
        return;
    m_cluster = std::make_unique<fmbtest::PgCluster>();
    const Result<void> started = m_cluster->start();
    QVERIFY2(started.ok(), started.ok() ? "" : qPrintable(started.error().message));
}

void tst_BearerCache::init()
{
    if (QByteArray(QTest::currentTestFunction()).startsWith("revocationRoundTrip") ||
        QByteArray(QTest::currentTestFunction()) == "cacheCap")
        return;
    if (!m_unavailable.isEmpty())
        QSKIP(qPrintable(QStringLiteral("no PostgreSQL cluster: ") + m_unavailable));
    if (!m_cluster->isRunning()) {
        const Result<void> restarted = m_cluster->startServer();
        QVERIFY(restarted.ok());
    }
    const Result<fmb::PostgresParams> database = m_cluster->createDatabase();
    QVERIFY(database.ok());
    m_params = database.value();
}

void tst_BearerCache::cleanup()
{
    m_a.reset();
    m_b.reset();
}

std::unique_ptr<Broker> tst_BearerCache::makeBroker(BearerCacheLimits limits)
{
    auto broker = std::make_unique<Broker>();
    const Result<void> opened = broker->store->open(m_params, m_dir.filePath(QStringLiteral("upstream.key")));
    if (!opened.ok()) {
        qWarning("cannot open the store: %s", qPrintable(opened.error().message));
        return nullptr;
    }
    broker->store->setBearerCacheLimits(limits);
    Broker *raw = broker.get();
    broker->store->bearerCache().setClock([raw] { return raw->clock; });
    return broker;
}

QByteArray tst_BearerCache::issue(PostgresTokenStore &store, const QString &user)
{
    fmb::ClientRecord client;
    client.clientId = QStringLiteral("client-%1").arg(++m_clients);
    client.redirectUris = {QStringLiteral("http://127.0.0.1/cb")};
    if (!store.registerClient(client).ok())
        return {};
    fmb::GrantRecord grant;
    grant.userLogin = user;
    grant.userId = 7;
    grant.clientId = client.clientId;
    grant.scope = QStringLiteral("forgejo");
    fmb::UpstreamTokens upstream;
    upstream.accessToken = "upstream-access";
    upstream.refreshToken = "upstream-refresh";
    upstream.accessExpiresAt = QDateTime::currentDateTimeUtc().addSecs(3600);
    const Result<fmb::GrantRecord> created = store.createGrant(grant, upstream);
    if (!created.ok())
        return {};
    fmb::TokenRequest request;
    request.resource = Resource;
    request.accessExpiresAt = QDateTime::currentDateTimeUtc().addSecs(3600);
    request.refreshExpiresAt = QDateTime::currentDateTimeUtc().addSecs(86400);
    const Result<fmb::IssuedTokens> issued = store.issueTokenPair(created.value().grantId, request);
    return issued.ok() ? issued.value().accessToken : QByteArray();
}

void tst_BearerCache::sqlBehindTheCachesBack(const QString &sql)
{
    const QString name = QStringLiteral("behind-the-back");
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        m_params.applyTo(db);
        QVERIFY(db.open());
        QSqlQuery query(db);
        QVERIFY2(query.exec(sql), qPrintable(query.lastError().text()));
    }
    QSqlDatabase::removeDatabase(name);
}

void tst_BearerCache::revocationRoundTrip_data()
{
    QTest::addColumn<int>("kind");
    QTest::addColumn<QString>("key");
    QTest::newRow("token") << int(BearerRevocation::Kind::Token)
                           << QString::fromLatin1(TokenHash::of("t").hex());
    QTest::newRow("family") << int(BearerRevocation::Kind::Family) << QStringLiteral("0123abcd");
    QTest::newRow("grant") << int(BearerRevocation::Kind::Grant) << QStringLiteral("g1");
    QTest::newRow("user with colon") << int(BearerRevocation::Kind::User) << QStringLiteral("a:b");
    QTest::newRow("client") << int(BearerRevocation::Kind::Client) << QStringLiteral("c1");
}

void tst_BearerCache::revocationRoundTrip()
{
    QFETCH(int, kind);
    QFETCH(QString, key);
    const BearerRevocation sent{BearerRevocation::Kind(kind), key};
    const std::optional<BearerRevocation> heard = BearerRevocation::decode(sent.encode());
    QVERIFY(heard.has_value());
    QCOMPARE(int(heard->kind), kind);
    QCOMPARE(heard->key, key);
    QVERIFY(!BearerRevocation::decode(QStringLiteral("nonsense")).has_value());
    QVERIFY(!BearerRevocation::decode(QStringLiteral("grant:")).has_value());
    QVERIFY(!BearerRevocation::decode(QStringLiteral("other:x")).has_value());
}

void tst_BearerCache::cacheCap()
{
    // Full: the entry confirmed longest ago makes room.
    std::chrono::milliseconds clock{0};
    fmb::BearerCache cache(BearerCacheLimits{5s, 60s, 2});
    cache.setClock([&clock] { return clock; });
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (const char *token : {"one", "two", "three"}) {
        fmb::TokenRecord record;
        record.hash = TokenHash::of(token);
        record.expiresAt = now.addSecs(60);
        cache.confirm(record);
        clock += 1ms;
    }
    QCOMPARE(cache.size(), 2);
    QVERIFY(!cache.fresh(TokenHash::of("one"), now).has_value());
    QVERIFY(cache.fresh(TokenHash::of("three"), now).has_value());
    // Never past the token's own expiry, outage or not.
    QVERIFY(!cache.duringOutage(TokenHash::of("three"), now.addSecs(61)).has_value());
}

void tst_BearerCache::cachedTokenCostsNoQuery()
{
    m_a = makeBroker(BearerCacheLimits{5s, 60s, 100});
    QVERIFY(m_a);
    const QByteArray token = issue(*m_a->store);
    QVERIFY(!token.isEmpty());
    const TokenHash hash = TokenHash::of(token);
    QVERIFY(m_a->store->findAccessToken(hash).ok());

    // Revoked in the database behind the broker's back (no NOTIFY): only a
    // query could notice, and within the TTL none is made.
    sqlBehindTheCachesBack(QStringLiteral("UPDATE tokens SET revoked = 1 WHERE token_hash = '%1'")
                               .arg(QString::fromLatin1(hash.hex())));
    m_a->clock += 4900ms;
    const Result<fmb::TokenRecord> cached = m_a->store->findAccessToken(hash);
    QVERIFY(cached.ok());
    QCOMPARE(cached.value().userLogin, QStringLiteral("alice"));

    // Past the TTL the database is asked again: the bound when a NOTIFY is lost.
    m_a->clock += 200ms;
    const Result<fmb::TokenRecord> asked = m_a->store->findAccessToken(hash);
    QVERIFY(!asked.ok());
    QCOMPARE(asked.error().code, ErrorCode::Unauthorized);
}

void tst_BearerCache::revocationReachesOtherBroker_data()
{
    QTest::addColumn<QString>("how");
    QTest::newRow("RFC 7009 access token") << QStringLiteral("token");
    QTest::newRow("grant") << QStringLiteral("grant");
    QTest::newRow("user") << QStringLiteral("user");
}

void tst_BearerCache::revocationReachesOtherBroker()
{
    QFETCH(QString, how);
    // A TTL far beyond the test: only the NOTIFY can evict in time.
    m_a = makeBroker(BearerCacheLimits{1h, 1h, 100});
    m_b = makeBroker(BearerCacheLimits{1h, 1h, 100});
    QVERIFY(m_a && m_b);
    const QByteArray token = issue(*m_a->store);
    const QByteArray bystander = issue(*m_a->store, QStringLiteral("bob"));
    const TokenHash hash = TokenHash::of(token);
    const Result<fmb::TokenRecord> seen = m_b->store->findAccessToken(hash);
    QVERIFY(seen.ok());
    QVERIFY(m_b->store->findAccessToken(TokenHash::of(bystander)).ok());
    QCOMPARE(m_b->store->bearerCache().size(), 2);

    if (how == QLatin1String("token"))
        QVERIFY(m_a->store->revokeToken(hash, seen.value().clientId).ok());
    else if (how == QLatin1String("grant"))
        QVERIFY(m_a->store->revokeGrant(seen.value().grantId).ok());
    else
        QVERIFY(m_a->store->revokeUser(QStringLiteral("alice")).ok());
    // The revoking broker evicted at once.
    QCOMPARE(m_a->store->findAccessToken(hash).error().code, ErrorCode::Unauthorized);
    // The other hears the NOTIFY while its event loop runs.
    QTRY_COMPARE(m_b->store->bearerCache().size(), 1);
    QCOMPARE(m_b->store->findAccessToken(hash).error().code, ErrorCode::Unauthorized);
    QVERIFY(m_b->store->findAccessToken(TokenHash::of(bystander)).ok());
}

void tst_BearerCache::outageKeepsCachedTokens()
{
    m_a = makeBroker(BearerCacheLimits{5s, 60s, 100});
    m_b = makeBroker(BearerCacheLimits{1h, 1h, 100});
    QVERIFY(m_a && m_b);
    const QByteArray token = issue(*m_a->store);
    const QByteArray unseen = issue(*m_b->store); // A never saw it
    const TokenHash hash = TokenHash::of(token);
    QVERIFY(m_a->store->findAccessToken(hash).ok());
    QVERIFY(m_b->store->findAccessToken(hash).ok());

    m_cluster->stopServer();
    // Past the TTL: the store asks, finds the database gone, and accepts the
    // token it confirmed within the outage grace.
    m_a->clock += 10s;
    QVERIFY(m_a->store->findAccessToken(hash).ok());
    QVERIFY(m_a->store->isConnectionDown());
    // A token never seen, and anything else, is Unavailable: not a refusal.
    const Result<fmb::TokenRecord> unknown = m_a->store->findAccessToken(TokenHash::of(unseen));
    QVERIFY(!unknown.ok());
    QCOMPARE(unknown.error().code, ErrorCode::Unavailable);
    QCOMPARE(m_a->store->pendingClients().error().code, ErrorCode::Unavailable);
    // Past the grace the cached token goes too.
    m_a->clock += 60s;
    QCOMPARE(m_a->store->findAccessToken(hash).error().code, ErrorCode::Unavailable);

    // PostgreSQL comes back: both stores reconnect by themselves (after at
    // most the backoff) and LISTEN again.
    const Result<void> restarted = m_cluster->startServer();
    QVERIFY(restarted.ok());
    QTRY_VERIFY_WITH_TIMEOUT(m_a->store->findAccessToken(TokenHash::of(unseen)).ok(), 10000);
    QVERIFY(!m_a->store->isConnectionDown());
    QVERIFY(m_a->store->findAccessToken(hash).ok());
    QTRY_VERIFY_WITH_TIMEOUT(m_b->store->pendingClients().ok(), 10000);
    const Result<fmb::TokenRecord> seen = m_b->store->findAccessToken(hash);
    QVERIFY(seen.ok());
    QVERIFY(m_a->store->revokeToken(hash, seen.value().clientId).ok());
    QTRY_VERIFY(isRefused(m_b->store->findAccessToken(hash)));
}

void tst_BearerCache::issuedTokenIsCachedAtOnce()
{
    // A new pair's access token is live once committed: its first bearer
    // check needs no statement. In the daemon the pair is issued on the
    // store thread's connection; the bearer guard's own connection may still
    // be waiting to reconnect after an outage (issue 14).
    m_a = makeBroker(BearerCacheLimits{5s, 60s, 100});
    QVERIFY(m_a);
    const QByteArray token = issue(*m_a->store);
    QVERIFY(!token.isEmpty());
    m_cluster->stopServer();
    const Result<fmb::TokenRecord> first = m_a->store->findAccessToken(TokenHash::of(token));
    QVERIFY(first.ok());
    QCOMPARE(first.value().userLogin, QStringLiteral("alice"));
    QVERIFY(!m_a->store->isConnectionDown()); // answered without a statement
    const Result<void> restarted = m_cluster->startServer();
    QVERIFY(restarted.ok());
}

void tst_BearerCache::tokenInUseIsRevalidatedAhead()
{
    // Half-way to the TTL a check answered from memory asks for the token
    // to be confirmed again (in the daemon: on the store thread), once per
    // confirmation. A confirmation keeps a token in use out of the HTTP
    // thread's statements; a revocation it finds evicts at once.
    m_a = makeBroker(BearerCacheLimits{5s, 60s, 100});
    QVERIFY(m_a);
    QList<QByteArray> asked;
    m_a->store->setRevalidator([&asked](const TokenHash &hash) { asked.append(hash.hex()); });
    const QByteArray token = issue(*m_a->store);
    QVERIFY(!token.isEmpty());
    const TokenHash hash = TokenHash::of(token);
    QVERIFY(m_a->store->findAccessToken(hash).ok());
    QVERIFY(asked.isEmpty()); // fresh
    m_a->clock += 2600ms;
    QVERIFY(m_a->store->findAccessToken(hash).ok());
    QVERIFY(m_a->store->findAccessToken(hash).ok());
    QCOMPARE(asked, QList<QByteArray>{hash.hex()}); // once, not per check

    // The database confirms it: fresh for another TTL. Revoked behind the
    // cache's back afterwards, it is still answered from memory 4.9 s on,
    // so the check made no statement.
    m_a->store->revalidateAccessToken(hash);
    sqlBehindTheCachesBack(QStringLiteral("UPDATE tokens SET revoked = 1 WHERE token_hash = '%1'")
                               .arg(QString::fromLatin1(hash.hex())));
    m_a->clock += 4900ms;
    QVERIFY(m_a->store->findAccessToken(hash).ok());
    QCOMPARE(asked.size(), 2);

    // The next revalidation finds the revocation and evicts: refused at once.
    m_a->store->revalidateAccessToken(hash);
    QVERIFY(isRefused(m_a->store->findAccessToken(hash)));
}

QTEST_GUILESS_MAIN(tst_BearerCache)
#include "tst_bearercache.moc"
