// forgejo-mcp-brokerctl migrate-store (issue 14) run as a process: a real
// SQLite store filled through the TokenStore API is copied into a real
// PostgreSQL cluster (skipped where PostgreSQL is missing), where the
// PostgreSQL TokenStore then accepts the same bearer and refresh token and
// decrypts the same Forgejo token. Also: a target that holds data is refused
// (and --force replaces it), a running broker's database is refused, the
// source is left byte for byte as it was, and bad URLs are usage errors.
#include <memory>

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include "CtlRun.h"
#include "PgCluster.h"
#include "store/PostgresSchema.h"
#include "store/PostgresTokenStore.h"
#include "store/SqliteTokenStore.h"

using namespace fmb;
using fmbtest::Ctl;
using fmbtest::CtlRun;
using fmbtest::runCtl;

namespace {

const QString ClientId = QStringLiteral("4f1c2b7e-dynamic-client");
const QString Resource = QStringLiteral("https://broker.example/mcp");
const QString Scope = QStringLiteral("read:repository write:issue");

QByteArray describe(const CtlRun &run)
{
    return "exit " + QByteArray::number(run.exitCode) + "\nstdout: " + run.out + "\nstderr: " + run.err;
}

template <typename T>
QByteArray describe(const Result<T> &result)
{
    return result.ok() ? QByteArray("ok") : result.error().message.toUtf8();
}

#define VERIFY_OK(expr)                                                                                      \
    do {                                                                                                     \
        const auto &result_ = (expr);                                                                        \
        QVERIFY2(result_.ok(), describe(result_).constData());                                               \
    } while (false)

// Every file of a directory, name and bytes.
QByteArray dirBytes(const QString &dir)
{
    QByteArray all;
    const QStringList names = QDir(dir).entryList(QDir::Files | QDir::Hidden, QDir::Name);
    for (const QString &name : names) {
        QFile file(QDir(dir).filePath(name));
        all += name.toUtf8() + '\0';
        if (file.open(QIODevice::ReadOnly))
            all += file.readAll();
    }
    return all;
}

qint64 countRows(const PostgresParams &params, const QString &table)
{
    const QString name = QStringLiteral("tst.migrate.count");
    qint64 rows = -1;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        params.applyTo(db);
        if (db.open()) {
            QSqlQuery query(db);
            if (query.exec(QStringLiteral("SELECT count(*) FROM %1").arg(table)) && query.next())
                rows = query.value(0).toLongLong();
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    return rows;
}

// What the single broker handed out: alice's bearer, refresh token and code.
struct Seed {
    QString grantId;
    UpstreamTokens upstream;
    IssuedTokens tokens;
    QByteArray code;
};

} // namespace

class tst_MigrateStore : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void badArguments_data();
    void badArguments();
    void missingSource();
    void migratesEverySignIn();
    void migratesARevokedUser();
    void refusesNonEmptyTarget();
    void refusesRunningBroker();
    void failureMidwayExitsOne_data();
    void failureMidwayExitsOne();

private:
    [[nodiscard]] QString sourceUrl() const
    {
        return QStringLiteral("sqlite:") +
               QDir(m_state->path()).filePath(SqliteTokenStore::databaseFileName());
    }
    void needCluster();
    void fillSource(Seed &seed);

    std::unique_ptr<fmbtest::PgCluster> m_cluster;
    QString m_clusterError;
    std::unique_ptr<QTemporaryDir> m_state;
    PostgresParams m_pg;
};

void tst_MigrateStore::initTestCase()
{
    QVERIFY2(QFile::exists(Ctl), qPrintable(Ctl));
    m_clusterError = fmbtest::PgCluster::unavailableReason();
    if (!m_clusterError.isEmpty())
        return;
    m_cluster = std::make_unique<fmbtest::PgCluster>();
    if (Result<void> r = m_cluster->start(); !r.ok())
        QFAIL(qPrintable(r.error().message));
}

void tst_MigrateStore::cleanupTestCase()
{
    m_cluster.reset();
}

void tst_MigrateStore::init()
{
    m_state = std::make_unique<QTemporaryDir>();
    QVERIFY(m_state->isValid());
}

void tst_MigrateStore::needCluster()
{
    if (!m_cluster)
        QSKIP(qPrintable(QStringLiteral("no PostgreSQL cluster: ") + m_clusterError));
    Result<PostgresParams> database = m_cluster->createDatabase();
    VERIFY_OK(database);
    m_pg = database.value();
}

void tst_MigrateStore::fillSource(Seed &seed)
{
    SqliteTokenStore store;
    VERIFY_OK(store.open(m_state->path()));
    ClientRecord client;
    client.clientId = ClientId;
    client.clientName = QStringLiteral("Claude");
    client.redirectUris = {QStringLiteral("http://127.0.0.1:33418/callback")};
    VERIFY_OK(store.registerClient(client));

    const QDateTime now = QDateTime::currentDateTimeUtc();
    GrantRecord grant;
    grant.userLogin = QStringLiteral("alice");
    grant.userId = 42;
    grant.clientId = ClientId;
    grant.scope = Scope;
    seed.upstream.accessToken = "forgejo-access-token-of-alice";
    seed.upstream.refreshToken = "forgejo-refresh-token-of-alice";
    seed.upstream.accessExpiresAt = now.addSecs(3600);
    Result<GrantRecord> created = store.createGrant(grant, seed.upstream);
    VERIFY_OK(created);
    seed.grantId = created.value().grantId;
    VERIFY_OK(store.recordConsent(42, ClientId, Scope));

    TokenRequest request;
    request.resource = Resource;
    request.accessExpiresAt = now.addSecs(3600);
    request.refreshExpiresAt = now.addDays(30);
    Result<IssuedTokens> tokens = store.issueTokenPair(seed.grantId, request);
    VERIFY_OK(tokens);
    seed.tokens = tokens.value();

    AuthCodeRequest code;
    code.grantId = seed.grantId;
    code.clientId = ClientId;
    code.redirectUri = client.redirectUris.first();
    code.codeChallenge = QStringLiteral("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    code.resource = Resource;
    code.scope = Scope;
    code.expiresAt = now.addSecs(60);
    Result<QByteArray> issued = store.createAuthCode(code);
    VERIFY_OK(issued);
    seed.code = issued.value();

    // A pair that expired an hour ago: left behind.
    store.setClock([now] { return now.addSecs(-7200); });
    TokenRequest old = request;
    old.accessExpiresAt = now.addSecs(-3600);
    old.refreshExpiresAt = now.addSecs(-3600);
    VERIFY_OK(store.issueTokenPair(seed.grantId, old));
    store.close();
}

void tst_MigrateStore::badArguments_data()
{
    QTest::addColumn<QStringList>("arguments");
    QTest::addColumn<QString>("message");
    const QString pg = QStringLiteral("postgresql://fmb@db.example.org:5432/fmb");
    const QString lite = QStringLiteral("sqlite:/var/lib/forgejo-mcp-broker/broker.sqlite3");
    const QString mig = QStringLiteral("migrate-store");
    QTest::newRow("no --to") << QStringList{mig, QStringLiteral("--from"), lite}
                             << QStringLiteral("needs --from");
    QTest::newRow("from postgresql") << QStringList{mig, QStringLiteral("--from"), pg, QStringLiteral("--to"),
                                                    pg}
                                     << QStringLiteral("--from must be sqlite:PATH");
    QTest::newRow("to sqlite") << QStringList{mig, QStringLiteral("--from"), lite, QStringLiteral("--to"),
                                              lite}
                               << QStringLiteral("--to must be postgresql://");
    QTest::newRow("relative sqlite") << QStringList{mig, QStringLiteral("--from"),
                                                    QStringLiteral("sqlite:broker.sqlite3"),
                                                    QStringLiteral("--to"), pg}
                                     << QStringLiteral("absolute path");
    QTest::newRow("not a url") << QStringList{mig, QStringLiteral("--from"), lite, QStringLiteral("--to"),
                                              QStringLiteral("mysql://db/fmb")}
                               << QStringLiteral("neither sqlite:PATH nor postgresql://");
    QTest::newRow("no database") << QStringList{mig, QStringLiteral("--from"), lite, QStringLiteral("--to"),
                                                QStringLiteral("postgresql://fmb@db.example.org:5432/")}
                                 << QStringLiteral("names no database");
    QTest::newRow("password in url") << QStringList{mig, QStringLiteral("--from"), lite,
                                                    QStringLiteral("--to"),
                                                    QStringLiteral(
                                                        "postgresql://fmb:hunter2secret@db.example.org/fmb")}
                                     << QStringLiteral("--to-password-file");
    QTest::newRow("extra argument") << QStringList{mig,  QStringLiteral("now"),  QStringLiteral("--from"),
                                                   lite, QStringLiteral("--to"), pg}
                                    << QStringLiteral("takes --from");
    QTest::newRow("--force elsewhere") << QStringList{QStringLiteral("list"), QStringLiteral("--force")}
                                       << QStringLiteral("belong to migrate-store");
}

void tst_MigrateStore::badArguments()
{
    QFETCH(QStringList, arguments);
    QFETCH(QString, message);
    const CtlRun run = runCtl(arguments);
    QVERIFY2(run.exitCode == 2, describe(run).constData());
    QVERIFY2(run.err.contains(message.toUtf8()), describe(run).constData());
    QVERIFY2(!run.err.contains("hunter2secret"), describe(run).constData());
    QVERIFY(run.out.isEmpty());
}

void tst_MigrateStore::missingSource()
{
    // Fails on the source before the target is ever reached.
    const CtlRun run =
        runCtl({QStringLiteral("migrate-store"), QStringLiteral("--from"), sourceUrl(),
                QStringLiteral("--to"), QStringLiteral("postgresql://fmb@/fmb?host=") + m_state->path()});
    QVERIFY2(run.exitCode == 3, describe(run).constData());
    QVERIFY2(run.err.contains("no such database file"), describe(run).constData());
    QVERIFY2(QDir(m_state->path()).isEmpty(), "the missing source must not be created");
}

void tst_MigrateStore::migratesEverySignIn()
{
    needCluster();
    Seed seed;
    fillSource(seed);
    if (QTest::currentTestFailed())
        return;
    const QByteArray before = dirBytes(m_state->path());

    const CtlRun run =
        runCtl({QStringLiteral("migrate-store"), QStringLiteral("--from"), sourceUrl(),
                QStringLiteral("--to"), m_cluster->url(m_pg.database), QStringLiteral("--json")});
    QVERIFY2(run.exitCode == 0, describe(run).constData());
    const QJsonObject counts = QJsonDocument::fromJson(run.out).object();
    QCOMPARE(counts.value(QLatin1String("clients")).toInt(), 1);
    QCOMPARE(counts.value(QLatin1String("consents")).toInt(), 1);
    QCOMPARE(counts.value(QLatin1String("grants")).toInt(), 1);
    QCOMPARE(counts.value(QLatin1String("upstream_tokens")).toInt(), 1);
    QCOMPARE(counts.value(QLatin1String("access_tokens")).toInt(), 1);
    QCOMPARE(counts.value(QLatin1String("refresh_tokens")).toInt(), 1);
    QCOMPARE(counts.value(QLatin1String("authorization_codes")).toInt(), 1);
    QCOMPARE(counts.value(QLatin1String("expired_tokens")).toInt(), 2);
    QVERIFY2(!run.out.contains(seed.upstream.accessToken) && !run.err.contains(seed.upstream.accessToken),
             describe(run).constData());
    QCOMPARE(dirBytes(m_state->path()), before); // read-only: not a byte changed, no file added

    // The cluster's store, with the single broker's key file.
    PostgresTokenStore cluster;
    VERIFY_OK(cluster.open(m_pg, QDir(m_state->path()).filePath(SqliteTokenStore::keyFileName()), false));
    Result<TokenRecord> bearer = cluster.findAccessToken(TokenHash::of(seed.tokens.accessToken));
    VERIFY_OK(bearer);
    QCOMPARE(bearer.value().userLogin, QStringLiteral("alice"));
    QCOMPARE(bearer.value().grantId, seed.grantId);
    QCOMPARE(bearer.value().resource, Resource);
    Result<UpstreamTokens> upstream = cluster.upstreamTokens(seed.grantId);
    VERIFY_OK(upstream);
    QCOMPARE(upstream.value().accessToken, seed.upstream.accessToken);
    QCOMPARE(upstream.value().refreshToken, seed.upstream.refreshToken);
    QVERIFY(cluster.hasConsent(42, ClientId, Scope).value());
    VERIFY_OK(cluster.findClient(ClientId));
    Result<AuthCodeRecord> code = cluster.consumeAuthCode(TokenHash::of(seed.code));
    VERIFY_OK(code);
    QCOMPARE(code.value().grantId, seed.grantId);
    TokenRequest next;
    next.accessExpiresAt = QDateTime::currentDateTimeUtc().addSecs(3600);
    next.refreshExpiresAt = QDateTime::currentDateTimeUtc().addDays(30);
    Result<IssuedTokens> rotated =
        cluster.rotateRefreshToken(TokenHash::of(seed.tokens.refreshToken), ClientId, next);
    VERIFY_OK(rotated);
    QCOMPARE(rotated.value().familyId, seed.tokens.familyId);
    // The spent refresh token is a replay on the cluster too.
    QCOMPARE(cluster.rotateRefreshToken(TokenHash::of(seed.tokens.refreshToken), ClientId, next).error().code,
             ErrorCode::Conflict);
}

// A user revoked by an operator keeps a grant whose Forgejo tokens are
// empty blobs (X''); SQLite hands those out as null byte arrays, which
// PostgreSQL must not get as NULL (the columns are NOT NULL).
void tst_MigrateStore::migratesARevokedUser()
{
    needCluster();
    Seed seed;
    fillSource(seed);
    if (QTest::currentTestFailed())
        return;
    QString bobsGrant;
    {
        SqliteTokenStore store;
        VERIFY_OK(store.open(m_state->path()));
        GrantRecord grant;
        grant.userLogin = QStringLiteral("bob");
        grant.userId = 43;
        grant.clientId = ClientId;
        grant.scope = Scope;
        UpstreamTokens upstream;
        upstream.accessToken = "forgejo-access-token-of-bob";
        upstream.refreshToken = "forgejo-refresh-token-of-bob";
        upstream.accessExpiresAt = QDateTime::currentDateTimeUtc().addSecs(3600);
        Result<GrantRecord> created = store.createGrant(grant, upstream);
        VERIFY_OK(created);
        bobsGrant = created.value().grantId;
        Result<UserRevocation> revoked = store.revokeUser(QStringLiteral("bob"));
        VERIFY_OK(revoked);
        QCOMPARE(revoked.value().upstreamTokens, 1);
        store.close();
    }

    const CtlRun run =
        runCtl({QStringLiteral("migrate-store"), QStringLiteral("--from"), sourceUrl(),
                QStringLiteral("--to"), m_cluster->url(m_pg.database), QStringLiteral("--json")});
    QVERIFY2(run.exitCode == 0, describe(run).constData());
    QCOMPARE(QJsonDocument::fromJson(run.out).object().value(QLatin1String("grants")).toInt(), 2);

    PostgresTokenStore cluster;
    VERIFY_OK(cluster.open(m_pg, QDir(m_state->path()).filePath(SqliteTokenStore::keyFileName()), false));
    VERIFY_OK(cluster.findAccessToken(TokenHash::of(seed.tokens.accessToken))); // alice is unaffected
    Result<GrantRecord> bobs = cluster.findGrant(bobsGrant);
    VERIFY_OK(bobs);
    QVERIFY(bobs.value().revoked.isValid());
    QVERIFY(!cluster.upstreamTokens(bobsGrant).ok()); // still gone
}

void tst_MigrateStore::refusesNonEmptyTarget()
{
    needCluster();
    Seed seed;
    fillSource(seed);
    if (QTest::currentTestFailed())
        return;
    const QStringList migrate = {QStringLiteral("migrate-store"), QStringLiteral("--from"), sourceUrl(),
                                 QStringLiteral("--to"), m_cluster->url(m_pg.database)};
    const CtlRun first = runCtl(migrate);
    QVERIFY2(first.exitCode == 0, describe(first).constData());
    QVERIFY2(QRegularExpression(QStringLiteral("\\n  clients +1\\n"))
                 .match(QString::fromUtf8(first.out))
                 .hasMatch(),
             describe(first).constData());

    const CtlRun again = runCtl(migrate);
    QVERIFY2(again.exitCode == 4, describe(again).constData());
    QVERIFY2(again.err.contains("already holds 1 clients, 1 grants, 2 tokens, 1 auth_codes, 1 consents"),
             describe(again).constData());
    QCOMPARE(countRows(m_pg, QStringLiteral("tokens")), 2);

    // A broker on the target with a key of its own, and nothing else: refused too.
    Result<PostgresParams> other = m_cluster->createDatabase();
    VERIFY_OK(other);
    {
        QTemporaryDir otherState;
        PostgresTokenStore broker;
        VERIFY_OK(broker.open(other.value(), QDir(otherState.path()).filePath(QStringLiteral("other.key"))));
    }
    const CtlRun otherKey = runCtl({QStringLiteral("migrate-store"), QStringLiteral("--from"), sourceUrl(),
                                    QStringLiteral("--to"), m_cluster->url(other.value().database)});
    QVERIFY2(otherKey.exitCode == 4, describe(otherKey).constData());
    QVERIFY2(otherKey.err.contains("key check of another key file"), describe(otherKey).constData());

    // --force: what the target held goes, the source's rows come in, once.
    const CtlRun forced = runCtl(migrate + QStringList{QStringLiteral("--force")});
    QVERIFY2(forced.exitCode == 0, describe(forced).constData());
    QCOMPARE(countRows(m_pg, QStringLiteral("tokens")), 2);
    QCOMPARE(countRows(m_pg, QStringLiteral("meta")), 1);
}

void tst_MigrateStore::refusesRunningBroker()
{
    needCluster();
    Seed seed;
    fillSource(seed);
    if (QTest::currentTestFailed())
        return;
    SqliteTokenStore running; // this process stands in for the broker
    VERIFY_OK(running.open(m_state->path()));
    VERIFY_OK(running.findClient(ClientId));
    const CtlRun run = runCtl({QStringLiteral("migrate-store"), QStringLiteral("--from"), sourceUrl(),
                               QStringLiteral("--to"), m_cluster->url(m_pg.database)});
    QVERIFY2(run.exitCode == 5, describe(run).constData());
    QVERIFY2(run.err.contains(
                 QStringLiteral("is open in process %1").arg(QCoreApplication::applicationPid()).toUtf8()),
             describe(run).constData());
    QCOMPARE(countRows(m_pg, QStringLiteral("clients")), -1); // not even the schema was created

    running.close();
    const CtlRun after = runCtl({QStringLiteral("migrate-store"), QStringLiteral("--from"), sourceUrl(),
                                 QStringLiteral("--to"), m_cluster->url(m_pg.database)});
    QVERIFY2(after.exitCode == 0, describe(after).constData());
}

void tst_MigrateStore::failureMidwayExitsOne_data()
{
    // Whatever the SQL error once the copy runs, it is a failed copy (exit 1,
    // rolled back), never "unreachable" (3) or "the target holds data" (4).
    QTest::addColumn<QString>("sqlState");
    QTest::newRow("serialization failure") << QStringLiteral("40001");
    QTest::newRow("connection exception") << QStringLiteral("08006");
    QTest::newRow("unique violation") << QStringLiteral("23505");
    QTest::newRow("raised") << QStringLiteral("P0001");
}

void tst_MigrateStore::failureMidwayExitsOne()
{
    QFETCH(QString, sqlState);
    needCluster();
    Seed seed;
    fillSource(seed);
    if (QTest::currentTestFailed())
        return;
    // The target's schema, and a trigger that fails the copy of the grants,
    // after the clients went in.
    const QString name = QStringLiteral("tst.migrate.trigger");
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        m_pg.applyTo(db);
        QVERIFY2(db.open(), qPrintable(db.lastError().text()));
        VERIFY_OK(PostgresSchema::migrate(db));
        QSqlQuery query(db);
        QVERIFY2(
            query.exec(QStringLiteral("CREATE FUNCTION fail_copy() RETURNS trigger LANGUAGE plpgsql AS $$ "
                                      "BEGIN RAISE EXCEPTION 'copy failed here' USING ERRCODE = '%1'; END $$")
                           .arg(sqlState)),
            qPrintable(query.lastError().text()));
        QVERIFY2(query.exec(QStringLiteral("CREATE TRIGGER fail_copy BEFORE INSERT ON grants FOR EACH ROW "
                                           "EXECUTE FUNCTION fail_copy()")),
                 qPrintable(query.lastError().text()));
        db.close();
    }
    QSqlDatabase::removeDatabase(name);

    const CtlRun run = runCtl({QStringLiteral("migrate-store"), QStringLiteral("--from"), sourceUrl(),
                               QStringLiteral("--to"), m_cluster->url(m_pg.database)});
    QVERIFY2(run.exitCode == 1, describe(run).constData());
    QVERIFY2(run.err.contains("copy failed here") && run.err.contains("rolled back: nothing copied"),
             describe(run).constData());
    QCOMPARE(countRows(m_pg, QStringLiteral("clients")), 0);
    QCOMPARE(countRows(m_pg, QStringLiteral("grants")), 0);
}

QTEST_GUILESS_MAIN(tst_MigrateStore)
#include "tst_migratestore.moc"
