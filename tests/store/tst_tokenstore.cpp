#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>

#include <sys/stat.h>

#include <QDir>
#include <QFile>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "PgCluster.h"
#include "base/Redactor.h"
#include "store/PostgresTokenStore.h"
#include "store/Schema.h"
#include "store/SqliteTokenStore.h"

using fmb::AuthCodeRequest;
using fmb::ClientKind;
using fmb::ClientRecord;
using fmb::ErrorCode;
using fmb::GrantRecord;
using fmb::IssuedTokens;
using fmb::PostgresTokenStore;
using fmb::Result;
using fmb::SqliteTokenStore;
using fmb::SqlTokenStore;
using fmb::TokenHash;
using fmb::TokenRequest;
using fmb::TokenStore;
using fmb::UpstreamTokens;
using fmb::UserRevocation;

namespace {

const QString ClientA = QStringLiteral("https://client-a.example/oauth/metadata.json");
const QString ClientB = QStringLiteral("4f1c2b7e-dynamic-client");
const QString Resource = QStringLiteral("https://broker.example/mcp");
const QString Scope = QStringLiteral("read:repository write:issue");

template <typename T>
QByteArray describe(const Result<T> &result)
{
    if (result.ok())
        return "ok";
    return "error " + QByteArray::number(static_cast<int>(result.error().code)) + " [" +
           result.error().subject.toUtf8() + "]: " + result.error().message.toUtf8();
}

template <typename T>
Result<void> status(const Result<T> &result)
{
    if (result.ok())
        return {};
    return result.error();
}

#define VERIFY_OK(expr)                                                                                      \
    do {                                                                                                     \
        const auto &result_ = (expr);                                                                        \
        QVERIFY2(result_.ok(), describe(result_).constData());                                               \
    } while (false)

#define VERIFY_ERROR(expr, expectedCode)                                                                     \
    do {                                                                                                     \
        const auto &result_ = (expr);                                                                        \
        QVERIFY2(!result_.ok(), "expected an error, got ok");                                                \
        QCOMPARE(result_.error().code, expectedCode);                                                        \
    } while (false)

int modeOf(const QString &path)
{
    struct stat st {};
    if (::lstat(QFile::encodeName(path).constData(), &st) != 0)
        return -1;
    return static_cast<int>(st.st_mode & 07777);
}

// Every byte of every file in the state directory: the database, its -wal and
// -shm files and the key file.
QByteArray stateBytes(const QString &dir)
{
    QByteArray all;
    const QStringList names = QDir(dir).entryList(QDir::Files | QDir::Hidden);
    for (const QString &name : names) {
        QFile file(QDir(dir).filePath(name));
        if (file.open(QIODevice::ReadOnly))
            all += file.readAll();
    }
    return all;
}

// A second connection to the database, for looking under the store.
class RawDb final {
public:
    explicit RawDb(const QString &path)
        : RawDb(QStringLiteral("QSQLITE"), [&path](QSqlDatabase &db) { db.setDatabaseName(path); })
    {}
    explicit RawDb(const fmb::PostgresParams &params)
        : RawDb(QStringLiteral("QPSQL"), [&params](QSqlDatabase &db) {
            db.setHostName(params.host);
            db.setPort(params.port);
            db.setUserName(params.user);
            db.setDatabaseName(params.database);
        })
    {}
    RawDb(const QString &driver, const std::function<void(QSqlDatabase &)> &setup)
        : m_name(QStringLiteral("tst.raw.%1").arg(++s_counter))
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(driver, m_name);
        setup(db);
        db.open();
    }
    RawDb(const RawDb &) = delete;
    RawDb &operator=(const RawDb &) = delete;
    ~RawDb()
    {
        QSqlDatabase::database(m_name, false).close();
        QSqlDatabase::removeDatabase(m_name);
    }

    QVariantList column(const QString &sql, const QVariantList &values = {}) const
    {
        QVariantList out;
        QSqlQuery query(QSqlDatabase::database(m_name, false));
        query.prepare(sql);
        for (qsizetype i = 0; i < values.size(); ++i)
            query.bindValue(static_cast<int>(i), values.at(i));
        if (!query.exec())
            return {QStringLiteral("SQL ERROR")};
        while (query.next())
            out.append(query.value(0));
        return out;
    }

    bool exec(const QString &sql, const QVariantList &values = {}) const
    {
        QSqlQuery query(QSqlDatabase::database(m_name, false));
        query.prepare(sql);
        for (qsizetype i = 0; i < values.size(); ++i)
            query.bindValue(static_cast<int>(i), values.at(i));
        return query.exec();
    }

private:
    static inline int s_counter = 0;
    QString m_name;
};

// Restores the process umask when a test row ends, pass or fail.
class UmaskGuard final {
public:
    explicit UmaskGuard(mode_t mask)
        : m_old(::umask(mask))
    {}
    ~UmaskGuard() { ::umask(m_old); }

private:
    mode_t m_old;
};

QStringList capturedLog;

void captureMessage(QtMsgType, const QMessageLogContext &context, const QString &message)
{
    capturedLog.append(QString::fromLatin1(context.category) + QLatin1Char(' ') + message);
}

} // namespace

// What most tests start from: client, grant with upstream tokens, one broker
// token pair and one authorization code, all for alice (Forgejo user 42).
struct Seed {
    GrantRecord grant;
    UpstreamTokens upstream;
    IssuedTokens tokens;
    QByteArray code;
};

using StoreCall = std::function<Result<void>(SqlTokenStore &, const Seed &)>;

// The engines every contract test runs against (initTestCase_data).
enum class Backend { Sqlite, Postgres };

enum class RotateCase { OtherClient, AccessToken, Expired, Revoked, WiderScope, OtherResource };
enum class RevokeCase { Access, Refresh };
enum class KillCase { RefreshReplay, CodeReplay, RefreshRevoked };
enum class SwapCase { AccessFromOtherGrant, RefreshAsAccess };

class tst_TokenStore : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void tokenHelpers();
    void tokenHashFromHex_data();
    void tokenHashFromHex();

    void openCreatesPrivateFiles_data();
    void openCreatesPrivateFiles();
    void openTightensLoosePermissions();
    void openRefusesBadKeyFile_data();
    void openRefusesBadKeyFile();
    void openRefusesAnotherKey();
    void openRefusesMissingKey();
    void openRefusesNewerSchema();
    void migrationMarksAuthorizedClients();
    void schemaVersionRecorded();
    void connectionsAreSeparate();

    void brokerUsesTheInterface();
    void errors_data();
    void errors();

    void clientRoundTrip_data();
    void clientRoundTrip();
    void clientSecretStoredAsHash();
    void olderClientsBecomePublic();
    void nullStringsStoreAsEmpty();

    void tokensStoredOnlyAsHashes();
    void authCodeSingleUse();
    void authCodeExpiry_data();
    void authCodeExpiry();
    void accessTokenExpiry_data();
    void accessTokenExpiry();
    void concurrentConsumeOnce_data();
    void concurrentConsumeOnce();
    void refreshRotation();
    void refreshReuseRevokesFamily();
    void rotateRejected_data();
    void rotateRejected();
    void rotateNarrowsScope();
    void revokeToken_data();
    void revokeToken();
    void revokeGrantRemovesEverything();
    void revokeUserTakesEverything();
    void revokedGrantKeepsNothing_data();
    void revokedGrantKeepsNothing();
    void pendingClientsCountedAndPurged();

    void upstreamTokensSaved_data();
    void upstreamTokensSaved();
    void upstreamCiphertextBoundToRow_data();
    void upstreamCiphertextBoundToRow();
    void grantsExpiringBefore_data();
    void grantsExpiringBefore();

    void consentCovers_data();
    void consentCovers();
    void consentLifecycle();

    void purgeExpired();
    void restartKeepsEverything();
    void logsNeverShowSecrets();

    void twoBrokersRedeemOnce_data();
    void twoBrokersRedeemOnce();
    void twoBrokersDetectRefreshReuse();
    void brokersStartAtOnce();

private:
    [[nodiscard]] QString stateDir() const { return m_tmp->filePath(QStringLiteral("state")); }
    [[nodiscard]] QString dbPath() const
    {
        return stateDir() + QLatin1Char('/') + SqliteTokenStore::databaseFileName();
    }
    [[nodiscard]] QString keyPath() const
    {
        return stateDir() + QLatin1Char('/') + SqliteTokenStore::keyFileName();
    }
    [[nodiscard]] static Backend backend();
    // A store of the row's engine, not yet open; openStore() opens it on the
    // test's database (SQLite: `dir` or the state directory; PostgreSQL: the
    // test's own database, with the key file in the state directory).
    [[nodiscard]] static std::unique_ptr<SqlTokenStore> newStore();
    [[nodiscard]] Result<void> openStore(SqlTokenStore &store, const QString &dir = {});
    // A second connection to the test's database, for looking under the store.
    [[nodiscard]] std::unique_ptr<RawDb> rawDb() const;
    [[nodiscard]] Result<GrantRecord> addGrant(SqlTokenStore &store, const QString &clientId, qint64 userId,
                                               const QString &login, const UpstreamTokens &upstream);
    [[nodiscard]] Result<Seed> seed(SqlTokenStore &store, const QString &clientId = ClientA);
    [[nodiscard]] TokenRequest lifetimes(const QString &scope = {}, const QString &resource = Resource) const;
    [[nodiscard]] UpstreamTokens newUpstream(const QDateTime &expiry) const;

    std::unique_ptr<QTemporaryDir> m_tmp;
    QDateTime m_now;
    std::unique_ptr<fmbtest::PgCluster> m_cluster;
    QString m_clusterError;
    fmb::PostgresParams m_pg; // this test's database
};

// A store of the row's engine named `name`, owned by the scope.
#define OWN_STORE(name)                                                                                      \
    const std::unique_ptr<SqlTokenStore> name##Owner_ = newStore();                                          \
    SqlTokenStore &name = *name##Owner_

#define RAW_DB(name)                                                                                         \
    const std::unique_ptr<RawDb> name##Owner_ = rawDb();                                                     \
    const RawDb &name = *name##Owner_

// For a test of SQLite's own files (modes, WAL, secure_delete, PRAGMAs, old
// schema versions): PostgreSQL has none of them.
#define SQLITE_ONLY(why)                                                                                     \
    do {                                                                                                     \
        if (backend() != Backend::Sqlite)                                                                    \
            QSKIP("SQLite only: " why);                                                                      \
    } while (false)

void tst_TokenStore::initTestCase_data()
{
    QTest::addColumn<Backend>("backend");
    QTest::newRow("sqlite") << Backend::Sqlite;
    QTest::newRow("postgresql") << Backend::Postgres;
}

void tst_TokenStore::initTestCase()
{
    // One cluster for the whole run (initdb takes seconds); each test gets a
    // database of its own. Skipped only where the binaries are missing.
    m_clusterError = fmbtest::PgCluster::unavailableReason();
    if (!m_clusterError.isEmpty())
        return;
    // Every PostgreSQL row of every function in one process hangs after about
    // 90 databases (a query that never returns; not understood yet, issue 14),
    // so ctest runs the PostgreSQL rows of the cross-broker functions only, in
    // a run of its own (tests/store/CMakeLists.txt: tokenstore-postgres).
    if (qEnvironmentVariableIsEmpty("FMB_TEST_POSTGRES")) {
        m_clusterError =
            QStringLiteral("PostgreSQL rows run with FMB_TEST_POSTGRES=1 (ctest: tokenstore-postgres)");
        return;
    }
    m_cluster = std::make_unique<fmbtest::PgCluster>();
    if (Result<void> r = m_cluster->start(); !r.ok())
        QFAIL(qPrintable(r.error().message));
}

void tst_TokenStore::cleanupTestCase()
{
    m_cluster.reset();
}

void tst_TokenStore::init()
{
    m_tmp = std::make_unique<QTemporaryDir>();
    QVERIFY(m_tmp->isValid());
    m_now = QDateTime(QDate(2026, 3, 1), QTime(12, 0), Qt::UTC);
    if (backend() == Backend::Postgres) {
        if (!m_cluster)
            QSKIP(qPrintable(QStringLiteral("no PostgreSQL cluster: ") + m_clusterError));
        Result<fmb::PostgresParams> database = m_cluster->createDatabase();
        VERIFY_OK(database);
        m_pg = database.value();
    }
}

Backend tst_TokenStore::backend()
{
    QFETCH_GLOBAL(Backend, backend);
    return backend;
}

std::unique_ptr<SqlTokenStore> tst_TokenStore::newStore()
{
    if (backend() == Backend::Postgres)
        return std::make_unique<PostgresTokenStore>();
    return std::make_unique<SqliteTokenStore>();
}

std::unique_ptr<RawDb> tst_TokenStore::rawDb() const
{
    if (backend() == Backend::Postgres)
        return std::make_unique<RawDb>(m_pg);
    return std::make_unique<RawDb>(dbPath());
}

void tst_TokenStore::cleanup()
{
    m_tmp.reset();
}

Result<void> tst_TokenStore::openStore(SqlTokenStore &store, const QString &dir)
{
    store.setClock([this] { return m_now; });
    const QString state = dir.isEmpty() ? stateDir() : dir;
    if (auto *postgres = dynamic_cast<PostgresTokenStore *>(&store)) {
        if (!QDir().mkpath(state))
            return fmb::Error{ErrorCode::Io, state, QStringLiteral("cannot create")};
        return postgres->open(m_pg, QDir(state).filePath(SqliteTokenStore::keyFileName()));
    }
    return static_cast<SqliteTokenStore &>(store).open(state);
}

UpstreamTokens tst_TokenStore::newUpstream(const QDateTime &expiry) const
{
    UpstreamTokens upstream;
    upstream.accessToken = "forgejo-access-" + fmb::generateOpaqueToken();
    upstream.refreshToken = "forgejo-refresh-" + fmb::generateOpaqueToken();
    upstream.accessExpiresAt = expiry;
    return upstream;
}

Result<GrantRecord> tst_TokenStore::addGrant(SqlTokenStore &store, const QString &clientId, qint64 userId,
                                             const QString &login, const UpstreamTokens &upstream)
{
    if (!store.findClient(clientId).ok()) {
        ClientRecord client;
        client.clientId = clientId;
        client.clientName = QStringLiteral("Client ") + clientId;
        client.redirectUris = {QStringLiteral("http://127.0.0.1:33418/callback")};
        if (Result<void> r = store.registerClient(client); !r.ok())
            return r.error();
    }
    GrantRecord grant;
    grant.userLogin = login;
    grant.userId = userId;
    grant.clientId = clientId;
    grant.scope = Scope;
    return store.createGrant(grant, upstream);
}

TokenRequest tst_TokenStore::lifetimes(const QString &scope, const QString &resource) const
{
    TokenRequest request;
    request.scope = scope;
    request.resource = resource;
    request.accessExpiresAt = m_now.addSecs(3600);
    request.refreshExpiresAt = m_now.addDays(30);
    return request;
}

Result<Seed> tst_TokenStore::seed(SqlTokenStore &store, const QString &clientId)
{
    Seed seed;
    seed.upstream = newUpstream(m_now.addSecs(3600));
    Result<GrantRecord> grant = addGrant(store, clientId, 42, QStringLiteral("alice"), seed.upstream);
    if (!grant.ok())
        return grant.error();
    seed.grant = grant.value();
    Result<IssuedTokens> tokens = store.issueTokenPair(seed.grant.grantId, lifetimes());
    if (!tokens.ok())
        return tokens.error();
    seed.tokens = tokens.value();
    AuthCodeRequest request;
    request.grantId = seed.grant.grantId;
    request.clientId = clientId;
    request.redirectUri = QStringLiteral("http://127.0.0.1:33418/callback");
    request.codeChallenge = QStringLiteral("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    request.resource = Resource;
    request.scope = QStringLiteral("read:repository");
    request.expiresAt = m_now.addSecs(300);
    Result<QByteArray> code = store.createAuthCode(request);
    if (!code.ok())
        return code.error();
    seed.code = code.value();
    return seed;
}

// --- helpers ----------------------------------------------------------------

void tst_TokenStore::tokenHelpers()
{
    QSet<QByteArray> seen;
    for (int i = 0; i < 200; ++i) {
        const QByteArray token = fmb::generateOpaqueToken();
        QCOMPARE(token.size(), 43); // 32 bytes, base64url, no padding
        for (const char c : token) {
            const bool urlSafe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                 c == '-' || c == '_';
            QVERIFY2(urlSafe, token.constData());
        }
        seen.insert(token);
    }
    QCOMPARE(seen.size(), 200);

    // FIPS 180-2 test vector.
    const TokenHash abc = TokenHash::of("abc");
    QCOMPARE(abc.hex(), QByteArray("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    QCOMPARE(abc.fingerprint(), QStringLiteral("ba7816bf"));
    QCOMPARE(abc.fingerprint(), fmb::fingerprint("abc")); // what the logs show
    QVERIFY(TokenHash().isNull());
    QCOMPARE(fmb::generateRecordId().size(), 32);
}

void tst_TokenStore::tokenHashFromHex_data()
{
    QTest::addColumn<QByteArray>("hex");
    QTest::addColumn<bool>("valid");
    const QByteArray good = TokenHash::of("abc").hex();
    QTest::newRow("a stored hash") << good << true;
    QTest::newRow("upper case") << good.toUpper() << false;
    QTest::newRow("63 digits") << good.left(63) << false;
    QTest::newRow("65 digits") << good + '0' << false;
    QTest::newRow("not hex") << QByteArray(64, 'g') << false;
    QTest::newRow("a plain token") << fmb::generateOpaqueToken() << false;
}

void tst_TokenStore::tokenHashFromHex()
{
    QFETCH(QByteArray, hex);
    QFETCH(bool, valid);
    const TokenHash hash = TokenHash::fromHex(hex);
    QCOMPARE(!hash.isNull(), valid);
    if (valid)
        QCOMPARE(hash, TokenHash::of("abc"));
}

// --- opening ------------------------------------------------------------------

void tst_TokenStore::openCreatesPrivateFiles_data()
{
    QTest::addColumn<int>("umask");
    QTest::newRow("umask 022") << 0022;
    QTest::newRow("umask 000") << 0000;
    QTest::newRow("umask 077") << 0077;
}

void tst_TokenStore::openCreatesPrivateFiles()
{
    SQLITE_ONLY("file and directory modes");
    QFETCH(int, umask);
    const QString dir = m_tmp->filePath(QStringLiteral("var/lib/fmb"));
    SqliteTokenStore store;
    {
        UmaskGuard guard(static_cast<mode_t>(umask));
        VERIFY_OK(openStore(store, dir));
        VERIFY_OK(seed(store)); // writes, so the -wal and -shm files exist
    }
    QVERIFY(store.isOpen());
    QCOMPARE(store.databasePath(), dir + QLatin1Char('/') + SqliteTokenStore::databaseFileName());
    QCOMPARE(modeOf(dir), 0700);
    QCOMPARE(modeOf(store.databasePath()), 0600);
    QCOMPARE(modeOf(dir + QLatin1Char('/') + SqliteTokenStore::keyFileName()), 0600);
    QVERIFY(QFile::exists(store.databasePath() + QStringLiteral("-wal")));
    QCOMPARE(modeOf(store.databasePath() + QStringLiteral("-wal")), 0600);
    QCOMPARE(modeOf(store.databasePath() + QStringLiteral("-shm")), 0600);
}

void tst_TokenStore::openTightensLoosePermissions()
{
    SQLITE_ONLY("file and directory modes");
    QVERIFY(QDir().mkpath(stateDir()));
    QVERIFY(QFile::setPermissions(stateDir(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner |
                                                  QFile::ReadGroup | QFile::ExeGroup | QFile::ReadOther |
                                                  QFile::ExeOther));
    QFile db(dbPath());
    QVERIFY(db.open(QIODevice::WriteOnly));
    db.close();
    QVERIFY(db.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther));
    QCOMPARE(modeOf(stateDir()), 0755);
    QCOMPARE(modeOf(dbPath()), 0644);

    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("state directory .* had mode 0755")));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("broker.sqlite3 had mode 0644")));
    SqliteTokenStore store;
    VERIFY_OK(openStore(store));
    QCOMPARE(modeOf(stateDir()), 0700);
    QCOMPARE(modeOf(dbPath()), 0600);
}

void tst_TokenStore::openRefusesBadKeyFile_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<int>("permissions");
    QTest::addColumn<ErrorCode>("code");
    const auto ownerRw = QFile::ReadOwner | QFile::WriteOwner;
    QTest::newRow("mode 0644") << QByteArray(32, 'k') << int(ownerRw | QFile::ReadGroup | QFile::ReadOther)
                               << ErrorCode::Forbidden;
    QTest::newRow("mode 0640") << QByteArray(32, 'k') << int(ownerRw | QFile::ReadGroup)
                               << ErrorCode::Forbidden;
    QTest::newRow("16 bytes") << QByteArray(16, 'k') << int(ownerRw) << ErrorCode::InvalidArgument;
    QTest::newRow("64 bytes") << QByteArray(64, 'k') << int(ownerRw) << ErrorCode::InvalidArgument;
}

void tst_TokenStore::openRefusesBadKeyFile()
{
    SQLITE_ONLY("covered once; the key file is read the same way for both");
    QFETCH(QByteArray, key);
    QFETCH(int, permissions);
    QFETCH(ErrorCode, code);
    QVERIFY(QDir().mkpath(stateDir()));
    QVERIFY(QFile::setPermissions(stateDir(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
    QFile file(keyPath());
    QVERIFY(file.open(QIODevice::WriteOnly));
    QCOMPARE(file.write(key), key.size());
    file.close();
    QVERIFY(file.setPermissions(QFile::Permissions(permissions)));

    const QStringList connectionsBefore = QSqlDatabase::connectionNames();
    SqliteTokenStore store;
    Result<void> opened = openStore(store);
    QVERIFY(!opened.ok());
    QCOMPARE(opened.error().code, code);
    QCOMPARE(opened.error().subject, keyPath());
    QVERIFY(!store.isOpen());
    QCOMPARE(QSqlDatabase::connectionNames(), connectionsBefore);
    VERIFY_ERROR(store.findClient(ClientA), ErrorCode::Unavailable);
}

void tst_TokenStore::openRefusesAnotherKey()
{
    {
        OWN_STORE(store);
        VERIFY_OK(openStore(store));
        VERIFY_OK(seed(store));
    }
    // The key file was lost and a new one appeared: refuse rather than fail
    // later on every grant.
    QFile file(keyPath());
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    QCOMPARE(file.write(QByteArray(32, 'n')), 32);
    file.close();

    OWN_STORE(store);
    Result<void> opened = openStore(store);
    QVERIFY(!opened.ok());
    QCOMPARE(opened.error().code, ErrorCode::Forbidden);
    QVERIFY2(opened.error().message.contains(SqliteTokenStore::keyFileName()),
             qPrintable(opened.error().message));
    QVERIFY(!store.isOpen());
}

void tst_TokenStore::openRefusesMissingKey()
{
    SQLITE_ONLY("the database file next to the key");
    {
        SqliteTokenStore store;
        VERIFY_OK(openStore(store));
        VERIFY_OK(seed(store));
    }
    QVERIFY(QFile::remove(keyPath()));
    SqliteTokenStore store;
    Result<void> opened = openStore(store);
    QVERIFY(!opened.ok());
    QCOMPARE(opened.error().code, ErrorCode::NotFound);
    QCOMPARE(opened.error().subject, keyPath());
    QVERIFY(!QFile::exists(keyPath())); // no new key written over the evidence
}

void tst_TokenStore::openRefusesNewerSchema()
{
    {
        OWN_STORE(store);
        VERIFY_OK(openStore(store));
    }
    {
        RAW_DB(raw);
        QVERIFY(raw.exec(QStringLiteral("UPDATE schema_version SET version = 99")));
    }
    OWN_STORE(store);
    Result<void> opened = openStore(store);
    QVERIFY(!opened.ok());
    QCOMPARE(opened.error().code, ErrorCode::InvalidArgument);
    QVERIFY2(opened.error().message.contains(QLatin1String("99")), qPrintable(opened.error().message));
}

// Schema version 2 (issue 11): a client with a grant was authorized, one
// without is pending. The version 1 file is made by taking the columns away.
void tst_TokenStore::migrationMarksAuthorizedClients()
{
    SQLITE_ONLY("migration from schema version 1");
    {
        SqliteTokenStore store;
        VERIFY_OK(openStore(store));
        VERIFY_OK(seed(store, ClientA)); // a grant: authorized at its creation
        ClientRecord pending;
        pending.clientId = ClientB;
        pending.redirectUris = {QStringLiteral("http://127.0.0.1:33418/callback")};
        VERIFY_OK(store.registerClient(pending));
    }
    {
        RawDb raw(dbPath());
        for (const char *sql : {"DROP INDEX clients_pending", "ALTER TABLE clients DROP COLUMN authorized_ms",
                                "ALTER TABLE grants DROP COLUMN revoked_ms",
                                "ALTER TABLE clients DROP COLUMN client_secret_hash",
                                "ALTER TABLE clients DROP COLUMN token_endpoint_auth_method",
                                "UPDATE schema_version SET version = 1"})
            QVERIFY2(raw.exec(QString::fromLatin1(sql)), sql);
    }
    SqliteTokenStore store;
    VERIFY_OK(openStore(store));
    QCOMPARE(store.schemaVersion(), fmb::Schema::latestVersion());
    RawDb raw(dbPath());
    QCOMPARE(raw.column(QStringLiteral("SELECT authorized_ms FROM clients WHERE client_id = ?"), {ClientA}),
             QVariantList{m_now.toMSecsSinceEpoch()});
    Result<fmb::PendingClients> pending = store.pendingClients();
    VERIFY_OK(pending);
    QCOMPARE(pending.value().count, 1);
    Result<int> purged = store.purgePendingClients(m_now.addSecs(1));
    VERIFY_OK(purged);
    QCOMPARE(purged.value(), 1);
    VERIFY_ERROR(store.findClient(ClientB), ErrorCode::NotFound);
    VERIFY_OK(store.findClient(ClientA));
}

void tst_TokenStore::schemaVersionRecorded()
{
    SQLITE_ONLY("WAL journal mode");
    for (int run = 0; run < 2; ++run) {
        SqliteTokenStore store;
        VERIFY_OK(openStore(store));
        QCOMPARE(store.schemaVersion(), fmb::Schema::latestVersion());
        RawDb raw(dbPath());
        QCOMPARE(raw.column(QStringLiteral("SELECT version FROM schema_version")),
                 QVariantList{fmb::Schema::latestVersion()});
        QCOMPARE(raw.column(QStringLiteral("PRAGMA journal_mode")), QVariantList{QStringLiteral("wal")});
    }
}

void tst_TokenStore::connectionsAreSeparate()
{
    SQLITE_ONLY("one database file per state directory");
    const QStringList before = QSqlDatabase::connectionNames();
    {
        SqliteTokenStore first;
        SqliteTokenStore second;
        VERIFY_OK(openStore(first, m_tmp->filePath(QStringLiteral("one"))));
        VERIFY_OK(openStore(second, m_tmp->filePath(QStringLiteral("two"))));
        QCOMPARE(QSqlDatabase::connectionNames().size(), before.size() + 2);
        VERIFY_ERROR(first.open(m_tmp->filePath(QStringLiteral("three"))), ErrorCode::Conflict);

        VERIFY_OK(seed(first));
        VERIFY_ERROR(second.findClient(ClientA), ErrorCode::NotFound);
        first.close();
        QVERIFY(!first.isOpen());
        QCOMPARE(QSqlDatabase::connectionNames().size(), before.size() + 1);
        VERIFY_OK(openStore(first, m_tmp->filePath(QStringLiteral("one")))); // reopen after close
        VERIFY_OK(first.findClient(ClientA));
    }
    QCOMPARE(QSqlDatabase::connectionNames(), before);
}

// The broker holds a TokenStore *: what it does through the interface is
// what the SQLite store does.
void tst_TokenStore::brokerUsesTheInterface()
{
    std::unique_ptr<SqlTokenStore> opened = newStore();
    VERIFY_OK(openStore(*opened));
    const std::unique_ptr<TokenStore> store = std::move(opened);
    QVERIFY(store->isOpen());
    ClientRecord client;
    client.clientId = ClientB;
    client.clientName = QStringLiteral("through the interface");
    VERIFY_OK(store->registerClient(client));
    Result<ClientRecord> found = store->findClient(ClientB);
    VERIFY_OK(found);
    QCOMPARE(found.value().clientName, client.clientName);
    VERIFY_ERROR(store->registerClient(client), ErrorCode::Conflict);
}

// --- error table ----------------------------------------------------------------

namespace {

// Rows for errors(): every operation on a closed store (with valid
// arguments) is Unavailable, and none of them touches a database or a key
// that is gone.
void addClosedStoreRows()
{
    const auto closed = [](const char *name, StoreCall call) {
        QTest::newRow(qPrintable(QStringLiteral("store closed: ") + QLatin1String(name)))
            << StoreCall([call](SqlTokenStore &s, const Seed &seed) {
                   s.close();
                   return call(s, seed);
               })
            << ErrorCode::Unavailable;
    };

    const auto tokenRequest = [](const Seed &seed) {
        TokenRequest request;
        request.accessExpiresAt = seed.tokens.accessExpiresAt;
        request.refreshExpiresAt = seed.tokens.refreshExpiresAt;
        return request;
    };
    closed("registerClient", [](SqlTokenStore &s, const Seed &) {
        ClientRecord client;
        client.clientId = ClientB + QStringLiteral("-new");
        return s.registerClient(client);
    });
    closed("updateClient", [](SqlTokenStore &s, const Seed &) {
        ClientRecord client;
        client.clientId = ClientA;
        return s.updateClient(client);
    });
    closed("findClient", [](SqlTokenStore &s, const Seed &) { return status(s.findClient(ClientA)); });
    closed("deleteClient", [](SqlTokenStore &s, const Seed &) { return s.deleteClient(ClientA); });
    closed("pendingClients", [](SqlTokenStore &s, const Seed &) { return status(s.pendingClients()); });
    closed("purgePendingClients", [](SqlTokenStore &s, const Seed &) {
        return status(s.purgePendingClients(QDateTime::currentDateTimeUtc()));
    });
    closed("createGrant", [](SqlTokenStore &s, const Seed &seed) {
        return status(s.createGrant(seed.grant, seed.upstream));
    });
    closed("findGrant",
           [](SqlTokenStore &s, const Seed &seed) { return status(s.findGrant(seed.grant.grantId)); });
    closed("grantsForUser",
           [](SqlTokenStore &s, const Seed &seed) { return status(s.grantsForUser(seed.grant.userId)); });
    closed("grantsExpiringBefore", [](SqlTokenStore &s, const Seed &) {
        return status(s.grantsExpiringBefore(QDateTime::currentDateTimeUtc().addDays(1)));
    });
    closed("upstreamTokens",
           [](SqlTokenStore &s, const Seed &seed) { return status(s.upstreamTokens(seed.grant.grantId)); });
    closed("saveUpstreamTokens", [](SqlTokenStore &s, const Seed &seed) {
        return s.saveUpstreamTokens(seed.grant.grantId, seed.upstream);
    });
    closed("revokeGrant",
           [](SqlTokenStore &s, const Seed &seed) { return s.revokeGrant(seed.grant.grantId); });
    closed("revokeUser",
           [](SqlTokenStore &s, const Seed &seed) { return status(s.revokeUser(seed.grant.userLogin)); });
    closed("createAuthCode", [](SqlTokenStore &s, const Seed &seed) {
        AuthCodeRequest request;
        request.grantId = seed.grant.grantId;
        request.clientId = seed.grant.clientId;
        request.codeChallenge = QStringLiteral("challenge");
        request.expiresAt = seed.tokens.accessExpiresAt;
        return status(s.createAuthCode(request));
    });
    closed("consumeAuthCode", [](SqlTokenStore &s, const Seed &seed) {
        return status(s.consumeAuthCode(TokenHash::of(seed.code)));
    });
    closed("issueTokenPair", [tokenRequest](SqlTokenStore &s, const Seed &seed) {
        return status(s.issueTokenPair(seed.grant.grantId, tokenRequest(seed)));
    });
    closed("findAccessToken", [](SqlTokenStore &s, const Seed &seed) {
        return status(s.findAccessToken(TokenHash::of(seed.tokens.accessToken)));
    });
    closed("rotateRefreshToken", [tokenRequest](SqlTokenStore &s, const Seed &seed) {
        return status(s.rotateRefreshToken(TokenHash::of(seed.tokens.refreshToken), seed.grant.clientId,
                                           tokenRequest(seed)));
    });
    closed("revokeToken", [](SqlTokenStore &s, const Seed &seed) {
        return status(s.revokeToken(TokenHash::of(seed.tokens.accessToken), seed.grant.clientId));
    });
    closed("recordConsent",
           [](SqlTokenStore &s, const Seed &) { return s.recordConsent(42, ClientA, Scope); });
    closed("hasConsent",
           [](SqlTokenStore &s, const Seed &) { return status(s.hasConsent(42, ClientA, Scope)); });
    closed("revokeConsent", [](SqlTokenStore &s, const Seed &) { return s.revokeConsent(42, ClientA); });
    closed("purgeExpired", [](SqlTokenStore &s, const Seed &) { return status(s.purgeExpired()); });
}

} // namespace

void tst_TokenStore::errors_data()
{
    QTest::addColumn<StoreCall>("call");
    QTest::addColumn<ErrorCode>("code");

    const auto unknownHash = [] { return TokenHash::of(fmb::generateOpaqueToken()); };

    QTest::newRow("store closed") << StoreCall([](SqlTokenStore &s, const Seed &) {
        s.close();
        return status(s.findClient(ClientA));
    }) << ErrorCode::Unavailable;
    addClosedStoreRows();
    QTest::newRow("findClient: unknown id") << StoreCall([](SqlTokenStore &s, const Seed &) {
        return status(s.findClient(QStringLiteral("nope")));
    }) << ErrorCode::NotFound;
    QTest::newRow("registerClient: id taken") << StoreCall([](SqlTokenStore &s, const Seed &) {
        ClientRecord client;
        client.clientId = ClientA;
        client.clientName = QStringLiteral("impostor");
        return s.registerClient(client);
    }) << ErrorCode::Conflict;
    QTest::newRow("registerClient: empty id")
        << StoreCall([](SqlTokenStore &s, const Seed &) { return s.registerClient(ClientRecord{}); })
        << ErrorCode::InvalidArgument;
    QTest::newRow("updateClient: unknown id") << StoreCall([](SqlTokenStore &s, const Seed &) {
        ClientRecord client;
        client.clientId = QStringLiteral("nope");
        return s.updateClient(client);
    }) << ErrorCode::NotFound;
    QTest::newRow("deleteClient: unknown id")
        << StoreCall([](SqlTokenStore &s, const Seed &) { return s.deleteClient(QStringLiteral("nope")); })
        << ErrorCode::NotFound;
    QTest::newRow("createGrant: unknown client") << StoreCall([](SqlTokenStore &s, const Seed &seed) {
        GrantRecord grant = seed.grant;
        grant.clientId = QStringLiteral("nope");
        return status(s.createGrant(grant, seed.upstream));
    }) << ErrorCode::NotFound;
    QTest::newRow("createGrant: no upstream access token")
        << StoreCall([](SqlTokenStore &s, const Seed &seed) {
               return status(s.createGrant(seed.grant, UpstreamTokens{}));
           })
        << ErrorCode::InvalidArgument;
    QTest::newRow("findGrant: unknown id") << StoreCall([](SqlTokenStore &s, const Seed &) {
        return status(s.findGrant(fmb::generateRecordId()));
    }) << ErrorCode::NotFound;
    QTest::newRow("upstreamTokens: unknown grant") << StoreCall([](SqlTokenStore &s, const Seed &) {
        return status(s.upstreamTokens(fmb::generateRecordId()));
    }) << ErrorCode::NotFound;
    QTest::newRow("saveUpstreamTokens: unknown grant") << StoreCall([](SqlTokenStore &s, const Seed &seed) {
        return s.saveUpstreamTokens(fmb::generateRecordId(), seed.upstream);
    }) << ErrorCode::NotFound;
    QTest::newRow("saveUpstreamTokens: empty access token")
        << StoreCall([](SqlTokenStore &s, const Seed &seed) {
               return s.saveUpstreamTokens(seed.grant.grantId, UpstreamTokens{});
           })
        << ErrorCode::InvalidArgument;
    QTest::newRow("revokeGrant: unknown id")
        << StoreCall([](SqlTokenStore &s, const Seed &) { return s.revokeGrant(fmb::generateRecordId()); })
        << ErrorCode::NotFound;

    const auto codeRequest = [](const Seed &seed) {
        AuthCodeRequest request;
        request.grantId = seed.grant.grantId;
        request.clientId = seed.grant.clientId;
        request.redirectUri = QStringLiteral("http://127.0.0.1:1/cb");
        request.codeChallenge = QStringLiteral("challenge");
        request.expiresAt = seed.tokens.accessExpiresAt;
        return request;
    };
    QTest::newRow("createAuthCode: no PKCE challenge")
        << StoreCall([codeRequest](SqlTokenStore &s, const Seed &seed) {
               AuthCodeRequest request = codeRequest(seed);
               request.codeChallenge.clear();
               return status(s.createAuthCode(request));
           })
        << ErrorCode::InvalidArgument;
    QTest::newRow("createAuthCode: no expiry")
        << StoreCall([codeRequest](SqlTokenStore &s, const Seed &seed) {
               AuthCodeRequest request = codeRequest(seed);
               request.expiresAt = QDateTime();
               return status(s.createAuthCode(request));
           })
        << ErrorCode::InvalidArgument;
    QTest::newRow("createAuthCode: grant of another client")
        << StoreCall([codeRequest](SqlTokenStore &s, const Seed &seed) {
               AuthCodeRequest request = codeRequest(seed);
               request.clientId = ClientB;
               return status(s.createAuthCode(request));
           })
        << ErrorCode::InvalidArgument;
    QTest::newRow("createAuthCode: unknown grant")
        << StoreCall([codeRequest](SqlTokenStore &s, const Seed &seed) {
               AuthCodeRequest request = codeRequest(seed);
               request.grantId = fmb::generateRecordId();
               return status(s.createAuthCode(request));
           })
        << ErrorCode::NotFound;
    QTest::newRow("consumeAuthCode: unknown code")
        << StoreCall([unknownHash](SqlTokenStore &s, const Seed &) {
               return status(s.consumeAuthCode(unknownHash()));
           })
        << ErrorCode::Unauthorized;
    QTest::newRow("consumeAuthCode: an access token's hash")
        << StoreCall([](SqlTokenStore &s, const Seed &seed) {
               return status(s.consumeAuthCode(TokenHash::of(seed.tokens.accessToken)));
           })
        << ErrorCode::Unauthorized;

    QTest::newRow("issueTokenPair: unknown grant") << StoreCall([](SqlTokenStore &s, const Seed &seed) {
        TokenRequest request;
        request.accessExpiresAt = seed.tokens.accessExpiresAt;
        request.refreshExpiresAt = seed.tokens.refreshExpiresAt;
        return status(s.issueTokenPair(fmb::generateRecordId(), request));
    }) << ErrorCode::NotFound;
    QTest::newRow("issueTokenPair: scope wider than the grant")
        << StoreCall([](SqlTokenStore &s, const Seed &seed) {
               TokenRequest request;
               request.scope = Scope + QStringLiteral(" write:admin");
               request.accessExpiresAt = seed.tokens.accessExpiresAt;
               request.refreshExpiresAt = seed.tokens.refreshExpiresAt;
               return status(s.issueTokenPair(seed.grant.grantId, request));
           })
        << ErrorCode::InvalidArgument;
    QTest::newRow("issueTokenPair: no expiry") << StoreCall([](SqlTokenStore &s, const Seed &seed) {
        return status(s.issueTokenPair(seed.grant.grantId, TokenRequest{}));
    }) << ErrorCode::InvalidArgument;
    QTest::newRow("findAccessToken: unknown token")
        << StoreCall([unknownHash](SqlTokenStore &s, const Seed &) {
               return status(s.findAccessToken(unknownHash()));
           })
        << ErrorCode::Unauthorized;
    QTest::newRow("findAccessToken: a refresh token") << StoreCall([](SqlTokenStore &s, const Seed &seed) {
        return status(s.findAccessToken(TokenHash::of(seed.tokens.refreshToken)));
    }) << ErrorCode::Unauthorized;
    QTest::newRow("findAccessToken: an authorization code")
        << StoreCall([](SqlTokenStore &s, const Seed &seed) {
               return status(s.findAccessToken(TokenHash::of(seed.code)));
           })
        << ErrorCode::Unauthorized;
    QTest::newRow("findAccessToken: revoked") << StoreCall([](SqlTokenStore &s, const Seed &seed) {
        const TokenHash hash = TokenHash::of(seed.tokens.accessToken);
        if (Result<fmb::TokenRecord> r = s.revokeToken(hash, seed.grant.clientId); !r.ok())
            return status(r);
        return status(s.findAccessToken(hash));
    }) << ErrorCode::Unauthorized;
    QTest::newRow("rotateRefreshToken: unknown token")
        << StoreCall([unknownHash](SqlTokenStore &s, const Seed &seed) {
               TokenRequest request;
               request.accessExpiresAt = seed.tokens.accessExpiresAt;
               request.refreshExpiresAt = seed.tokens.refreshExpiresAt;
               return status(s.rotateRefreshToken(unknownHash(), seed.grant.clientId, request));
           })
        << ErrorCode::Unauthorized;
    QTest::newRow("rotateRefreshToken: no expiry") << StoreCall([](SqlTokenStore &s, const Seed &seed) {
        return status(s.rotateRefreshToken(TokenHash::of(seed.tokens.refreshToken), seed.grant.clientId,
                                           TokenRequest{}));
    }) << ErrorCode::InvalidArgument;
    QTest::newRow("revokeToken: unknown token")
        << StoreCall([unknownHash](SqlTokenStore &s, const Seed &seed) {
               return status(s.revokeToken(unknownHash(), seed.grant.clientId));
           })
        << ErrorCode::NotFound;
    QTest::newRow("revokeToken: another client's token") << StoreCall([](SqlTokenStore &s, const Seed &seed) {
        return status(s.revokeToken(TokenHash::of(seed.tokens.accessToken), ClientB));
    }) << ErrorCode::Forbidden;
    QTest::newRow("recordConsent: unknown client") << StoreCall([](SqlTokenStore &s, const Seed &) {
        return s.recordConsent(42, QStringLiteral("nope"), Scope);
    }) << ErrorCode::NotFound;
    QTest::newRow("revokeConsent: none recorded")
        << StoreCall([](SqlTokenStore &s, const Seed &) { return s.revokeConsent(42, ClientA); })
        << ErrorCode::NotFound;
}

void tst_TokenStore::errors()
{
    QFETCH(StoreCall, call);
    QFETCH(ErrorCode, code);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    Result<void> result = call(store, seeded.value());
    QVERIFY2(!result.ok(), "expected an error, got ok");
    QCOMPARE(result.error().code, code);
    QVERIFY(!result.error().message.isEmpty());
}

// --- clients ------------------------------------------------------------------

void tst_TokenStore::clientRoundTrip_data()
{
    QTest::addColumn<QString>("clientId");
    QTest::addColumn<ClientKind>("kind");
    QTest::addColumn<QStringList>("redirectUris");
    QTest::newRow("dynamic registration, one loopback redirect")
        << ClientB << ClientKind::Dynamic << QStringList{QStringLiteral("http://127.0.0.1:33418/callback")};
    QTest::newRow("metadata document, two redirects")
        << ClientA << ClientKind::MetadataDocument
        << QStringList{QStringLiteral("https://client-a.example/cb"), QStringLiteral("vscode://cb?x=\"1\"")};
    QTest::newRow("no redirect URIs") << QStringLiteral("c3") << ClientKind::Dynamic << QStringList{};
}

void tst_TokenStore::clientRoundTrip()
{
    QFETCH(QString, clientId);
    QFETCH(ClientKind, kind);
    QFETCH(QStringList, redirectUris);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    ClientRecord client;
    client.clientId = clientId;
    client.clientName = QStringLiteral("Claude Desktop ✓");
    client.redirectUris = redirectUris;
    client.kind = kind;
    VERIFY_OK(store.registerClient(client));

    Result<ClientRecord> found = store.findClient(clientId);
    VERIFY_OK(found);
    QCOMPARE(found.value().clientId, clientId);
    QCOMPARE(found.value().clientName, client.clientName);
    QCOMPARE(found.value().redirectUris, redirectUris);
    QCOMPARE(found.value().kind, kind);
    QCOMPARE(found.value().created, m_now);

    client.clientName = QStringLiteral("renamed");
    client.redirectUris.append(QStringLiteral("http://localhost:9/cb"));
    VERIFY_OK(store.updateClient(client));
    found = store.findClient(clientId);
    VERIFY_OK(found);
    QCOMPARE(found.value().clientName, QStringLiteral("renamed"));
    QCOMPARE(found.value().redirectUris, client.redirectUris);
    QCOMPARE(found.value().created, m_now);

    VERIFY_OK(store.deleteClient(clientId));
    VERIFY_ERROR(store.findClient(clientId), ErrorCode::NotFound);
}

void tst_TokenStore::clientSecretStoredAsHash()
{
    const QByteArray secret = fmb::generateOpaqueToken();
    {
        OWN_STORE(store);
        VERIFY_OK(openStore(store));
        ClientRecord client;
        client.clientId = ClientB;
        client.redirectUris = {QStringLiteral("https://claude.ai/api/mcp/auth_callback")};
        client.tokenEndpointAuthMethod = QStringLiteral("client_secret_post");
        client.secretHash = fmb::TokenHash::of(secret);
        VERIFY_OK(store.registerClient(client));
        Result<ClientRecord> found = store.findClient(ClientB);
        VERIFY_OK(found);
        QCOMPARE(found.value().tokenEndpointAuthMethod, QStringLiteral("client_secret_post"));
        QCOMPARE(found.value().secretHash, fmb::TokenHash::of(secret));

        // A CIMD refresh turns it into a public client: no hash survives.
        client.tokenEndpointAuthMethod = QStringLiteral("none");
        client.secretHash = {};
        VERIFY_OK(store.updateClient(client));
        found = store.findClient(ClientB);
        VERIFY_OK(found);
        QCOMPARE(found.value().tokenEndpointAuthMethod, QStringLiteral("none"));
        QVERIFY(found.value().secretHash.isNull());

        client.tokenEndpointAuthMethod = QStringLiteral("client_secret_basic");
        client.secretHash = fmb::TokenHash::of(secret);
        VERIFY_OK(store.updateClient(client));
    }
    if (backend() == Backend::Sqlite) {
        QFile file(dbPath());
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray bytes = file.readAll();
        QVERIFY(!bytes.contains(secret));
    }
    RAW_DB(raw);
    QCOMPARE(
        raw.column(QStringLiteral("SELECT client_secret_hash FROM clients WHERE client_id = ?"), {ClientB}),
        QVariantList{QString::fromLatin1(fmb::TokenHash::of(secret).hex())});
}

void tst_TokenStore::olderClientsBecomePublic()
{
    SQLITE_ONLY("migration from schema version 2");
    {
        SqliteTokenStore store;
        VERIFY_OK(openStore(store));
        ClientRecord client;
        client.clientId = ClientA;
        client.redirectUris = {QStringLiteral("http://127.0.0.1/")};
        VERIFY_OK(store.registerClient(client));
    }
    {
        // Back to the schema before client secrets, version 2 (SQLite 3.35
        // drops columns).
        RawDb raw(dbPath());
        QVERIFY(raw.exec(QStringLiteral("ALTER TABLE clients DROP COLUMN client_secret_hash")));
        QVERIFY(raw.exec(QStringLiteral("ALTER TABLE clients DROP COLUMN token_endpoint_auth_method")));
        QVERIFY(raw.exec(QStringLiteral("UPDATE schema_version SET version = 2")));
    }
    SqliteTokenStore store;
    VERIFY_OK(openStore(store));
    QCOMPARE(store.schemaVersion(), fmb::Schema::latestVersion());
    Result<ClientRecord> found = store.findClient(ClientA);
    VERIFY_OK(found);
    QCOMPARE(found.value().tokenEndpointAuthMethod, QStringLiteral("none"));
    QVERIFY(found.value().secretHash.isNull());
    QCOMPARE(found.value().redirectUris, QStringList{QStringLiteral("http://127.0.0.1/")});
}

void tst_TokenStore::nullStringsStoreAsEmpty()
{
    // A null QString binds as SQL NULL and every text column is NOT NULL:
    // a client without a name or a grant without scopes must still store.
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    ClientRecord client;
    client.clientId = QStringLiteral("nameless");
    QVERIFY(client.clientName.isNull());
    VERIFY_OK(store.registerClient(client));
    Result<ClientRecord> found = store.findClient(client.clientId);
    VERIFY_OK(found);
    QVERIFY(found.value().clientName.isEmpty());

    GrantRecord grant;
    grant.userLogin = QStringLiteral("alice");
    grant.userId = 42;
    grant.clientId = client.clientId;
    QVERIFY(grant.scope.isNull());
    Result<GrantRecord> created = store.createGrant(grant, newUpstream(m_now.addSecs(3600)));
    VERIFY_OK(created);
    Result<GrantRecord> stored = store.findGrant(created.value().grantId);
    VERIFY_OK(stored);
    QVERIFY(stored.value().scope.isEmpty());
}

// --- tokens and codes ---------------------------------------------------------------

void tst_TokenStore::tokensStoredOnlyAsHashes()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();
    Result<IssuedTokens> rotated =
        store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), s.grant.clientId, lifetimes());
    VERIFY_OK(rotated);

    const QList<QByteArray> secrets = {s.tokens.accessToken,
                                       s.tokens.refreshToken,
                                       rotated.value().accessToken,
                                       rotated.value().refreshToken,
                                       s.code,
                                       s.upstream.accessToken,
                                       s.upstream.refreshToken};
    {
        RAW_DB(raw);
        QVariantList expected = {QString::fromLatin1(TokenHash::of(s.tokens.accessToken).hex()),
                                 QString::fromLatin1(TokenHash::of(s.tokens.refreshToken).hex()),
                                 QString::fromLatin1(TokenHash::of(rotated.value().accessToken).hex()),
                                 QString::fromLatin1(TokenHash::of(rotated.value().refreshToken).hex())};
        QVariantList stored = raw.column(QStringLiteral("SELECT token_hash FROM tokens"));
        std::sort(expected.begin(), expected.end(),
                  [](const QVariant &a, const QVariant &b) { return a.toString() < b.toString(); });
        std::sort(stored.begin(), stored.end(),
                  [](const QVariant &a, const QVariant &b) { return a.toString() < b.toString(); });
        QCOMPARE(stored, expected);
        QCOMPARE(raw.column(QStringLiteral("SELECT code_hash FROM auth_codes")),
                 QVariantList{QString::fromLatin1(TokenHash::of(s.code).hex())});
        const QByteArray sealed =
            raw.column(QStringLiteral("SELECT upstream_access FROM grants")).value(0).toByteArray();
        QCOMPARE(sealed.size(), s.upstream.accessToken.size() + 12 + 16);
    }

    // While open (data in the -wal file) and after close (checkpointed into the database).
    for (int pass = 0; pass < 2 && backend() == Backend::Sqlite; ++pass) {
        const QByteArray bytes = stateBytes(stateDir());
        QVERIFY(bytes.contains(TokenHash::of(s.tokens.accessToken).hex())); // the scan does see the data
        for (const QByteArray &secret : secrets)
            QVERIFY2(!bytes.contains(secret), secret.left(20).constData());
        store.close();
        QVERIFY(!QFile::exists(dbPath() + QStringLiteral("-wal")));
    }
}

void tst_TokenStore::authCodeSingleUse()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();

    Result<fmb::AuthCodeRecord> consumed = store.consumeAuthCode(TokenHash::of(s.code));
    VERIFY_OK(consumed);
    const fmb::AuthCodeRecord &code = consumed.value();
    QCOMPARE(code.codeHash, TokenHash::of(s.code));
    QCOMPARE(code.grantId, s.grant.grantId);
    QCOMPARE(code.clientId, ClientA);
    QCOMPARE(code.redirectUri, QStringLiteral("http://127.0.0.1:33418/callback"));
    QCOMPARE(code.codeChallenge, QStringLiteral("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    QCOMPARE(code.codeChallengeMethod, QStringLiteral("S256"));
    QCOMPARE(code.resource, Resource);
    QCOMPARE(code.scope, QStringLiteral("read:repository"));
    QCOMPARE(code.userLogin, QStringLiteral("alice"));
    QCOMPARE(code.userId, 42);
    QCOMPARE(code.created, m_now);
    QCOMPARE(code.expiresAt, m_now.addSecs(300));

    // The exchange issued tokens; the seed pair stands in for them.
    VERIFY_OK(store.findAccessToken(TokenHash::of(s.tokens.accessToken)));

    for (int replay = 0; replay < 2; ++replay) {
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(QStringLiteral("authorization code %1 of grant %2 "
                                                            "was presented again")
                                                 .arg(TokenHash::of(s.code).fingerprint(), s.grant.grantId)));
        Result<fmb::AuthCodeRecord> again = store.consumeAuthCode(TokenHash::of(s.code));
        QVERIFY(!again.ok());
        QCOMPARE(again.error().code, ErrorCode::Conflict);
        QCOMPARE(again.error().subject, s.grant.grantId); // enough for the caller to act on the grant
        QVERIFY(!again.error().message.contains(QString::fromLatin1(s.code)));
    }
    VERIFY_ERROR(store.findAccessToken(TokenHash::of(s.tokens.accessToken)), ErrorCode::Unauthorized);
    VERIFY_ERROR(store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()),
                 ErrorCode::Unauthorized);
    VERIFY_OK(store.findGrant(s.grant.grantId)); // the grant itself is the caller's call
}

void tst_TokenStore::authCodeExpiry_data()
{
    QTest::addColumn<qint64>("elapsedMs");
    QTest::addColumn<bool>("accepted");
    QTest::newRow("at once") << qint64(0) << true;
    QTest::newRow("1 ms before expiry") << qint64(300 * 1000 - 1) << true;
    QTest::newRow("at expiry") << qint64(300 * 1000) << false;
    QTest::newRow("an hour later") << qint64(3600 * 1000) << false;
}

void tst_TokenStore::authCodeExpiry()
{
    QFETCH(qint64, elapsedMs);
    QFETCH(bool, accepted);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store); // the code expires after 300 s
    VERIFY_OK(seeded);
    m_now = m_now.addMSecs(elapsedMs);
    Result<fmb::AuthCodeRecord> consumed = store.consumeAuthCode(TokenHash::of(seeded.value().code));
    QCOMPARE(consumed.ok(), accepted);
    if (!accepted) {
        QCOMPARE(consumed.error().code, ErrorCode::Unauthorized);
        QVERIFY(consumed.error().message.contains(QLatin1String("expired")));
        // An expired code is not a replay: the grant's tokens stay.
        m_now = m_now.addMSecs(-elapsedMs);
        VERIFY_OK(store.findAccessToken(TokenHash::of(seeded.value().tokens.accessToken)));
    }
}

void tst_TokenStore::accessTokenExpiry_data()
{
    QTest::addColumn<qint64>("elapsedMs");
    QTest::addColumn<bool>("valid");
    QTest::newRow("just issued") << qint64(0) << true;
    QTest::newRow("1 ms before expiry") << qint64(3600 * 1000 - 1) << true;
    QTest::newRow("at expiry") << qint64(3600 * 1000) << false;
    QTest::newRow("a day later") << qint64(86400 * 1000) << false;
}

void tst_TokenStore::accessTokenExpiry()
{
    QFETCH(qint64, elapsedMs);
    QFETCH(bool, valid);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store); // access tokens live 1 h
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();
    m_now = m_now.addMSecs(elapsedMs);
    Result<fmb::TokenRecord> found = store.findAccessToken(TokenHash::of(s.tokens.accessToken));
    QCOMPARE(found.ok(), valid);
    if (valid) {
        const fmb::TokenRecord &token = found.value();
        QCOMPARE(token.kind, fmb::TokenKind::Access);
        QCOMPARE(token.grantId, s.grant.grantId);
        QCOMPARE(token.familyId, s.tokens.familyId);
        QCOMPARE(token.clientId, ClientA);
        QCOMPARE(token.userLogin, QStringLiteral("alice"));
        QCOMPARE(token.userId, 42);
        QCOMPARE(token.scope, Scope);
        QCOMPARE(token.resource, Resource);
        QCOMPARE(token.expiresAt, s.tokens.accessExpiresAt);
        QVERIFY(!token.revoked);
    } else {
        QCOMPARE(found.error().code, ErrorCode::Unauthorized);
        QCOMPARE(found.error().subject, TokenHash::of(s.tokens.accessToken).fingerprint());
        QVERIFY(found.error().message.contains(QLatin1String("expired")));
    }
}

void tst_TokenStore::concurrentConsumeOnce_data()
{
    QTest::addColumn<bool>("rotate");
    QTest::newRow("authorization code") << false;
    QTest::newRow("refresh token") << true;
}

// Several stores on one database (as several threads or processes would be),
// all spending the same credential at once: exactly one wins.
void tst_TokenStore::concurrentConsumeOnce()
{
    QFETCH(bool, rotate);
    constexpr int Racers = 6;
    Seed s;
    {
        OWN_STORE(store);
        VERIFY_OK(openStore(store));
        Result<Seed> seeded = seed(store);
        VERIFY_OK(seeded);
        s = seeded.value();
    }

    for (int i = 1; i < Racers; ++i) {
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral(
                                               "was (presented again|used again after rotation)")));
    }
    std::array<std::optional<ErrorCode>, Racers> outcomes; // nullopt: succeeded
    std::array<bool, Racers> opened{};
    std::atomic<int> ready{0};
    QList<QThread *> threads;
    for (int i = 0; i < Racers; ++i) {
        threads.append(QThread::create([&, i] {
            OWN_STORE(store);
            opened[i] = openStore(store).ok();
            ++ready;
            while (ready.load() < Racers)
                QThread::yieldCurrentThread();
            const Result<void> r = rotate ? status(store.rotateRefreshToken(
                                                TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()))
                                          : status(store.consumeAuthCode(TokenHash::of(s.code)));
            if (!r.ok())
                outcomes[i] = r.error().code;
        }));
        threads.last()->start();
    }
    for (QThread *thread : std::as_const(threads)) {
        QVERIFY(thread->wait(30000));
        delete thread;
    }

    int wins = 0;
    for (int i = 0; i < Racers; ++i) {
        QVERIFY(opened[i]);
        if (!outcomes[i].has_value())
            ++wins;
        else
            QCOMPARE(*outcomes[i], ErrorCode::Conflict);
    }
    QCOMPARE(wins, 1);
}

void tst_TokenStore::refreshRotation()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const IssuedTokens first = seeded.value().tokens;

    m_now = m_now.addSecs(600);
    Result<IssuedTokens> second =
        store.rotateRefreshToken(TokenHash::of(first.refreshToken), ClientA, lifetimes());
    VERIFY_OK(second);
    QCOMPARE(second.value().familyId, first.familyId);
    QCOMPARE(second.value().grantId, first.grantId);
    QCOMPARE(second.value().scope, first.scope);
    QCOMPARE(second.value().resource, Resource);
    QCOMPARE(second.value().accessExpiresAt, m_now.addSecs(3600));
    QVERIFY(second.value().accessToken != first.accessToken);
    QVERIFY(second.value().refreshToken != first.refreshToken);

    VERIFY_OK(store.findAccessToken(TokenHash::of(second.value().accessToken)));
    VERIFY_OK(store.findAccessToken(TokenHash::of(first.accessToken))); // lives out its hour
    Result<IssuedTokens> third =
        store.rotateRefreshToken(TokenHash::of(second.value().refreshToken), ClientA, lifetimes());
    VERIFY_OK(third);
    QCOMPARE(third.value().familyId, first.familyId);
}

void tst_TokenStore::refreshReuseRevokesFamily()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();
    const IssuedTokens first = s.tokens;
    Result<IssuedTokens> otherFamily = store.issueTokenPair(s.grant.grantId, lifetimes());
    VERIFY_OK(otherFamily);
    QVERIFY(otherFamily.value().familyId != first.familyId);

    Result<IssuedTokens> second =
        store.rotateRefreshToken(TokenHash::of(first.refreshToken), ClientA, lifetimes());
    VERIFY_OK(second);
    Result<IssuedTokens> third =
        store.rotateRefreshToken(TokenHash::of(second.value().refreshToken), ClientA, lifetimes());
    VERIFY_OK(third);

    // An attacker (or a confused client) presents the first, long-rotated refresh token.
    QTest::ignoreMessage(
        QtWarningMsg,
        QRegularExpression(QStringLiteral("refresh token %1 of grant %2 was used "
                                          "again after rotation")
                               .arg(TokenHash::of(first.refreshToken).fingerprint(), s.grant.grantId)));
    Result<IssuedTokens> replay =
        store.rotateRefreshToken(TokenHash::of(first.refreshToken), ClientA, lifetimes());
    QVERIFY(!replay.ok());
    QCOMPARE(replay.error().code, ErrorCode::Conflict);
    QCOMPARE(replay.error().subject, s.grant.grantId);

    for (const QByteArray &access :
         {first.accessToken, second.value().accessToken, third.value().accessToken})
        VERIFY_ERROR(store.findAccessToken(TokenHash::of(access)), ErrorCode::Unauthorized);
    VERIFY_ERROR(store.rotateRefreshToken(TokenHash::of(third.value().refreshToken), ClientA, lifetimes()),
                 ErrorCode::Unauthorized);

    // The grant's other family is untouched.
    VERIFY_OK(store.findAccessToken(TokenHash::of(otherFamily.value().accessToken)));
    VERIFY_OK(
        store.rotateRefreshToken(TokenHash::of(otherFamily.value().refreshToken), ClientA, lifetimes()));
}

void tst_TokenStore::rotateRejected_data()
{
    QTest::addColumn<RotateCase>("which");
    QTest::addColumn<ErrorCode>("code");
    QTest::addColumn<bool>("refreshStillWorks");
    QTest::newRow("another client presents it") << RotateCase::OtherClient << ErrorCode::Unauthorized << true;
    QTest::newRow("an access token presented") << RotateCase::AccessToken << ErrorCode::Unauthorized << true;
    QTest::newRow("expired refresh token") << RotateCase::Expired << ErrorCode::Unauthorized << false;
    QTest::newRow("revoked refresh token") << RotateCase::Revoked << ErrorCode::Unauthorized << false;
    QTest::newRow("scope widened") << RotateCase::WiderScope << ErrorCode::InvalidArgument << true;
    QTest::newRow("resource changed") << RotateCase::OtherResource << ErrorCode::InvalidArgument << true;
}

void tst_TokenStore::rotateRejected()
{
    QFETCH(RotateCase, which);
    QFETCH(ErrorCode, code);
    QFETCH(bool, refreshStillWorks);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();
    TokenHash presented = TokenHash::of(s.tokens.refreshToken);
    QString clientId = ClientA;
    TokenRequest request = lifetimes();

    switch (which) {
    case RotateCase::OtherClient:
        clientId = ClientB;
        break;
    case RotateCase::AccessToken:
        presented = TokenHash::of(s.tokens.accessToken);
        break;
    case RotateCase::Expired:
        m_now = s.tokens.refreshExpiresAt;
        request = lifetimes();
        break;
    case RotateCase::Revoked:
        VERIFY_OK(store.revokeToken(presented, ClientA));
        break;
    case RotateCase::WiderScope:
        request.scope = Scope + QStringLiteral(" write:repository");
        break;
    case RotateCase::OtherResource:
        request.resource = QStringLiteral("https://other.example/mcp");
        break;
    }

    Result<IssuedTokens> rotated = store.rotateRefreshToken(presented, clientId, request);
    QVERIFY(!rotated.ok());
    QCOMPARE(rotated.error().code, code);
    QCOMPARE(store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()).ok(),
             refreshStillWorks);
}

void tst_TokenStore::rotateNarrowsScope()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    Result<IssuedTokens> narrowed =
        store.rotateRefreshToken(TokenHash::of(seeded.value().tokens.refreshToken), ClientA,
                                 lifetimes(QStringLiteral("read:repository")));
    VERIFY_OK(narrowed);
    QCOMPARE(narrowed.value().scope, QStringLiteral("read:repository"));
    Result<fmb::TokenRecord> token = store.findAccessToken(TokenHash::of(narrowed.value().accessToken));
    VERIFY_OK(token);
    QCOMPARE(token.value().scope, QStringLiteral("read:repository"));
    // Once narrowed, the family cannot widen again.
    VERIFY_ERROR(
        store.rotateRefreshToken(TokenHash::of(narrowed.value().refreshToken), ClientA, lifetimes(Scope)),
        ErrorCode::InvalidArgument);
}

void tst_TokenStore::revokeToken_data()
{
    QTest::addColumn<RevokeCase>("which");
    QTest::newRow("access token: only itself") << RevokeCase::Access;
    QTest::newRow("refresh token: its whole family") << RevokeCase::Refresh;
}

void tst_TokenStore::revokeToken()
{
    QFETCH(RevokeCase, which);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const IssuedTokens pair = seeded.value().tokens;
    Result<IssuedTokens> other = store.issueTokenPair(seeded.value().grant.grantId, lifetimes());
    VERIFY_OK(other);

    const QByteArray revoked = which == RevokeCase::Access ? pair.accessToken : pair.refreshToken;
    Result<fmb::TokenRecord> record = store.revokeToken(TokenHash::of(revoked), ClientA);
    VERIFY_OK(record);
    // What went, for the audit trail.
    QCOMPARE(record.value().kind,
             which == RevokeCase::Access ? fmb::TokenKind::Access : fmb::TokenKind::Refresh);
    QCOMPARE(record.value().grantId, seeded.value().grant.grantId);
    QCOMPARE(record.value().userLogin, seeded.value().grant.userLogin);
    QCOMPARE(record.value().clientId, ClientA);
    VERIFY_OK(store.revokeToken(TokenHash::of(revoked), ClientA)); // idempotent, as RFC 7009 wants

    VERIFY_ERROR(store.findAccessToken(TokenHash::of(pair.accessToken)), ErrorCode::Unauthorized);
    QCOMPARE(store.rotateRefreshToken(TokenHash::of(pair.refreshToken), ClientA, lifetimes()).ok(),
             which == RevokeCase::Access);
    VERIFY_OK(store.findAccessToken(TokenHash::of(other.value().accessToken)));
}

void tst_TokenStore::revokeGrantRemovesEverything()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();
    Result<GrantRecord> otherGrant =
        addGrant(store, ClientA, 42, QStringLiteral("alice"), newUpstream(m_now.addSecs(60)));
    VERIFY_OK(otherGrant);

    VERIFY_OK(store.revokeGrant(s.grant.grantId));
    VERIFY_ERROR(store.findGrant(s.grant.grantId), ErrorCode::NotFound);
    VERIFY_ERROR(store.upstreamTokens(s.grant.grantId), ErrorCode::NotFound);
    VERIFY_ERROR(store.findAccessToken(TokenHash::of(s.tokens.accessToken)), ErrorCode::Unauthorized);
    VERIFY_ERROR(store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()),
                 ErrorCode::Unauthorized);
    VERIFY_ERROR(store.consumeAuthCode(TokenHash::of(s.code)), ErrorCode::Unauthorized);
    VERIFY_ERROR(store.revokeGrant(s.grant.grantId), ErrorCode::NotFound);
    {
        RAW_DB(raw);
        QCOMPARE(raw.column(QStringLiteral("SELECT count(*) FROM tokens")), QVariantList{0});
        QCOMPARE(raw.column(QStringLiteral("SELECT count(*) FROM auth_codes")), QVariantList{0});
        QCOMPARE(raw.column(QStringLiteral("SELECT grant_id FROM grants")),
                 QVariantList{otherGrant.value().grantId});
    }
    Result<QList<GrantRecord>> grants = store.grantsForUser(42);
    VERIFY_OK(grants);
    QCOMPARE(grants.value().size(), 1);
    VERIFY_OK(store.upstreamTokens(otherGrant.value().grantId));
}

// Issue 15: revoking a user leaves nothing of theirs usable, and nobody
// else's grant is touched.
void tst_TokenStore::revokeUserTakesEverything()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();
    Result<GrantRecord> second =
        addGrant(store, ClientB, 42, QStringLiteral("alice"), newUpstream(m_now.addSecs(60)));
    VERIFY_OK(second);
    Result<IssuedTokens> secondPair = store.issueTokenPair(second.value().grantId, lifetimes());
    VERIFY_OK(secondPair);
    Result<GrantRecord> bob =
        addGrant(store, ClientA, 7, QStringLiteral("bob"), newUpstream(m_now.addSecs(60)));
    VERIFY_OK(bob);
    Result<IssuedTokens> bobPair = store.issueTokenPair(bob.value().grantId, lifetimes());
    VERIFY_OK(bobPair);
    VERIFY_OK(store.recordConsent(42, ClientA, Scope));
    VERIFY_OK(store.recordConsent(7, ClientA, Scope));

    Result<UserRevocation> taken = store.revokeUser(QStringLiteral("alice"));
    VERIFY_OK(taken);
    QCOMPARE(taken.value().grants, 2);
    QCOMPARE(taken.value().brokerTokens, 4);
    QCOMPARE(taken.value().upstreamTokens, 2);
    QCOMPARE(taken.value().grantIds, (QStringList{s.grant.grantId, second.value().grantId}));

    VERIFY_ERROR(store.findAccessToken(TokenHash::of(s.tokens.accessToken)), ErrorCode::Unauthorized);
    VERIFY_ERROR(store.findAccessToken(TokenHash::of(secondPair.value().accessToken)),
                 ErrorCode::Unauthorized);
    QVERIFY(!store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()).ok());
    QVERIFY(!store.consumeAuthCode(TokenHash::of(s.code)).ok());
    VERIFY_ERROR(store.upstreamTokens(s.grant.grantId), ErrorCode::Unauthorized);
    VERIFY_ERROR(store.upstreamTokens(second.value().grantId), ErrorCode::Unauthorized);
    Result<QList<GrantRecord>> grants = store.grantsForUser(42);
    VERIFY_OK(grants);
    QVERIFY(grants.value().isEmpty());
    Result<bool> consent = store.hasConsent(42, ClientA, Scope);
    VERIFY_OK(consent);
    QVERIFY(!consent.value());
    {
        RAW_DB(raw);
        // Wiped, not only flagged: no ciphertext of alice's Forgejo tokens is left.
        QCOMPARE(
            raw.column(QStringLiteral("SELECT count(*) FROM grants WHERE user_login = 'alice' "
                                      "AND (length(upstream_access) > 0 OR upstream_refresh IS NOT NULL)")),
            QVariantList{0});
    }

    VERIFY_OK(store.findAccessToken(TokenHash::of(bobPair.value().accessToken)));
    VERIFY_OK(store.upstreamTokens(bob.value().grantId));
    consent = store.hasConsent(7, ClientA, Scope);
    VERIFY_OK(consent);
    QVERIFY(consent.value());

    // Again, or for a user nobody knows: nothing left to take.
    for (const QString &user : {QStringLiteral("alice"), QStringLiteral("nobody")}) {
        Result<UserRevocation> again = store.revokeUser(user);
        VERIFY_OK(again);
        QCOMPARE(again.value().grants, 0);
        QCOMPARE(again.value().brokerTokens, 0);
        QCOMPARE(again.value().upstreamTokens, 0);
    }
    VERIFY_ERROR(store.revokeUser(QString()), ErrorCode::InvalidArgument);

    // Signing in again works: a new grant for alice is live.
    Result<GrantRecord> back =
        addGrant(store, ClientA, 42, QStringLiteral("alice"), newUpstream(m_now.addSecs(60)));
    VERIFY_OK(back);
    VERIFY_OK(store.issueTokenPair(back.value().grantId, lifetimes()));
    VERIFY_OK(store.upstreamTokens(back.value().grantId));
}

// --- upstream tokens ----------------------------------------------------------------

void tst_TokenStore::upstreamTokensSaved_data()
{
    QTest::addColumn<bool>("newRefresh");
    QTest::addColumn<bool>("withExpiry");
    QTest::newRow("new access and refresh token") << true << true;
    QTest::newRow("no new refresh token keeps the old one") << false << true;
    QTest::newRow("no expiry given") << true << false;
}

void tst_TokenStore::upstreamTokensSaved()
{
    QFETCH(bool, newRefresh);
    QFETCH(bool, withExpiry);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();

    Result<UpstreamTokens> before = store.upstreamTokens(s.grant.grantId);
    VERIFY_OK(before);
    QCOMPARE(before.value().accessToken, s.upstream.accessToken);
    QCOMPARE(before.value().refreshToken, s.upstream.refreshToken);
    QCOMPARE(before.value().accessExpiresAt, s.upstream.accessExpiresAt);
    QCOMPARE(s.grant.upstreamAccessExpiresAt, s.upstream.accessExpiresAt);

    m_now = m_now.addSecs(3000);
    UpstreamTokens next = newUpstream(withExpiry ? m_now.addSecs(3600) : QDateTime());
    if (!newRefresh)
        next.refreshToken.clear();
    VERIFY_OK(store.saveUpstreamTokens(s.grant.grantId, next));

    Result<UpstreamTokens> after = store.upstreamTokens(s.grant.grantId);
    VERIFY_OK(after);
    QCOMPARE(after.value().accessToken, next.accessToken);
    QCOMPARE(after.value().refreshToken, newRefresh ? next.refreshToken : s.upstream.refreshToken);
    QCOMPARE(after.value().accessExpiresAt, next.accessExpiresAt);
    Result<GrantRecord> grant = store.findGrant(s.grant.grantId);
    VERIFY_OK(grant);
    QCOMPARE(grant.value().upstreamAccessExpiresAt, next.accessExpiresAt);
    QCOMPARE(grant.value().created, s.grant.created);

    Result<QList<GrantRecord>> due = store.grantsExpiringBefore(m_now.addDays(365));
    VERIFY_OK(due);
    QCOMPARE(due.value().size(), withExpiry ? 1 : 0);
}

void tst_TokenStore::upstreamCiphertextBoundToRow_data()
{
    QTest::addColumn<SwapCase>("which");
    QTest::newRow("access token copied from another grant") << SwapCase::AccessFromOtherGrant;
    QTest::newRow("the row's refresh token put in its access column") << SwapCase::RefreshAsAccess;
}

void tst_TokenStore::upstreamCiphertextBoundToRow()
{
    QFETCH(SwapCase, which);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<GrantRecord> mallory =
        addGrant(store, ClientA, 7, QStringLiteral("mallory"), newUpstream(m_now.addSecs(3600)));
    VERIFY_OK(mallory);
    Result<GrantRecord> alice =
        addGrant(store, ClientA, 42, QStringLiteral("alice"), newUpstream(m_now.addSecs(3600)));
    VERIFY_OK(alice);
    {
        RAW_DB(raw);
        if (which == SwapCase::AccessFromOtherGrant) {
            QVERIFY(raw.exec(
                QStringLiteral("UPDATE grants SET upstream_access = (SELECT upstream_access FROM grants "
                               "WHERE grant_id = ?) WHERE grant_id = ?"),
                {alice.value().grantId, mallory.value().grantId}));
        } else {
            QVERIFY(raw.exec(
                QStringLiteral("UPDATE grants SET upstream_access = upstream_refresh WHERE grant_id = ?"),
                {mallory.value().grantId}));
        }
    }
    Result<UpstreamTokens> opened = store.upstreamTokens(mallory.value().grantId);
    QVERIFY(!opened.ok());
    QCOMPARE(opened.error().code, ErrorCode::Unauthorized);
    QCOMPARE(opened.error().subject, mallory.value().grantId);
    VERIFY_OK(store.upstreamTokens(alice.value().grantId));
}

void tst_TokenStore::grantsExpiringBefore_data()
{
    QTest::addColumn<qint64>("beforeSecs");
    QTest::addColumn<QStringList>("logins");
    // Upstream expiries: carol +60 s, alice +120 s, bob +600 s, dave none.
    QTest::newRow("before now") << qint64(0) << QStringList{};
    QTest::newRow("exactly at the first expiry (strict)") << qint64(60) << QStringList{};
    QTest::newRow("within 5 minutes, soonest first")
        << qint64(300) << QStringList{QStringLiteral("carol"), QStringLiteral("alice")};
    QTest::newRow("within an hour") << qint64(3600)
                                    << QStringList{QStringLiteral("carol"), QStringLiteral("alice"),
                                                   QStringLiteral("bob")};
}

void tst_TokenStore::grantsExpiringBefore()
{
    QFETCH(qint64, beforeSecs);
    QFETCH(QStringList, logins);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    const QList<std::pair<QString, QDateTime>> users = {{QStringLiteral("alice"), m_now.addSecs(120)},
                                                        {QStringLiteral("bob"), m_now.addSecs(600)},
                                                        {QStringLiteral("carol"), m_now.addSecs(60)},
                                                        {QStringLiteral("dave"), QDateTime()}};
    qint64 userId = 100;
    for (const auto &[login, expiry] : users)
        VERIFY_OK(addGrant(store, ClientA, ++userId, login, newUpstream(expiry)));

    Result<QList<GrantRecord>> due = store.grantsExpiringBefore(m_now.addSecs(beforeSecs));
    VERIFY_OK(due);
    QStringList got;
    for (const GrantRecord &grant : due.value())
        got.append(grant.userLogin);
    QCOMPARE(got, logins);
}

// --- consent ----------------------------------------------------------------------

void tst_TokenStore::consentCovers_data()
{
    QTest::addColumn<QString>("approved");
    QTest::addColumn<QString>("asked");
    QTest::addColumn<bool>("covered");
    QTest::newRow("same scope") << Scope << Scope << true;
    QTest::newRow("same scope, other order")
        << Scope << QStringLiteral("write:issue read:repository") << true;
    QTest::newRow("a subset") << Scope << QStringLiteral("read:repository") << true;
    QTest::newRow("no scope asked") << Scope << QString() << true;
    QTest::newRow("one more scope") << Scope << Scope + QStringLiteral(" write:repository") << false;
    QTest::newRow("another scope") << Scope << QStringLiteral("read:admin") << false;
    QTest::newRow("prefix is not a match")
        << QStringLiteral("read:repo") << QStringLiteral("read:repository") << false;
}

void tst_TokenStore::consentCovers()
{
    QFETCH(QString, approved);
    QFETCH(QString, asked);
    QFETCH(bool, covered);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    VERIFY_OK(seed(store));
    VERIFY_OK(store.recordConsent(42, ClientA, approved));
    Result<bool> has = store.hasConsent(42, ClientA, asked);
    VERIFY_OK(has);
    QCOMPARE(has.value(), covered);
}

void tst_TokenStore::consentLifecycle()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    VERIFY_OK(seed(store, ClientA));
    VERIFY_OK(seed(store, ClientB));
    const auto has = [&store](qint64 user, const QString &client, const QString &scope) {
        Result<bool> r = store.hasConsent(user, client, scope);
        return r.ok() && r.value();
    };
    QVERIFY(!has(42, ClientA, Scope));
    VERIFY_OK(store.recordConsent(42, ClientA, Scope));
    QVERIFY(has(42, ClientA, Scope));
    QVERIFY(!has(43, ClientA, Scope));                                              // another user
    QVERIFY(!has(42, ClientB, Scope));                                              // another client
    VERIFY_OK(store.recordConsent(42, ClientA, QStringLiteral("read:repository"))); // replaces
    QVERIFY(!has(42, ClientA, Scope));
    QVERIFY(has(42, ClientA, QStringLiteral("read:repository")));
    VERIFY_OK(store.revokeConsent(42, ClientA));
    QVERIFY(!has(42, ClientA, QStringLiteral("read:repository")));

    VERIFY_OK(store.recordConsent(42, ClientB, Scope));
    VERIFY_OK(store.deleteClient(ClientB)); // takes its consents, grants and tokens along
    QVERIFY(!has(42, ClientB, Scope));
    Result<QList<GrantRecord>> grants = store.grantsForUser(42);
    VERIFY_OK(grants);
    QCOMPARE(grants.value().size(), 1);
    QCOMPARE(grants.value().constFirst().clientId, ClientA);
}

// --- housekeeping -----------------------------------------------------------------

void tst_TokenStore::revokedGrantKeepsNothing_data()
{
    QTest::addColumn<KillCase>("kill");
    QTest::newRow("refresh token replayed after rotation") << KillCase::RefreshReplay;
    QTest::newRow("authorization code replayed") << KillCase::CodeReplay;
    QTest::newRow("refresh token revoked (RFC 7009)") << KillCase::RefreshRevoked;
}

// Issue 11 item 5e: once no live refresh token or code is left, the grant's
// Forgejo tokens leave the file and it is never refreshed or shared again.
void tst_TokenStore::revokedGrantKeepsNothing()
{
    QFETCH(KillCase, kill);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();
    VERIFY_OK(store.consumeAuthCode(TokenHash::of(s.code)));
    // A sibling grant of the same user (another client) stays alive throughout.
    Result<GrantRecord> sibling = addGrant(store, ClientB, 42, QStringLiteral("alice"), s.upstream);
    VERIFY_OK(sibling);
    VERIFY_OK(store.issueTokenPair(sibling.value().grantId, lifetimes()));
    RAW_DB(raw);
    const QString sealedSql = QStringLiteral("SELECT upstream_access FROM grants WHERE grant_id = ?");
    const QByteArray sealed = raw.column(sealedSql, {s.grant.grantId}).value(0).toByteArray();
    QVERIFY(sealed.size() > 16);
    const bool inFiles = backend() == Backend::Sqlite; // PostgreSQL keeps old row versions until VACUUM
    QVERIFY(!inFiles || stateBytes(stateDir()).contains(sealed));

    QTest::ignoreMessage(
        QtInfoMsg,
        QRegularExpression(QStringLiteral("grant %1 has no live token left").arg(s.grant.grantId)));
    switch (kill) {
    case KillCase::RefreshReplay: {
        VERIFY_OK(store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()));
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("used again after rotation")));
        VERIFY_ERROR(store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()),
                     ErrorCode::Conflict);
        break;
    }
    case KillCase::CodeReplay:
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("was presented again")));
        VERIFY_ERROR(store.consumeAuthCode(TokenHash::of(s.code)), ErrorCode::Conflict);
        break;
    case KillCase::RefreshRevoked:
        VERIFY_OK(store.revokeToken(TokenHash::of(s.tokens.refreshToken), ClientA));
        break;
    }

    QCOMPARE(raw.column(QStringLiteral("SELECT length(upstream_access) FROM grants WHERE grant_id = ?"),
                        {s.grant.grantId}),
             QVariantList{0});
    QCOMPARE(raw.column(QStringLiteral("SELECT count(*) FROM grants WHERE grant_id = ? AND "
                                       "upstream_refresh IS NULL AND upstream_expires_ms IS NULL"),
                        {s.grant.grantId}),
             QVariantList{1});
    QVERIFY2(!inFiles || !stateBytes(stateDir()).contains(sealed),
             "the sealed upstream token is still in the files");
    VERIFY_ERROR(store.upstreamTokens(s.grant.grantId), ErrorCode::Unauthorized);
    Result<GrantRecord> grant = store.findGrant(s.grant.grantId);
    VERIFY_OK(grant);
    QVERIFY(grant.value().revoked.isValid());
    QVERIFY(!grant.value().upstreamAccessExpiresAt.isValid());

    // Not on the rotator's list, not among the user's grants a refresh is shared with.
    Result<QList<GrantRecord>> expiring = store.grantsExpiringBefore(m_now.addDays(365));
    VERIFY_OK(expiring);
    QCOMPARE(expiring.value().size(), 1);
    QCOMPARE(expiring.value().constFirst().grantId, sibling.value().grantId);
    Result<QList<GrantRecord>> ofUser = store.grantsForUser(42);
    VERIFY_OK(ofUser);
    QCOMPARE(ofUser.value().size(), 1);
    QCOMPARE(ofUser.value().constFirst().grantId, sibling.value().grantId);
    VERIFY_ERROR(store.saveUpstreamTokens(s.grant.grantId, newUpstream(m_now.addSecs(7200))),
                 ErrorCode::Unauthorized);
    QCOMPARE(raw.column(QStringLiteral("SELECT length(upstream_access) FROM grants WHERE grant_id = ?"),
                        {s.grant.grantId}),
             QVariantList{0});
    VERIFY_OK(store.upstreamTokens(sibling.value().grantId));
}

void tst_TokenStore::pendingClientsCountedAndPurged()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    const QDateTime start = m_now;
    for (const QString &id : {QStringLiteral("first"), QStringLiteral("second"), QStringLiteral("third")}) {
        ClientRecord client;
        client.clientId = id;
        client.redirectUris = {QStringLiteral("http://127.0.0.1:33418/callback")};
        VERIFY_OK(store.registerClient(client));
        m_now = m_now.addSecs(60);
    }
    Result<fmb::PendingClients> pending = store.pendingClients();
    VERIFY_OK(pending);
    QCOMPARE(pending.value().count, 3);
    QCOMPARE(pending.value().oldest, start);

    // "first" completes an authorization: no longer pending, never purged.
    VERIFY_OK(addGrant(store, QStringLiteral("first"), 42, QStringLiteral("alice"), newUpstream(m_now)));
    pending = store.pendingClients();
    VERIFY_OK(pending);
    QCOMPARE(pending.value().count, 2);
    QCOMPARE(pending.value().oldest, start.addSecs(60));

    Result<int> purged = store.purgePendingClients(start.addSecs(120)); // "second" only
    VERIFY_OK(purged);
    QCOMPARE(purged.value(), 1);
    VERIFY_ERROR(store.findClient(QStringLiteral("second")), ErrorCode::NotFound);
    VERIFY_OK(store.findClient(QStringLiteral("third")));
    purged = store.purgePendingClients(m_now.addDays(365));
    VERIFY_OK(purged);
    QCOMPARE(purged.value(), 1);
    VERIFY_OK(store.findClient(QStringLiteral("first")));
    pending = store.pendingClients();
    VERIFY_OK(pending);
    QCOMPARE(pending.value().count, 0);
    QVERIFY(!pending.value().oldest.isValid());
}

void tst_TokenStore::purgeExpired()
{
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<Seed> seeded = seed(store); // access 1 h, refresh 30 d, code 5 min
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();
    Result<IssuedTokens> second =
        store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes());
    VERIFY_OK(second);

    Result<fmb::PurgeCounts> nothing = store.purgeExpired();
    VERIFY_OK(nothing);
    QCOMPARE(nothing.value().tokens, 0);
    QCOMPARE(nothing.value().authCodes, 0);

    m_now = m_now.addSecs(2 * 3600);
    Result<fmb::PurgeCounts> counts = store.purgeExpired();
    VERIFY_OK(counts);
    QCOMPARE(counts.value().tokens, 2); // both access tokens
    QCOMPARE(counts.value().authCodes, 1);

    // The rotated refresh token is kept until it expires, so its replay is still caught.
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("used again after rotation")));
    VERIFY_ERROR(store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()),
                 ErrorCode::Conflict);

    m_now = m_now.addDays(31);
    counts = store.purgeExpired();
    VERIFY_OK(counts);
    QCOMPARE(counts.value().tokens, 2); // both refresh tokens
    QCOMPARE(counts.value().grants, 1); // revoked by the replay, and now without tokens
    RAW_DB(raw);
    QCOMPARE(raw.column(QStringLiteral("SELECT count(*) FROM tokens")), QVariantList{0});
    QCOMPARE(raw.column(QStringLiteral("SELECT count(*) FROM grants")), QVariantList{0});
}

void tst_TokenStore::restartKeepsEverything()
{
    Seed s;
    QString connectionName;
    {
        OWN_STORE(store);
        VERIFY_OK(openStore(store));
        Result<Seed> seeded = seed(store);
        VERIFY_OK(seeded);
        s = seeded.value();
        VERIFY_OK(store.recordConsent(42, ClientA, Scope));
        QCOMPARE(QSqlDatabase::connectionNames().size(), 1);
        connectionName = QSqlDatabase::connectionNames().constFirst();
    }
    QVERIFY(!QSqlDatabase::contains(connectionName));

    m_now = m_now.addSecs(60);
    OWN_STORE(store);
    VERIFY_OK(openStore(store));
    Result<ClientRecord> client = store.findClient(ClientA);
    VERIFY_OK(client);
    QCOMPARE(client.value().redirectUris, QStringList{QStringLiteral("http://127.0.0.1:33418/callback")});
    Result<GrantRecord> grant = store.findGrant(s.grant.grantId);
    VERIFY_OK(grant);
    QCOMPARE(grant.value().userLogin, s.grant.userLogin);
    QCOMPARE(grant.value().userId, s.grant.userId);
    QCOMPARE(grant.value().clientId, s.grant.clientId);
    QCOMPARE(grant.value().scope, s.grant.scope);
    QCOMPARE(grant.value().created, s.grant.created);
    QCOMPARE(grant.value().upstreamAccessExpiresAt, s.grant.upstreamAccessExpiresAt);

    Result<UpstreamTokens> upstream = store.upstreamTokens(s.grant.grantId);
    VERIFY_OK(upstream);
    QCOMPARE(upstream.value().accessToken, s.upstream.accessToken);
    QCOMPARE(upstream.value().refreshToken, s.upstream.refreshToken);
    QCOMPARE(upstream.value().accessExpiresAt, s.upstream.accessExpiresAt);

    VERIFY_OK(store.findAccessToken(TokenHash::of(s.tokens.accessToken)));
    VERIFY_OK(store.consumeAuthCode(TokenHash::of(s.code)));
    Result<bool> consent = store.hasConsent(42, ClientA, Scope);
    VERIFY_OK(consent);
    QVERIFY(consent.value());
    Result<QList<GrantRecord>> due = store.grantsExpiringBefore(m_now.addSecs(3600));
    VERIFY_OK(due);
    QCOMPARE(due.value().size(), 1);
    VERIFY_OK(store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()));
}

void tst_TokenStore::logsNeverShowSecrets()
{
    capturedLog.clear();
    QLoggingCategory::setFilterRules(QStringLiteral("fmb.store.debug=true"));
    const QtMessageHandler previous = qInstallMessageHandler(captureMessage);
    QList<QByteArray> secrets;
    {
        OWN_STORE(store);
        Result<void> opened = openStore(store);
        Result<Seed> seeded = opened.ok() ? seed(store) : Result<Seed>(opened.error());
        if (seeded.ok()) {
            const Seed &s = seeded.value();
            secrets = {s.tokens.accessToken, s.tokens.refreshToken, s.code, s.upstream.accessToken,
                       s.upstream.refreshToken};
            Result<IssuedTokens> next =
                store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes());
            if (next.ok())
                secrets << next.value().accessToken << next.value().refreshToken;
            (void)store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes());
            (void)store.consumeAuthCode(TokenHash::of(s.code));
            (void)store.consumeAuthCode(TokenHash::of(s.code));
            (void)store.saveUpstreamTokens(s.grant.grantId, newUpstream(m_now.addSecs(60)));
            (void)store.revokeGrant(s.grant.grantId);
        }
        QVERIFY2(seeded.ok(), describe(seeded).constData());
    }
    qInstallMessageHandler(previous);
    QLoggingCategory::setFilterRules(QString());

    const QString log = capturedLog.join(QLatin1Char('\n'));
    QVERIFY(log.contains(QLatin1String("was used again after rotation")));
    QVERIFY(log.contains(TokenHash::of(secrets.at(1)).fingerprint())); // fingerprints are what we log
    for (const QByteArray &secret : std::as_const(secrets))
        QVERIFY2(!log.contains(QString::fromLatin1(secret)), secret.left(20).constData());
    const QByteArray key = [this] {
        QFile file(keyPath());
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }();
    QCOMPARE(key.size(), 32);
    QVERIFY(!log.toLatin1().contains(key));
    QVERIFY(!log.contains(QString::fromLatin1(key.toHex())));
    QVERIFY(!log.contains(QString::fromLatin1(key.toBase64())));
}

// --- several brokers on one database ---------------------------------------------

void tst_TokenStore::twoBrokersRedeemOnce_data()
{
    QTest::addColumn<bool>("rotate");
    QTest::newRow("authorization code") << false;
    QTest::newRow("refresh token") << true;
}

// Broker A issues, broker B (its own store and connection on the same
// database) spends; A then presents the same credential: a replay, caught.
void tst_TokenStore::twoBrokersRedeemOnce()
{
    QFETCH(bool, rotate);
    OWN_STORE(a);
    OWN_STORE(b);
    VERIFY_OK(openStore(a));
    VERIFY_OK(openStore(b));
    Result<Seed> seeded = seed(a);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();

    const auto spend = [&](SqlTokenStore &store) {
        return rotate ? status(store.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA,
                                                        lifetimes()))
                      : status(store.consumeAuthCode(TokenHash::of(s.code)));
    };
    VERIFY_OK(spend(b));
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("was (presented again|used again after rotation)")));
    Result<void> again = spend(a);
    VERIFY_ERROR(again, ErrorCode::Conflict);
    QCOMPARE(again.error().subject, s.grant.grantId);
    // The replay revoked what B's spend led to, for both brokers.
    VERIFY_ERROR(a.findAccessToken(TokenHash::of(s.tokens.accessToken)), ErrorCode::Unauthorized);
    VERIFY_ERROR(b.findAccessToken(TokenHash::of(s.tokens.accessToken)), ErrorCode::Unauthorized);
}

// A refresh token rotated at broker A and replayed at broker B revokes the
// family at both: the token A just issued stops working everywhere.
void tst_TokenStore::twoBrokersDetectRefreshReuse()
{
    OWN_STORE(a);
    OWN_STORE(b);
    VERIFY_OK(openStore(a));
    VERIFY_OK(openStore(b));
    Result<Seed> seeded = seed(a);
    VERIFY_OK(seeded);
    const Seed &s = seeded.value();

    Result<IssuedTokens> next =
        a.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes());
    VERIFY_OK(next);
    VERIFY_OK(b.findAccessToken(TokenHash::of(next.value().accessToken))); // B sees A's rotation
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("used again after rotation")));
    VERIFY_ERROR(b.rotateRefreshToken(TokenHash::of(s.tokens.refreshToken), ClientA, lifetimes()),
                 ErrorCode::Conflict);
    VERIFY_ERROR(a.findAccessToken(TokenHash::of(next.value().accessToken)), ErrorCode::Unauthorized);
    VERIFY_ERROR(a.rotateRefreshToken(TokenHash::of(next.value().refreshToken), ClientA, lifetimes()),
                 ErrorCode::Unauthorized);
}

// Brokers started together on an empty database: one creates the schema,
// the others wait for it (the advisory lock) and all open. The key file is
// provisioned first, as it is for every broker of a cluster.
void tst_TokenStore::brokersStartAtOnce()
{
    if (backend() == Backend::Sqlite)
        QSKIP("PostgreSQL only: a SQLite file belongs to one broker");
    QVERIFY(QDir().mkpath(stateDir()));
    VERIFY_OK(fmb::SecretBox::loadOrCreateKeyFile(keyPath()));
    constexpr int Brokers = 4;
    std::array<QString, Brokers> outcomes;
    std::array<int, Brokers> versions{};
    std::atomic<int> ready{0};
    QList<QThread *> threads;
    for (int i = 0; i < Brokers; ++i) {
        threads.append(QThread::create([&, i] {
            const std::unique_ptr<SqlTokenStore> store = newStore();
            ++ready;
            while (ready.load() < Brokers)
                QThread::yieldCurrentThread();
            const Result<void> r = openStore(*store);
            outcomes[i] = r.ok() ? QStringLiteral("ok") : r.error().message;
            versions[i] = store->schemaVersion();
        }));
        threads.last()->start();
    }
    for (QThread *thread : std::as_const(threads)) {
        QVERIFY(thread->wait(60000));
        delete thread;
    }
    for (int i = 0; i < Brokers; ++i) {
        QCOMPARE(outcomes[i], QStringLiteral("ok"));
        QCOMPARE(versions[i], fmb::Schema::latestVersion());
    }
    RAW_DB(raw);
    QCOMPARE(raw.column(QStringLiteral("SELECT count(*) FROM meta")), QVariantList{1});
}

QTEST_GUILESS_MAIN(tst_TokenStore)
#include "tst_tokenstore.moc"
