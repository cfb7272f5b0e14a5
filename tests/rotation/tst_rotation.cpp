// Upstream token rotation in the built daemon (--auth oauth), end to end with
// real processes: fmb-fake-forgejo plays Forgejo, fmb-test-mcp-server is the
// child. Each test starts its own fake and daemon with short token lifetimes:
// Forgejo access tokens live a few seconds, the daemon refreshes them
// --refresh-lead before they expire and looks every second, and respawns the
// sessions' children with the new token. A QNetworkAccessManager is the user
// agent for the OAuth sign-in (register, authorize, consent, Forgejo, token).
// With FMB_TEST_STORE=postgresql (ctest: rotation_postgres) each daemon keeps
// its OAuth state in a fresh database of a throwaway PostgreSQL cluster
// instead of the SQLite file (issue 14: the suite runs against both stores).
#include <functional>
#include <memory>
#include <optional>

#include <QCryptographicHash>
#include <QDateTime>
#include <QFile>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include "DaemonProcess.h"
#include "OAuthTestSupport.h"
#include "PgCluster.h"
#include "ProcessProbe.h"

using fmbtest::DaemonProcess;
using fmbtest::HttpResult;
using fmbtest::UserAgent;

namespace {

// Bound for any one awaited condition; passing runs take a fraction of it.
constexpr int WaitMs = 15000;

const QString UpstreamClientId = QStringLiteral("fmb-rotation-broker");
const QString UpstreamSecret = QStringLiteral("rotation-upstream-s3cret");
// A loopback redirect where nothing listens: the user agent stops there.
const QString ClientRedirect = QStringLiteral("http://127.0.0.1:9/rotation/callback");
const QString ProtocolVersion = QStringLiteral("2025-06-18");
const QString ClientName = QStringLiteral("tst_rotation");

quint16 freeLoopbackPort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

QString base64Url(const QByteArray &bytes)
{
    return QString::fromLatin1(
        bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

struct Tokens {
    QString access;
    QString refresh;
    QString failure; // why there are none
};

// The pid the newest "session ID respawned: new pid N" line names; 0 if
// none. The log shows only the id's first 8 hex digits.
qint64 respawnedPid(DaemonProcess &daemon, const QString &sessionId)
{
    const QRegularExpression line(QStringLiteral("session %1 respawned: new pid (\\d+)")
                                      .arg(QRegularExpression::escape(sessionId.right(48).left(8))));
    qint64 pid = 0;
    auto matches = line.globalMatch(QString::fromUtf8(daemon.log()));
    while (matches.hasNext())
        pid = matches.next().captured(1).toLongLong();
    return pid;
}

} // namespace

// The sign-in must work, except for the known bug: then the test is an
// expected failure and stops here.
#define REQUIRE_TOKENS(tokens) QVERIFY2(!(tokens).access.isEmpty(), qPrintable((tokens).failure))

class tst_Rotation : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void cleanup();

    void rotationKeepsSession();
    void callInFlightCompletes();
    void refreshFailureEvicts();
    void oneRefreshPerUser_data();
    void oneRefreshPerUser();
    void restartKeepsLogins();
    void revokedGrantKeepsNothing();
    void idleEviction_data();
    void idleEviction();
    void bearerChecksAreCached();
    void storeWaitsOffTheHttpThread();
    void bearerCheckWaitsOffTheHttpThread();
    void rotatorWaitsOffTheHttpThread();
    void childTokenWaitsOffTheHttpThread();

private:
    // The fake (Forgejo access tokens live `upstreamTtl` seconds) and the daemon.
    [[nodiscard]] bool startStack(int upstreamTtl, const QStringList &brokerArguments);
    [[nodiscard]] bool startBroker();
    [[nodiscard]] QUrl broker(const QString &path) const { return QUrl(m_publicUrl + path); }

    QString registerClient(const QString &name);
    Tokens signIn(UserAgent &agent, const QString &clientId);
    HttpResult tokenRequest(const QList<std::pair<QString, QString>> &fields);
    HttpResult refresh(const QString &clientId, const QString &refreshToken);

    HttpResult post(const QString &accessToken, const QJsonObject &body, const QString &sessionId = {},
                    int timeoutMs = WaitMs);
    // The initialize request of a new session.
    QJsonObject initializeMessage();
    // Sends initialize and returns at once: the answer comes to the reply.
    std::unique_ptr<QNetworkReply> startInitialize(const QString &accessToken);
    // A new session (initialize + notifications/initialized); empty on failure.
    QString initialize(const QString &accessToken, HttpResult *answer = nullptr);
    HttpResult ping(const QString &accessToken, const QString &sessionId);
    // tools/call; the result's first text block parsed as a JSON object.
    QJsonObject tool(const QString &accessToken, const QString &sessionId, const QString &name,
                     const QJsonObject &arguments = {});
    QJsonObject request(const QString &method, const QJsonObject &params);
    static QJsonObject rpcMessage(const QByteArray &contentType, const QByteArray &body);
    QString childToken(const QString &accessToken, const QString &sessionId);
    qint64 childPid(const QString &accessToken, const QString &sessionId);
    QString forgejoUser(const QString &forgejoToken);
    // Bytes of sealed upstream tokens the grants of `clientId` hold in the
    // daemon's SQLite file; -1 when it has no grant.
    qint64 upstreamBytes(const QString &clientId);
    // Opens the daemon's store on a connection of its own (its SQLite file,
    // or this test's PostgreSQL database), runs `use`, closes it; false when
    // it does not open.
    bool withStoreDatabase(bool readOnly, const std::function<void(QSqlDatabase &)> &use);
    // Holds what writing to `table` needs until `lock` rolls back (SQLite:
    // the write lock, which the daemon waits 5 s for; PostgreSQL: an
    // EXCLUSIVE lock on the table, which plain reads pass).
    // PostgreSQL: holds `table` so that even plain reads of it wait, until
    // `lock` rolls back (ACCESS EXCLUSIVE).
    bool lockForReads(QSqlQuery &lock, const QString &table);
    bool lockForWrites(QSqlQuery &lock, const QString &table);
    // Three pings of the session, each answered within 2 s (well under
    // SQLite's busy timeout): empty, or what the first unanswered one got.
    QString callsAnswered(const QString &accessToken, const QString &sessionId);
    // PostgreSQL: holds lockForReads on `table` while `waitingToken` sends
    // initialize, until the daemon's statement waits for the lock; meanwhile
    // the open session's calls must be answered (callsAnswered) and the
    // initialize must not be. Then lets go: the initialize's answer.
    struct LockedInitialize {
        int status = 0;
        QString sessionId;
        QString failure; // what went wrong while the lock was held
    };
    LockedInitialize initializeWhileLocked(const QString &table, const QString &waitingToken,
                                           const QString &openAccess, const QString &openSession);
    // True while a statement on PostgreSQL `db`'s server waits for a lock.
    static bool someoneWaitsForALock(QSqlDatabase &db);
    // The daemon's store as a new, not yet opened connection `name`.
    QSqlDatabase addStoreDatabase(const QString &name, bool readOnly);
    // A signed-in client (named `name`) with an open session; `failure` says why not.
    struct OpenSession {
        QString clientId;
        Tokens tokens;
        QString sessionId;
        QString failure;
    };
    OpenSession openSession(UserAgent &agent, const QString &name);
    // Marks the token revoked in the database behind the daemon's back (no
    // eviction, as a revocation whose NOTIFY was lost); false on failure.
    bool revokeBehindTheBack(const QString &accessToken);

    QNetworkAccessManager *m_network = nullptr;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<fmbtest::FakeForgejo> m_fake;
    std::unique_ptr<DaemonProcess> m_broker;
    // FMB_TEST_STORE=postgresql: the cluster, and this test's database.
    std::unique_ptr<fmbtest::PgCluster> m_cluster;
    std::optional<fmb::PostgresParams> m_database;
    QStringList m_brokerArguments;
    QString m_publicUrl;
    int m_nextId = 1;
};

void tst_Rotation::initTestCase()
{
    m_network = new QNetworkAccessManager(this);
    if (qEnvironmentVariable("FMB_TEST_STORE") != QLatin1String("postgresql"))
        return;
    // Asked for PostgreSQL: its absence is a failure, not a skip.
    const QString unavailable = fmbtest::PgCluster::unavailableReason();
    QVERIFY2(unavailable.isEmpty(), qPrintable(unavailable));
    m_cluster = std::make_unique<fmbtest::PgCluster>();
    const fmb::Result<void> started = m_cluster->start();
    QVERIFY2(started.ok(), started.ok() ? "" : qPrintable(started.error().message));
}

void tst_Rotation::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_database.reset();
    if (m_cluster) {
        fmb::Result<fmb::PostgresParams> database = m_cluster->createDatabase();
        QVERIFY2(database.ok(), database.ok() ? "" : qPrintable(database.error().message));
        m_database = database.value();
    }
}

void tst_Rotation::cleanup()
{
    if (m_broker && QTest::currentTestFailed())
        qWarning().noquote() << "daemon log:\n" << QString::fromUtf8(m_broker->log().right(6000));
    m_broker.reset();
    m_fake.reset();
    m_dir.reset();
}

bool tst_Rotation::startStack(int upstreamTtl, const QStringList &brokerArguments)
{
    const quint16 port = freeLoopbackPort();
    if (port == 0)
        return false;
    m_publicUrl = QStringLiteral("http://127.0.0.1:%1").arg(port);
    m_fake = std::make_unique<fmbtest::FakeForgejo>();
    if (!m_fake->start(UpstreamClientId, UpstreamSecret, m_publicUrl + QStringLiteral("/oauth/callback"),
                       {QStringLiteral("--access-ttl"), QString::number(upstreamTtl),
                        QStringLiteral("--user"), QStringLiteral("alice:1"), QStringLiteral("--user"),
                        QStringLiteral("bob:2")})) {
        qWarning().noquote() << "fmb-fake-forgejo did not start:" << m_fake->output();
        return false;
    }
    const QString secretFile = m_dir->filePath(QStringLiteral("client-secret"));
    QFile secret(secretFile);
    if (!secret.open(QIODevice::WriteOnly) || secret.write(UpstreamSecret.toUtf8()) < 0)
        return false;
    secret.close();
    secret.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);

    m_brokerArguments = QStringList{
        QStringLiteral("--auth"),
        QStringLiteral("oauth"),
        QStringLiteral("--listen"),
        QStringLiteral("127.0.0.1:%1").arg(port),
        QStringLiteral("--public-url"),
        m_publicUrl,
        QStringLiteral("--forgejo-url"),
        m_fake->url(QStringLiteral("/")).toString().chopped(1),
        QStringLiteral("--forgejo-client-id"),
        UpstreamClientId,
        QStringLiteral("--forgejo-client-secret-file"),
        secretFile,
        QStringLiteral("--state-dir"),
        m_dir->filePath(QStringLiteral("state")),
        QStringLiteral("--admin-socket"),
        m_dir->filePath(QStringLiteral("admin.sock")),
        QStringLiteral("--child-command"),
        QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server"),
        QStringLiteral("--child-stop-grace"),
        QStringLiteral("1s"),
        QStringLiteral("--rotate-interval"),
        QStringLiteral("1"),
    };
    if (m_database)
        m_brokerArguments << QStringLiteral("--database") << m_cluster->url(m_database->database);
    m_brokerArguments += brokerArguments;
    return startBroker();
}

bool tst_Rotation::startBroker()
{
    m_broker = std::make_unique<DaemonProcess>();
    if (!m_broker->startListening(m_brokerArguments)) {
        qWarning().noquote() << m_broker->failure();
        return false;
    }
    return true;
}

// --- the OAuth sign-in -------------------------------------------------------------------

QString tst_Rotation::registerClient(const QString &name)
{
    return fmbtest::registerPublicClient(m_network, broker(QStringLiteral("/oauth/register")), name,
                                         {ClientRedirect});
}

Tokens tst_Rotation::signIn(UserAgent &agent, const QString &clientId)
{
    Tokens tokens;
    const QString verifier = base64Url(QCryptographicHash::hash(
        QByteArray::number(QRandomGenerator::global()->generate64()), QCryptographicHash::Sha256));
    const QString challenge =
        base64Url(QCryptographicHash::hash(verifier.toLatin1(), QCryptographicHash::Sha256));
    const QString state = QString::number(QRandomGenerator::global()->generate64(), 16);
    QUrl url = broker(QStringLiteral("/oauth/authorize"));
    url.setQuery(QString::fromLatin1(fmbtest::encodeForm(
                     {{QStringLiteral("response_type"), QStringLiteral("code")},
                      {QStringLiteral("client_id"), clientId},
                      {QStringLiteral("redirect_uri"), ClientRedirect},
                      {QStringLiteral("code_challenge"), challenge},
                      {QStringLiteral("code_challenge_method"), QStringLiteral("S256")},
                      {QStringLiteral("state"), state},
                      {QStringLiteral("resource"), m_publicUrl + QStringLiteral("/mcp")}})),
                 QUrl::StrictMode);

    // The consent page (none for a remembered user and client), then Forgejo,
    // then the daemon's callback, which sends the browser to the client.
    HttpResult answer = agent.get(url);
    for (int round = 0; round < 2 && answer.status == 200; ++round) {
        fmbtest::HtmlForm form;
        if (!fmbtest::parseForm(answer.body, &form))
            break;
        form.fields.append({QStringLiteral("decision"), QStringLiteral("approve")});
        answer = agent.postForm(QUrl(form.action), fmbtest::encodeForm(form.fields));
        answer = agent.follow(answer, ClientRedirect);
    }
    answer = agent.follow(answer, ClientRedirect);
    const QHash<QString, QString> query = fmbtest::queryOf(answer.location());
    if (!answer.location().toString().startsWith(ClientRedirect) || !query.contains(QStringLiteral("code"))) {
        tokens.failure = QStringLiteral("the sign-in ended with ") + QString::fromUtf8(answer.describe());
        return tokens;
    }
    if (query.value(QStringLiteral("state")) != state || query.value(QStringLiteral("iss")) != m_publicUrl) {
        tokens.failure = QStringLiteral("state or iss do not match: ") + answer.location().toString();
        return tokens;
    }
    const HttpResult exchanged =
        tokenRequest({{QStringLiteral("grant_type"), QStringLiteral("authorization_code")},
                      {QStringLiteral("code"), query.value(QStringLiteral("code"))},
                      {QStringLiteral("redirect_uri"), ClientRedirect},
                      {QStringLiteral("code_verifier"), verifier},
                      {QStringLiteral("client_id"), clientId},
                      {QStringLiteral("resource"), m_publicUrl + QStringLiteral("/mcp")}});
    if (exchanged.status != 200) {
        tokens.failure =
            QStringLiteral("the code exchange failed: ") + QString::fromUtf8(exchanged.describe());
        return tokens;
    }
    tokens.access = exchanged.json().value(QStringLiteral("access_token")).toString();
    tokens.refresh = exchanged.json().value(QStringLiteral("refresh_token")).toString();
    return tokens;
}

HttpResult tst_Rotation::tokenRequest(const QList<std::pair<QString, QString>> &fields)
{
    return fmbtest::http(m_network, "POST", broker(QStringLiteral("/oauth/token")),
                         fmbtest::encodeForm(fields),
                         {{"Content-Type", "application/x-www-form-urlencoded"}});
}

HttpResult tst_Rotation::refresh(const QString &clientId, const QString &refreshToken)
{
    return tokenRequest({{QStringLiteral("grant_type"), QStringLiteral("refresh_token")},
                         {QStringLiteral("refresh_token"), refreshToken},
                         {QStringLiteral("client_id"), clientId},
                         {QStringLiteral("resource"), m_publicUrl + QStringLiteral("/mcp")}});
}

// --- MCP over HTTP -----------------------------------------------------------------------

QJsonObject tst_Rotation::request(const QString &method, const QJsonObject &params)
{
    QJsonObject message{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                        {QStringLiteral("id"), m_nextId++},
                        {QStringLiteral("method"), method}};
    if (!params.isEmpty())
        message.insert(QStringLiteral("params"), params);
    return message;
}

HttpResult tst_Rotation::post(const QString &accessToken, const QJsonObject &body, const QString &sessionId,
                              int timeoutMs)
{
    fmbtest::Headers headers{{"Content-Type", "application/json"},
                             {"Accept", "application/json, text/event-stream"},
                             {"Authorization", "Bearer " + accessToken.toUtf8()}};
    if (!sessionId.isEmpty()) {
        headers.append({"Mcp-Session-Id", sessionId.toLatin1()});
        headers.append({"MCP-Protocol-Version", ProtocolVersion.toLatin1()});
    }
    return fmbtest::http(m_network, "POST", broker(QStringLiteral("/mcp")),
                         QJsonDocument(body).toJson(QJsonDocument::Compact), headers, timeoutMs);
}

QJsonObject tst_Rotation::rpcMessage(const QByteArray &contentType, const QByteArray &body)
{
    if (!contentType.startsWith("text/event-stream"))
        return QJsonDocument::fromJson(body).object();
    // An SSE answer: the response is the data of the event that has no method.
    const QList<QByteArray> lines = body.split('\n');
    for (const QByteArray &line : lines) {
        if (!line.startsWith("data:"))
            continue;
        const QJsonObject message = QJsonDocument::fromJson(line.mid(5).trimmed()).object();
        if (message.contains(QStringLiteral("id")) && !message.contains(QStringLiteral("method")))
            return message;
    }
    return {};
}

QJsonObject tst_Rotation::initializeMessage()
{
    return request(
        QStringLiteral("initialize"),
        {{QStringLiteral("protocolVersion"), ProtocolVersion},
         {QStringLiteral("capabilities"), QJsonObject{}},
         {QStringLiteral("clientInfo"), QJsonObject{{QStringLiteral("name"), ClientName},
                                                    {QStringLiteral("version"), QStringLiteral("1")}}}});
}

std::unique_ptr<QNetworkReply> tst_Rotation::startInitialize(const QString &accessToken)
{
    QNetworkRequest request(broker(QStringLiteral("/mcp")));
    request.setRawHeader("Content-Type", "application/json");
    request.setRawHeader("Accept", "application/json, text/event-stream");
    request.setRawHeader("Authorization", "Bearer " + accessToken.toUtf8());
    return std::unique_ptr<QNetworkReply>(
        m_network->post(request, QJsonDocument(initializeMessage()).toJson(QJsonDocument::Compact)));
}

QString tst_Rotation::initialize(const QString &accessToken, HttpResult *answer)
{
    const HttpResult initialized = post(accessToken, initializeMessage());
    if (answer)
        *answer = initialized;
    const QString sessionId = QString::fromLatin1(initialized.header("Mcp-Session-Id"));
    if (initialized.status != 200 || sessionId.isEmpty())
        return {};
    const HttpResult notified =
        post(accessToken,
             {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
              {QStringLiteral("method"), QStringLiteral("notifications/initialized")}},
             sessionId);
    return notified.status == 202 ? sessionId : QString();
}

HttpResult tst_Rotation::ping(const QString &accessToken, const QString &sessionId)
{
    return post(accessToken, request(QStringLiteral("ping"), {}), sessionId);
}

QJsonObject tst_Rotation::tool(const QString &accessToken, const QString &sessionId, const QString &name,
                               const QJsonObject &arguments)
{
    const HttpResult answer =
        post(accessToken,
             request(QStringLiteral("tools/call"),
                     {{QStringLiteral("name"), name}, {QStringLiteral("arguments"), arguments}}),
             sessionId);
    const QJsonObject message = rpcMessage(answer.header("Content-Type"), answer.body);
    const QJsonArray content =
        message.value(QStringLiteral("result")).toObject().value(QStringLiteral("content")).toArray();
    if (answer.status != 200 || content.isEmpty()) {
        qWarning() << "tools/call" << name << "failed:" << answer.describe();
        return {};
    }
    const QString text = content.first().toObject().value(QStringLiteral("text")).toString();
    const QJsonDocument document = QJsonDocument::fromJson(text.toUtf8());
    return document.isObject() ? document.object() : QJsonObject{{QStringLiteral("text"), text}};
}

QString tst_Rotation::childToken(const QString &accessToken, const QString &sessionId)
{
    return tool(accessToken, sessionId, QStringLiteral("env"),
                {{QStringLiteral("names"), QJsonArray{QStringLiteral("FORGEJO_ACCESS_TOKEN")}}})
        .value(QStringLiteral("FORGEJO_ACCESS_TOKEN"))
        .toString();
}

qint64 tst_Rotation::childPid(const QString &accessToken, const QString &sessionId)
{
    return tool(accessToken, sessionId, QStringLiteral("state")).value(QStringLiteral("pid")).toInteger();
}

QString tst_Rotation::forgejoUser(const QString &forgejoToken)
{
    const HttpResult answer = fmbtest::http(m_network, "GET", m_fake->url(QStringLiteral("/api/v1/user")), {},
                                            {{"Authorization", "token " + forgejoToken.toUtf8()}});
    return answer.status == 200 ? answer.json().value(QStringLiteral("login")).toString()
                                : QString::fromUtf8(answer.describe());
}

QSqlDatabase tst_Rotation::addStoreDatabase(const QString &name, bool readOnly)
{
    QSqlDatabase db;
    if (m_database) {
        db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
        m_database->applyTo(db);
    } else {
        db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), name);
        db.setDatabaseName(m_dir->filePath(QStringLiteral("state/broker.sqlite3")));
        if (readOnly)
            db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
    }
    return db;
}

tst_Rotation::OpenSession tst_Rotation::openSession(UserAgent &agent, const QString &name)
{
    OpenSession open;
    open.clientId = registerClient(name);
    open.tokens = signIn(agent, open.clientId);
    if (open.tokens.access.isEmpty()) {
        open.failure = open.tokens.failure;
        return open;
    }
    open.sessionId = initialize(open.tokens.access);
    if (open.sessionId.isEmpty())
        open.failure = QStringLiteral("initialize failed");
    return open;
}

bool tst_Rotation::withStoreDatabase(bool readOnly, const std::function<void(QSqlDatabase &)> &use)
{
    const QString name = QStringLiteral("tst_rotation.raw");
    bool opened = false;
    {
        QSqlDatabase db = addStoreDatabase(name, readOnly);
        opened = db.open();
        if (opened)
            use(db);
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    return opened;
}

qint64 tst_Rotation::upstreamBytes(const QString &clientId)
{
    qint64 bytes = -1;
    withStoreDatabase(true, [&](QSqlDatabase &db) {
        QSqlQuery query(db);
        // length() counts bytes of a BLOB (SQLite) and of a BYTEA (PostgreSQL).
        query.prepare(QStringLiteral("SELECT sum(length(upstream_access) + "
                                     "coalesce(length(upstream_refresh), 0)) FROM grants "
                                     "WHERE client_id = ? HAVING count(*) > 0"));
        query.addBindValue(clientId);
        if (query.exec() && query.next())
            bytes = query.value(0).toLongLong();
    });
    return bytes;
}

QString tst_Rotation::callsAnswered(const QString &accessToken, const QString &sessionId)
{
    for (int call = 0; call < 3; ++call) {
        const HttpResult answer = post(accessToken, request(QStringLiteral("ping"), {}), sessionId, 2000);
        if (answer.status != 200)
            return QString::fromUtf8(answer.describe());
    }
    return {};
}

bool tst_Rotation::someoneWaitsForALock(QSqlDatabase &db)
{
    QSqlQuery waiting(db);
    return waiting.exec(QStringLiteral("SELECT count(*) FROM pg_locks WHERE NOT granted")) &&
           waiting.next() && waiting.value(0).toInt() > 0;
}

tst_Rotation::LockedInitialize tst_Rotation::initializeWhileLocked(const QString &table,
                                                                   const QString &waitingToken,
                                                                   const QString &openAccess,
                                                                   const QString &openSession)
{
    LockedInitialize result;
    const QString name = QStringLiteral("tst_rotation.readlock");
    {
        QSqlDatabase db = addStoreDatabase(name, false);
        QSqlQuery lock(db);
        if (!db.open() || !lockForReads(lock, table)) {
            result.failure = QStringLiteral("cannot lock %1: %2").arg(table, lock.lastError().text());
        } else {
            const std::unique_ptr<QNetworkReply> waiting = startInitialize(waitingToken);
            if (!QTest::qWaitFor([&db] { return someoneWaitsForALock(db); }, WaitMs))
                result.failure = QStringLiteral("the daemon never waited for the lock on %1").arg(table);
            else
                result.failure = callsAnswered(openAccess, openSession);
            if (result.failure.isEmpty() && waiting->isFinished())
                result.failure = QStringLiteral("the initialize did not wait for the lock on %1").arg(table);
            if (!lock.exec(QStringLiteral("ROLLBACK")) && result.failure.isEmpty())
                result.failure = QStringLiteral("cannot roll back: ") + lock.lastError().text();
            if (!QTest::qWaitFor([&waiting] { return waiting->isFinished(); }, WaitMs) &&
                result.failure.isEmpty())
                result.failure = QStringLiteral("no answer to initialize once the lock went");
            result.status = waiting->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            result.sessionId = QString::fromLatin1(waiting->rawHeader("Mcp-Session-Id"));
        }
        lock.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    return result;
}

bool tst_Rotation::lockForReads(QSqlQuery &lock, const QString &table)
{
    return lock.exec(QStringLiteral("BEGIN")) &&
           lock.exec(QStringLiteral("LOCK TABLE %1 IN ACCESS EXCLUSIVE MODE").arg(table));
}

bool tst_Rotation::lockForWrites(QSqlQuery &lock, const QString &table)
{
    if (!m_database)
        return lock.exec(QStringLiteral("BEGIN IMMEDIATE"));
    return lock.exec(QStringLiteral("BEGIN")) &&
           lock.exec(QStringLiteral("LOCK TABLE %1 IN EXCLUSIVE MODE").arg(table));
}

bool tst_Rotation::revokeBehindTheBack(const QString &accessToken)
{
    bool done = false;
    withStoreDatabase(false, [&](QSqlDatabase &db) {
        QSqlQuery query(db);
        query.prepare(QStringLiteral("UPDATE tokens SET revoked = 1 WHERE token_hash = ?"));
        query.addBindValue(QString::fromLatin1(
            QCryptographicHash::hash(accessToken.toUtf8(), QCryptographicHash::Sha256).toHex()));
        done = query.exec() && query.numRowsAffected() == 1;
    });
    return done;
}

// --- the tests ---------------------------------------------------------------------------

void tst_Rotation::rotationKeepsSession()
{
    // Forgejo tokens live 4 s and are refreshed 2 s ahead: a respawn 2-3 s after the sign-in.
    QVERIFY(startStack(4, {QStringLiteral("--refresh-lead"), QStringLiteral("2")}));
    UserAgent agent(m_network);
    const Tokens tokens = signIn(agent, registerClient(QStringLiteral("rotation")));
    REQUIRE_TOKENS(tokens);
    const QString sessionId = initialize(tokens.access);
    QVERIFY(!sessionId.isEmpty());
    const qint64 firstPid = childPid(tokens.access, sessionId);
    const QString firstToken = childToken(tokens.access, sessionId);
    QVERIFY(firstPid > 0);
    QCOMPARE(forgejoUser(firstToken), QStringLiteral("alice"));

    QTRY_VERIFY_WITH_TIMEOUT(respawnedPid(*m_broker, sessionId) > 0, WaitMs);
    // The very next request, with the same session id and no new initialize,
    // is answered by the new child.
    const qint64 newPid = respawnedPid(*m_broker, sessionId);
    QCOMPARE(childPid(tokens.access, sessionId), newPid);
    QVERIFY(newPid != firstPid);
    const QString newToken = childToken(tokens.access, sessionId);
    QVERIFY(!newToken.isEmpty());
    QVERIFY(newToken != firstToken);
    QCOMPARE(forgejoUser(newToken), QStringLiteral("alice"));
    // The daemon replayed the client's initialize and initialized to the new child.
    const QJsonObject state = tool(tokens.access, sessionId, QStringLiteral("state"));
    QCOMPARE(state.value(QStringLiteral("initializeParams"))
                 .toObject()
                 .value(QStringLiteral("clientInfo"))
                 .toObject()
                 .value(QStringLiteral("name"))
                 .toString(),
             ClientName);
    QCOMPARE(state.value(QStringLiteral("initializedCount")).toInt(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(!fmbtest::processAlive(firstPid), WaitMs);
    QCOMPARE(m_fake->stats(m_network).value(QStringLiteral("refresh_failures")).toInt(), 0);
}

void tst_Rotation::callInFlightCompletes()
{
    QVERIFY(startStack(4, {QStringLiteral("--refresh-lead"), QStringLiteral("2")}));
    UserAgent agent(m_network);
    const Tokens tokens = signIn(agent, registerClient(QStringLiteral("in flight")));
    REQUIRE_TOKENS(tokens);
    const QString sessionId = initialize(tokens.access);
    QVERIFY(!sessionId.isEmpty());
    const qint64 firstPid = childPid(tokens.access, sessionId);

    // Longer than the time to the respawn (at most 3 s plus the refresh).
    QNetworkRequest slowRequest(broker(QStringLiteral("/mcp")));
    slowRequest.setRawHeader("Content-Type", "application/json");
    slowRequest.setRawHeader("Accept", "application/json, text/event-stream");
    slowRequest.setRawHeader("Authorization", "Bearer " + tokens.access.toUtf8());
    slowRequest.setRawHeader("Mcp-Session-Id", sessionId.toLatin1());
    slowRequest.setRawHeader("MCP-Protocol-Version", ProtocolVersion.toLatin1());
    const QJsonObject slowCall = request(
        QStringLiteral("tools/call"),
        {{QStringLiteral("name"), QStringLiteral("slow")},
         {QStringLiteral("arguments"),
          QJsonObject{{QStringLiteral("ms"), 6000}, {QStringLiteral("text"), QStringLiteral("in flight")}}}});
    QNetworkReply *slow =
        m_network->post(slowRequest, QJsonDocument(slowCall).toJson(QJsonDocument::Compact));
    std::unique_ptr<QNetworkReply, void (*)(QNetworkReply *)> guard(
        slow, [](QNetworkReply *r) { r->deleteLater(); });

    QTRY_VERIFY_WITH_TIMEOUT(respawnedPid(*m_broker, sessionId) > 0, WaitMs);
    QVERIFY2(!slow->isFinished(), "the slow call ended before the respawn; the test proves nothing");
    const qint64 newPid = respawnedPid(*m_broker, sessionId);
    QCOMPARE(childPid(tokens.access, sessionId), newPid); // new requests go to the new child meanwhile
    QVERIFY(fmbtest::processAlive(firstPid));             // the old one still runs the slow call

    QTRY_VERIFY_WITH_TIMEOUT(slow->isFinished(), WaitMs);
    QCOMPARE(slow->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
    const QJsonObject answer =
        rpcMessage(slow->header(QNetworkRequest::ContentTypeHeader).toByteArray(), slow->readAll());
    QCOMPARE(answer.value(QStringLiteral("id")).toInt(), slowCall.value(QStringLiteral("id")).toInt());
    QCOMPARE(answer.value(QStringLiteral("result"))
                 .toObject()
                 .value(QStringLiteral("content"))
                 .toArray()
                 .first()
                 .toObject()
                 .value(QStringLiteral("text"))
                 .toString(),
             QStringLiteral("in flight"));
    QTRY_VERIFY_WITH_TIMEOUT(!fmbtest::processAlive(firstPid), WaitMs); // drained, then stopped
    // Tokens live 4 s, so another respawn may have come meanwhile: the newest
    // child answers. Its log line may reach us after its answer: ask again.
    QTRY_COMPARE_WITH_TIMEOUT(childPid(tokens.access, sessionId), respawnedPid(*m_broker, sessionId), WaitMs);
}

void tst_Rotation::refreshFailureEvicts()
{
    QVERIFY(startStack(4, {QStringLiteral("--refresh-lead"), QStringLiteral("2")}));
    UserAgent agent(m_network);
    const QString clientId = registerClient(QStringLiteral("refused"));
    const Tokens tokens = signIn(agent, clientId);
    REQUIRE_TOKENS(tokens);
    const QString sessionId = initialize(tokens.access);
    QVERIFY(!sessionId.isEmpty());
    const qint64 pid = childPid(tokens.access, sessionId);
    QVERIFY(pid > 0);

    const HttpResult failing = m_fake->control(m_network, QStringLiteral("/_fake/fail-refresh"),
                                               {{QStringLiteral("enabled"), true}});
    QVERIFY2(failing.status == 200, failing.describe().constData());
    // Until the refresh fails the session works; the first request after it
    // gets a clean 401 (TokenRotator: the grant is revoked, its sessions evicted).
    HttpResult last;
    QTRY_VERIFY_WITH_TIMEOUT((last = ping(tokens.access, sessionId)).status != 200, WaitMs);
    QVERIFY2(last.status == 401, last.describe().constData());
    QVERIFY2(last.header("WWW-Authenticate").startsWith("Bearer "), last.describe().constData());
    QVERIFY(m_fake->stats(m_network).value(QStringLiteral("refresh_failures")).toInt() >= 1);
    QTRY_VERIFY_WITH_TIMEOUT(!fmbtest::processAlive(pid), WaitMs);
    HttpResult again;
    QVERIFY(initialize(tokens.access, &again).isEmpty());
    QCOMPARE(again.status, 401);
    QCOMPARE(refresh(clientId, tokens.refresh).status, 400);

    // Signing in again gives a working login; the evicted session stays gone.
    QVERIFY(
        m_fake
            ->control(m_network, QStringLiteral("/_fake/fail-refresh"), {{QStringLiteral("enabled"), false}})
            .status == 200);
    const Tokens fresh = signIn(agent, clientId);
    QVERIFY2(!fresh.access.isEmpty(), qPrintable(fresh.failure));
    QCOMPARE(ping(fresh.access, sessionId).status, 404);
    QVERIFY(!initialize(fresh.access).isEmpty());
}

void tst_Rotation::oneRefreshPerUser_data()
{
    QTest::addColumn<bool>("twoGrants");
    QTest::newRow("two sessions of one grant") << false;
    QTest::newRow("two grants of one user (two clients)") << true;
}

void tst_Rotation::oneRefreshPerUser()
{
    QFETCH(bool, twoGrants);
    // Refreshed 3 s ahead of a 5 s lifetime: the first refresh 2-3 s after the
    // sign-in, the next one at least 2 s after that.
    QVERIFY(startStack(5, {QStringLiteral("--refresh-lead"), QStringLiteral("3")}));
    UserAgent agent(m_network);
    const Tokens first = signIn(agent, registerClient(QStringLiteral("first")));
    REQUIRE_TOKENS(first);
    Tokens second = first;
    if (twoGrants) {
        // Forgejo keeps one grant per user: this login spends the first one's refresh token.
        second = signIn(agent, registerClient(QStringLiteral("second")));
        QVERIFY2(!second.access.isEmpty(), qPrintable(second.failure));
    }
    const QString sessionA = initialize(first.access);
    const QString sessionB = initialize(second.access);
    QVERIFY(!sessionA.isEmpty());
    QVERIFY(!sessionB.isEmpty());
    const QString before = childToken(first.access, sessionA);
    QCOMPARE(childToken(second.access, sessionB), before);
    const int refreshesBefore = m_fake->stats(m_network).value(QStringLiteral("refreshes")).toInt();

    QTRY_VERIFY_WITH_TIMEOUT(respawnedPid(*m_broker, sessionA) > 0 && respawnedPid(*m_broker, sessionB) > 0,
                             WaitMs);
    const QJsonObject stats = m_fake->stats(m_network);
    QCOMPARE(stats.value(QStringLiteral("refreshes")).toInt() - refreshesBefore, 1);
    QCOMPARE(stats.value(QStringLiteral("refresh_failures")).toInt(), 0);
    const QString after = childToken(first.access, sessionA);
    QVERIFY(after != before);
    QCOMPARE(childToken(second.access, sessionB), after);
    QCOMPARE(forgejoUser(after), QStringLiteral("alice"));
}

void tst_Rotation::restartKeepsLogins()
{
    // Long-lived Forgejo tokens: no rotation here.
    QVERIFY(startStack(3600, {}));
    // One connection to the store, opened on the store thread (issue 14).
    QCOMPARE(QString::fromUtf8(m_broker->log()).count(QStringLiteral("(schema version")), 1);
    UserAgent agent(m_network);
    const OpenSession open = openSession(agent, QStringLiteral("restart"));
    QVERIFY2(open.failure.isEmpty(), qPrintable(open.failure));
    const QString &clientId = open.clientId;
    const Tokens &tokens = open.tokens;
    const QString &sessionId = open.sessionId;
    const QString forgejoToken = childToken(tokens.access, sessionId);
    QVERIFY(!forgejoToken.isEmpty());

    QCOMPARE(m_broker->stop(), 0); // SIGTERM
    QVERIFY(startBroker());        // same port, same --state-dir

    QCOMPARE(ping(tokens.access, sessionId).status, 404); // sessions do not survive a restart
    const QString again = initialize(tokens.access);      // the login does
    QVERIFY(!again.isEmpty());
    QCOMPARE(childToken(tokens.access, again), forgejoToken);
    const HttpResult refreshed = refresh(clientId, tokens.refresh);
    QVERIFY2(refreshed.status == 200, refreshed.describe().constData());
    QVERIFY(!initialize(refreshed.json().value(QStringLiteral("access_token")).toString()).isEmpty());
}

// Issue 11 item 5e: a replayed refresh token revokes its family, and the
// grant it belonged to keeps no Forgejo tokens: they leave the SQLite file
// at once, and the rotation of the user's other grant does not write the
// new ones back into it.
void tst_Rotation::revokedGrantKeepsNothing()
{
    // Forgejo tokens live 5 s and are refreshed 3 s ahead.
    QVERIFY(startStack(5, {QStringLiteral("--refresh-lead"), QStringLiteral("3")}));
    UserAgent agent(m_network);
    const QString revokedClient = registerClient(QStringLiteral("revoked"));
    const Tokens revoked = signIn(agent, revokedClient);
    REQUIRE_TOKENS(revoked);
    const QString aliveClient = registerClient(QStringLiteral("alive"));
    const Tokens alive = signIn(agent, aliveClient); // alice again: a sibling grant sharing her tokens
    REQUIRE_TOKENS(alive);
    const QString revokedSession = initialize(revoked.access);
    QVERIFY(!revokedSession.isEmpty());
    QVERIFY(upstreamBytes(revokedClient) > 0);

    const HttpResult rotated = refresh(revokedClient, revoked.refresh);
    QVERIFY2(rotated.status == 200, rotated.describe().constData());
    const HttpResult replay = refresh(revokedClient, revoked.refresh);
    QCOMPARE(replay.status, 400);
    QCOMPARE(replay.json().value(QStringLiteral("error")).toString(), QStringLiteral("invalid_grant"));
    QCOMPARE(upstreamBytes(revokedClient), 0);
    QCOMPARE(ping(revoked.access, revokedSession).status, 401);

    const QString session = initialize(alive.access);
    QVERIFY(!session.isEmpty());
    const int refreshesBefore = m_fake->stats(m_network).value(QStringLiteral("refreshes")).toInt();
    QTRY_VERIFY_WITH_TIMEOUT(respawnedPid(*m_broker, session) > 0, WaitMs);
    QVERIFY(m_fake->stats(m_network).value(QStringLiteral("refreshes")).toInt() > refreshesBefore);
    QVERIFY(upstreamBytes(aliveClient) > 0);
    QCOMPARE(upstreamBytes(revokedClient), 0); // the refreshed tokens were not shared with it
    QCOMPARE(m_fake->stats(m_network).value(QStringLiteral("refresh_failures")).toInt(), 0);
    QCOMPARE(initialize(rotated.json().value(QStringLiteral("access_token")).toString()), QString());
}

void tst_Rotation::idleEviction_data()
{
    QTest::addColumn<int>("upstreamTtl");
    QTest::addColumn<int>("refreshLead");
    QTest::newRow("no rotation") << 3600 << 60;
    // A respawn about every second must not keep an idle session alive.
    QTest::newRow("while the token rotates") << 3 << 2;
}

void tst_Rotation::idleEviction()
{
    QFETCH(int, upstreamTtl);
    QFETCH(int, refreshLead);
    QVERIFY(startStack(upstreamTtl, {QStringLiteral("--refresh-lead"), QString::number(refreshLead),
                                     QStringLiteral("--idle-timeout"), QStringLiteral("3"),
                                     QStringLiteral("--reap-interval"), QStringLiteral("1")}));
    UserAgent agent(m_network);
    const Tokens tokens = signIn(agent, registerClient(QStringLiteral("idle")));
    REQUIRE_TOKENS(tokens);
    const QString sessionId = initialize(tokens.access);
    QVERIFY(!sessionId.isEmpty());
    const qint64 pid = childPid(tokens.access, sessionId);

    const QByteArray ended = "session " + sessionId.right(48).left(8).toLatin1() + " ended:";
    QTRY_VERIFY_WITH_TIMEOUT(m_broker->log().count(ended) == 1, WaitMs);
    const QByteArray idle = "session " + sessionId.right(48).left(8).toLatin1() + " idle for";
    QVERIFY2(m_broker->log().count(idle) == 1, m_broker->log().constData());
    QTRY_VERIFY_WITH_TIMEOUT(
        !fmbtest::processAlive(pid) && !fmbtest::processAlive(respawnedPid(*m_broker, sessionId)), WaitMs);
    QCOMPARE(ping(tokens.access, sessionId).status, 404);
    QVERIFY(!initialize(tokens.access).isEmpty()); // idle eviction does not sign the user out
}

void tst_Rotation::bearerChecksAreCached()
{
    // Issue 14: a checked access token is trusted from memory for
    // --bearer-cache-ttl, with either store: no query per request. A
    // revocation the daemon did not see (here: written into its database
    // directly) takes effect within that bound.
    QVERIFY(startStack(3600, {QStringLiteral("--bearer-cache-ttl"), QStringLiteral("2s")}));
    UserAgent agent(m_network);
    const Tokens tokens = signIn(agent, registerClient(QStringLiteral("cached")));
    REQUIRE_TOKENS(tokens);
    const QString session = initialize(tokens.access);
    QVERIFY(!session.isEmpty());
    QCOMPARE(ping(tokens.access, session).status, 200);
    QVERIFY(revokeBehindTheBack(tokens.access));
    QCOMPARE(ping(tokens.access, session).status, 200); // from the cache
    QTRY_COMPARE_WITH_TIMEOUT(ping(tokens.access, session).status, 401, 10000);
}

void tst_Rotation::storeWaitsOffTheHttpThread()
{
    // Issue 14: QSqlQuery blocks, so a statement waiting for the database
    // must not stall the thread that serves HTTP. This test holds the lock a
    // refresh needs (SQLite: the write lock; PostgreSQL: an EXCLUSIVE lock on
    // the tokens table, which plain reads pass); while the daemon's refresh
    // waits for it, an open session's calls are still answered. Once the lock
    // goes, the refresh completes.
    QVERIFY(startStack(3600, {}));
    UserAgent agent(m_network);
    const OpenSession open = openSession(agent, QStringLiteral("locked"));
    QVERIFY2(open.failure.isEmpty(), qPrintable(open.failure));
    const Tokens &tokens = open.tokens;
    const QString &session = open.sessionId;
    QCOMPARE(ping(tokens.access, session).status, 200);

    const QString name = QStringLiteral("tst_rotation.lock");
    {
        QSqlDatabase db = addStoreDatabase(name, false);
        QVERIFY(db.open());
        QSqlQuery lock(db);
        QVERIFY(lockForWrites(lock, QStringLiteral("tokens")));

        QNetworkRequest refreshRequest(broker(QStringLiteral("/oauth/token")));
        refreshRequest.setHeader(QNetworkRequest::ContentTypeHeader,
                                 QByteArrayLiteral("application/x-www-form-urlencoded"));
        std::unique_ptr<QNetworkReply> refreshing(m_network->post(
            refreshRequest,
            fmbtest::encodeForm({{QStringLiteral("grant_type"), QStringLiteral("refresh_token")},
                                 {QStringLiteral("refresh_token"), tokens.refresh},
                                 {QStringLiteral("client_id"), open.clientId}})));
        if (m_database) {
            // The daemon's statement is waiting for this test's lock.
            QTRY_VERIFY_WITH_TIMEOUT(someoneWaitsForALock(db), WaitMs);
        } else {
            // Sent whole before the first call below: the daemon reads it first.
            QSignalSpy uploaded(refreshing.get(), &QNetworkReply::uploadProgress);
            QTRY_VERIFY_WITH_TIMEOUT(!uploaded.isEmpty() && uploaded.last().at(0) == uploaded.last().at(1) &&
                                         uploaded.last().at(1).toLongLong() > 0,
                                     WaitMs);
        }
        const QString unanswered = callsAnswered(tokens.access, session);
        QVERIFY2(unanswered.isEmpty(), qPrintable(unanswered));
        QVERIFY2(!refreshing->isFinished(), "the refresh did not wait for the lock: nothing was shown");

        QVERIFY(lock.exec(QStringLiteral("ROLLBACK")));
        QTRY_VERIFY_WITH_TIMEOUT(refreshing->isFinished(), WaitMs);
        QCOMPARE(refreshing->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        const QJsonObject issued = QJsonDocument::fromJson(refreshing->readAll()).object();
        QVERIFY(!issued.value(QStringLiteral("access_token")).toString().isEmpty());
        lock.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
}

void tst_Rotation::bearerCheckWaitsOffTheHttpThread()
{
    // Issue 14: the first check of an access token this broker has not
    // confirmed lately (one another broker issued, or, as here, one from
    // before a restart) reads the token store. It reads on the store
    // thread: while the read waits, the broker's other clients are served.
    // Only PostgreSQL's ACCESS EXCLUSIVE lock makes a plain read wait.
    if (!m_database)
        QSKIP("SQLite in WAL mode: a read never waits for a writer");
    // The open session's token stays fresh in the cache throughout.
    QVERIFY(startStack(3600, {QStringLiteral("--bearer-cache-ttl"), QStringLiteral("5m")}));
    UserAgent agent(m_network);
    const Tokens open = signIn(agent, registerClient(QStringLiteral("open")));
    REQUIRE_TOKENS(open);
    const Tokens unseen = signIn(agent, registerClient(QStringLiteral("unseen")));
    REQUIRE_TOKENS(unseen);
    QCOMPARE(m_broker->stop(), 0);
    QVERIFY(startBroker());                          // its bearer cache is empty
    const QString session = initialize(open.access); // a first check, answered later
    QVERIFY(!session.isEmpty());

    const LockedInitialize waited =
        initializeWhileLocked(QStringLiteral("tokens"), unseen.access, open.access, session);
    QVERIFY2(waited.failure.isEmpty(), qPrintable(waited.failure));
    QCOMPARE(waited.status, 200);
    QVERIFY(!waited.sessionId.isEmpty());
}

void tst_Rotation::rotatorWaitsOffTheHttpThread()
{
    // Issue 14: the rotator's statements run on the store thread too. The
    // test makes the grant's upstream token due and at once takes the lock
    // the rotator's save needs (lockForWrites on grants). Forgejo has
    // refreshed, the save waits: an open session's
    // calls are still answered. Once the lock goes, the rotation completes.
    QVERIFY(startStack(3600, {}));
    UserAgent agent(m_network);
    const OpenSession open = openSession(agent, QStringLiteral("rotating"));
    QVERIFY2(open.failure.isEmpty(), qPrintable(open.failure));
    const QString access = open.tokens.access;
    const QString session = open.sessionId;
    const QString firstToken = childToken(access, session);
    QVERIFY(!firstToken.isEmpty());
    const int refreshesBefore = m_fake->stats(m_network).value(QStringLiteral("refreshes")).toInt();

    const QString name = QStringLiteral("tst_rotation.rotlock");
    {
        QSqlDatabase db = addStoreDatabase(name, false);
        QVERIFY(db.open());
        QSqlQuery lock(db);
        // Due within the refresh lead (5 min), committed; then the lock at
        // once: the rotator reads the expiry at its next sweep (1 s) and
        // calls Forgejo before it saves, so its save comes after the lock.
        const qint64 dueMs = QDateTime::currentMSecsSinceEpoch() + 60000;
        QVERIFY(lock.exec(QStringLiteral("UPDATE grants SET upstream_expires_ms = %1").arg(dueMs)));
        QVERIFY(lockForWrites(lock, QStringLiteral("grants")));
        // Forgejo has handed out the new pair: the daemon is saving it now.
        QTRY_COMPARE_WITH_TIMEOUT(m_fake->stats(m_network).value(QStringLiteral("refreshes")).toInt(),
                                  refreshesBefore + 1, WaitMs);
        const QString unanswered = callsAnswered(access, session);
        QVERIFY2(unanswered.isEmpty(), qPrintable(unanswered));
        QVERIFY2(respawnedPid(*m_broker, session) == 0, "the rotation did not wait for the lock");

        QVERIFY(lock.exec(QStringLiteral("ROLLBACK")));
        lock.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(name);
    QTRY_VERIFY_WITH_TIMEOUT(respawnedPid(*m_broker, session) > 0, WaitMs);
    const QString newToken = childToken(access, session);
    QVERIFY(!newToken.isEmpty() && newToken != firstToken);
    QCOMPARE(forgejoUser(newToken), QStringLiteral("alice"));
    const QJsonObject stats = m_fake->stats(m_network);
    QCOMPARE(stats.value(QStringLiteral("refreshes")).toInt(), refreshesBefore + 1);
    QCOMPARE(stats.value(QStringLiteral("refresh_failures")).toInt(), 0);
}

void tst_Rotation::childTokenWaitsOffTheHttpThread()
{
    // Issue 14: a new session's child gets its user's Forgejo token from a
    // read on the store thread. The test holds an ACCESS EXCLUSIVE lock on
    // grants (the table upstreamTokens reads; the lock blocks plain reads)
    // and sends initialize with a token already checked (from the bearer
    // cache): it waits, while an open session's calls are still answered.
    // Once the lock goes, the session starts with the user's Forgejo token.
    if (!m_database)
        QSKIP("SQLite in WAL mode: reads do not wait for a writer, so no lock holds the read");
    QVERIFY(startStack(3600, {}));
    UserAgent agent(m_network);
    const OpenSession open = openSession(agent, QStringLiteral("childtoken"));
    QVERIFY2(open.failure.isEmpty(), qPrintable(open.failure));
    const QString access = open.tokens.access;
    const QString forgejoToken = childToken(access, open.sessionId);
    QVERIFY(!forgejoToken.isEmpty());

    const LockedInitialize waited =
        initializeWhileLocked(QStringLiteral("grants"), access, access, open.sessionId);
    QVERIFY2(waited.failure.isEmpty(), qPrintable(waited.failure));
    QCOMPARE(waited.status, 200);
    const QString session = waited.sessionId;
    QVERIFY(!session.isEmpty());
    QCOMPARE(post(access,
                  {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                   {QStringLiteral("method"), QStringLiteral("notifications/initialized")}},
                  session)
                 .status,
             202);
    QCOMPARE(childToken(access, session), forgejoToken);
}

QTEST_GUILESS_MAIN(tst_Rotation)
#include "tst_rotation.moc"
