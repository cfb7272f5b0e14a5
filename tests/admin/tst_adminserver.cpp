// AdminServer and AdminClient over a real QLocalSocket, with a real
// SessionRegistry whose sessions run real children (fmb-test-mcp-server).
#include <cerrno>
#include <csignal>
#include <cstring>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLocalSocket>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "admin/AdminClient.h"
#include "admin/AdminPaths.h"
#include "admin/AdminServer.h"
#include "base/Metrics.h"
#include "child/ChildProcess.h"
#include "jsonrpc/JsonRpc.h"
#include "session/SessionRegistry.h"
#include "session/StreamSink.h"

#include "QuietBackend.h"

using namespace fmb;
using fmbtest::QuietBackend;

namespace {

// Collects what a session answers a POST with.
class FakeSink final : public StreamSink {
public:
    using StreamSink::StreamSink;
    void sendJson(AnswerKind, const QByteArray &body) override
    {
        bodies.append(body);
        open = false;
    }
    void begin() override {}
    void sendEvent(const QByteArray &, const QByteArray &data, int) override { bodies.append(data); }
    void end() override { open = false; }
    [[nodiscard]] bool isOpen() const override { return open; }
    QList<QByteArray> bodies;
    bool open = true;
};

bool processExists(qint64 pid)
{
    return pid > 0 && QFile::exists(QStringLiteral("/proc/%1").arg(pid));
}

// The admin protocol spoken by hand, for malformed input.
class RawClient {
public:
    explicit RawClient(const QString &path) { socket.connectToServer(path); }
    bool waitConnected() { return socket.waitForConnected(5000); }
    void send(const QByteArray &bytes)
    {
        socket.write(bytes);
        socket.flush();
    }
    // The next line from the server, parsed; an empty object after 5 s.
    QJsonObject next()
    {
        // The server runs on this thread: wait with the event loop running.
        (void)QTest::qWaitFor(
            [this] {
                return socket.canReadLine() ||
                       (socket.state() != QLocalSocket::ConnectedState && socket.bytesAvailable() == 0);
            },
            5000);
        if (!socket.canReadLine())
            return {};
        return QJsonDocument::fromJson(socket.readLine()).object();
    }
    QLocalSocket socket;
};

QString errorCode(const QJsonObject &reply)
{
    return reply.value(QLatin1String("error")).toObject().value(QLatin1String("code")).toString();
}

} // namespace

class tst_AdminServer : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void listenMakesPrivateSocket();
    void staleSocketIsReplaced();
    void liveSocketIsNotTaken();
    void fileInTheWayIsNotRemoved();
    void infoAndList();
    void typedEvict();
    void listKeepsCreationOrder();
    void evictByPrefixStopsChild();
    void evictUser();
    void revokeUser();
    void revokeNeedsAStore();
    void brokersWithoutDirectoryListSelf();
    void brokersFromTheDirectory();
    void brokersAnsweredLater();
    void subscribeStreamsEvents();
    void activityIsRateLimited();
    void malformedInput_data();
    void malformedInput();
    void oversizedLineClosesOnlyThatClient();
    void clientThatStopsReadingIsDropped();
    void clientSeesDaemonGo();
    void clientReportsMissingDaemon();
    void foreignUidIsRefused();

private:
    void startServer(AdminServerConfig config = {});
    Session *createSession(const QString &user, const QString &clientName);
    [[nodiscard]] AdminReply ask(AdminClient &client, const QString &command, const QJsonObject &fields = {});
    // Connects client to the server; false after 5 s without.
    [[nodiscard]] bool connectClient(AdminClient &client);

    std::unique_ptr<QTemporaryDir> m_dir;
    QString m_socketPath;
    std::unique_ptr<SessionRegistry> m_registry;
    std::unique_ptr<AdminServer> m_server;
    QList<FakeSink *> m_sinks;
    int m_nextRpcId = 1;
};

void tst_AdminServer::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    m_socketPath = m_dir->filePath(QStringLiteral("run/admin.sock"));
    RegistryLimits limits;
    auto factory = [](const SessionOwner &, const QString &sessionId) -> std::unique_ptr<Backend> {
        ChildSpec spec;
        spec.program = QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server");
        spec.environment = QProcessEnvironment::systemEnvironment();
        spec.stopGrace = std::chrono::milliseconds(1000);
        spec.label = QStringLiteral("session %1").arg(sessionId.left(8));
        return std::make_unique<ChildProcess>(std::move(spec));
    };
    m_registry = std::make_unique<SessionRegistry>(limits, factory);
}

void tst_AdminServer::cleanup()
{
    m_server.reset();
    if (m_registry) {
        QSignalSpy stopped(m_registry.get(), &SessionRegistry::allStopped);
        m_registry->shutdown();
        QTRY_VERIFY_WITH_TIMEOUT(stopped.count() > 0, 10000);
    }
    m_registry.reset();
    qDeleteAll(m_sinks);
    m_sinks.clear();
    m_dir.reset();
}

void tst_AdminServer::startServer(AdminServerConfig config)
{
    if (config.socketPath.isEmpty())
        config.socketPath = m_socketPath;
    m_server = std::make_unique<AdminServer>(config, m_registry.get());
    DaemonInfo info;
    info.version = QStringLiteral("test");
    info.listenUrl = QStringLiteral("http://127.0.0.1:1");
    info.authMode = QStringLiteral("none");
    info.startedMs = QDateTime::currentMSecsSinceEpoch();
    m_server->setDaemonInfo(info);
    const Result<void> listening = m_server->listen();
    QVERIFY2(listening.ok(), listening.ok() ? "" : qPrintable(listening.error().message));
}

Session *tst_AdminServer::createSession(const QString &user, const QString &clientName)
{
    Result<Session *> created = m_registry->create(SessionOwner{user, QString()});
    if (!created)
        return nullptr;
    Session *session = created.value();
    const QJsonObject initialize{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("id"), m_nextRpcId++},
        {QStringLiteral("method"), QStringLiteral("initialize")},
        {QStringLiteral("params"),
         QJsonObject{
             {QStringLiteral("protocolVersion"), QStringLiteral("2025-06-18")},
             {QStringLiteral("capabilities"), QJsonObject{}},
             {QStringLiteral("clientInfo"), QJsonObject{{QStringLiteral("name"), clientName},
                                                        {QStringLiteral("version"), QStringLiteral("1")}}}}}};
    auto *sink = new FakeSink;
    m_sinks.append(sink);
    const Result<bool, SessionRefusal> posted = session->post({classify(initialize)}, false, sink);
    if (!posted)
        return nullptr;
    return session;
}

AdminReply tst_AdminServer::ask(AdminClient &client, const QString &command, const QJsonObject &fields)
{
    std::optional<AdminReply> answer;
    client.request(command, fields, [&answer](const AdminReply &reply) { answer = reply; });
    // QTRY_* return void on failure: wait by hand, the caller checks the reply.
    (void)QTest::qWaitFor([&answer] { return answer.has_value(); }, 5000);
    return answer.value_or(
        AdminReply{false, QJsonValue(), AdminProblem{QStringLiteral("timeout"), QString()}});
}

void tst_AdminServer::listenMakesPrivateSocket()
{
    startServer();
    struct stat info = {};
    QCOMPARE(::stat(QFile::encodeName(m_socketPath).constData(), &info), 0);
    QVERIFY(S_ISSOCK(info.st_mode));
    QCOMPARE(info.st_mode & 07777, mode_t(0600));
    QCOMPARE(::stat(QFile::encodeName(m_dir->filePath(QStringLiteral("run"))).constData(), &info), 0);
    QCOMPARE(info.st_mode & 07777, mode_t(0700));
    QCOMPARE(info.st_uid, ::geteuid());

    m_server.reset();
    QVERIFY2(!QFile::exists(m_socketPath), "the socket file goes with the server");
}

void tst_AdminServer::staleSocketIsReplaced()
{
    QVERIFY(QDir().mkpath(m_dir->filePath(QStringLiteral("run"))));
    // A socket file that nobody listens on, as a crashed daemon leaves it.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    QVERIFY(fd >= 0);
    struct sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    const QByteArray native = QFile::encodeName(m_socketPath);
    std::memcpy(address.sun_path, native.constData(), size_t(native.size()));
    QCOMPARE(::bind(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)), 0);
    ::close(fd);
    QVERIFY(QFile::exists(m_socketPath));
    QCOMPARE(probeUnixSocket(m_socketPath), SocketProbe::Stale);

    startServer();
    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
}

void tst_AdminServer::liveSocketIsNotTaken()
{
    startServer();
    AdminServerConfig config;
    config.socketPath = m_socketPath;
    AdminServer second(config, m_registry.get());
    const Result<void> listening = second.listen();
    QVERIFY(!listening.ok());
    QCOMPARE(listening.error().code, ErrorCode::Conflict);
    QVERIFY2(listening.error().message.contains(m_socketPath), qPrintable(listening.error().message));

    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    QVERIFY(ask(client, QStringLiteral("info")).ok);
}

void tst_AdminServer::fileInTheWayIsNotRemoved()
{
    QVERIFY(QDir().mkpath(m_dir->filePath(QStringLiteral("run"))));
    QFile file(m_socketPath);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("keep me");
    file.close();
    AdminServerConfig config;
    config.socketPath = m_socketPath;
    AdminServer server(config, m_registry.get());
    const Result<void> listening = server.listen();
    QVERIFY(!listening.ok());
    QVERIFY(listening.error().message.contains(QLatin1String("not a socket")));
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), QByteArray("keep me"));
}

void tst_AdminServer::listKeepsCreationOrder()
{
    // Sessions made in one millisecond still list oldest first.
    m_registry =
        std::make_unique<SessionRegistry>(RegistryLimits{}, [](const SessionOwner &, const QString &) {
            return std::make_unique<QuietBackend>();
        });
    startServer();
    QStringList created;
    for (int i = 0; i < 50; ++i) {
        const Result<Session *> session =
            m_registry->create(SessionOwner{QStringLiteral("user%1").arg(i), {}});
        QVERIFY(session);
        created.append(session.value()->id());
    }
    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    const AdminReply list = ask(client, QStringLiteral("list"));
    QVERIFY(list.ok);
    QStringList listed;
    const QJsonArray sessions = list.result.toObject().value(QLatin1String("sessions")).toArray();
    for (const QJsonValue &session : sessions)
        listed.append(session.toObject().value(QLatin1String("id")).toString());
    QCOMPARE(listed, created);
}

void tst_AdminServer::infoAndList()
{
    startServer();
    Session *a = createSession(QStringLiteral("alice"), QStringLiteral("claude-code"));
    Session *b = createSession(QStringLiteral("bob"), QStringLiteral("vscode"));
    QVERIFY(a && b);
    QTRY_COMPARE(a->state(), SessionState::Ready);
    QTRY_COMPARE(b->state(), SessionState::Ready);

    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);

    const AdminReply info = ask(client, QStringLiteral("info"));
    QVERIFY(info.ok);
    const DaemonInfo daemon = DaemonInfo::fromJson(info.result.toObject());
    QCOMPARE(daemon.version, QStringLiteral("test"));
    QCOMPARE(daemon.listenUrl, QStringLiteral("http://127.0.0.1:1"));
    QCOMPARE(daemon.authMode, QStringLiteral("none"));
    QCOMPARE(daemon.sessions, 2);
    QCOMPARE(daemon.users, 2);
    QCOMPARE(daemon.adminClients, 1);
    QCOMPARE(daemon.adminSocket, m_socketPath);
    QCOMPARE(daemon.pid, QCoreApplication::applicationPid());

    const AdminReply list = ask(client, QStringLiteral("list"));
    QVERIFY(list.ok);
    const QJsonArray sessions = list.result.toObject().value(QLatin1String("sessions")).toArray();
    QCOMPARE(sessions.size(), 2);
    const QJsonObject first = sessions.at(0).toObject(); // oldest first
    QCOMPARE(first.value(QLatin1String("id")).toString(), a->id());
    QCOMPARE(first.value(QLatin1String("user")).toString(), QStringLiteral("alice"));
    QCOMPARE(first.value(QLatin1String("client")).toString(), QStringLiteral("claude-code"));
    QCOMPARE(first.value(QLatin1String("state")).toString(), QStringLiteral("ready"));
    QCOMPARE(first.value(QLatin1String("child_pid")).toInteger(), a->backendPid());
    QVERIFY(first.contains(QLatin1String("token_expires")));
    QVERIFY(first.value(QLatin1String("token_expires")).isNull());
    QVERIFY(first.value(QLatin1String("created")).isString());
    QVERIFY(first.value(QLatin1String("last_active")).isString());
    QVERIFY(first.contains(QLatin1String("idle_seconds")));

    // The same through the calls brokerctl and the console share: each decodes its answer.
    std::optional<AdminReply> listReply;
    QList<SessionInfo> listed;
    client.listSessions([&](const AdminReply &reply, const QList<SessionInfo> &decoded) {
        listReply = reply;
        listed = decoded;
    });
    QTRY_VERIFY(listReply.has_value());
    QVERIFY(listReply->ok);
    QCOMPARE(listReply->result, list.result); // kept as sent, for --json
    QCOMPARE(listed.size(), 2);
    QCOMPARE(listed.at(0).id, a->id());
    QCOMPARE(listed.at(0).user, QStringLiteral("alice"));
    QCOMPARE(listed.at(0).client, QStringLiteral("claude-code"));
    QCOMPARE(listed.at(0).childPid, a->backendPid());
    QCOMPARE(listed.at(1).id, b->id());
    std::optional<DaemonInfo> decodedInfo;
    client.info([&decodedInfo](const AdminReply &reply, const DaemonInfo &decoded) {
        if (reply.ok)
            decodedInfo = decoded;
    });
    QTRY_VERIFY(decodedInfo.has_value());
    QCOMPARE(decodedInfo->sessions, 2);
    QCOMPARE(decodedInfo->version, QStringLiteral("test"));
    std::optional<QList<SessionInfo>> snapshot;
    client.subscribe([&snapshot](const AdminReply &reply, const QList<SessionInfo> &decoded) {
        if (reply.ok)
            snapshot = decoded;
    });
    QTRY_VERIFY(snapshot.has_value());
    QCOMPARE(*snapshot, listed);
}

void tst_AdminServer::evictByPrefixStopsChild()
{
    startServer();
    Session *a = createSession(QStringLiteral("alice"), QStringLiteral("c1"));
    Session *b = createSession(QStringLiteral("alice"), QStringLiteral("c2"));
    QVERIFY(a && b);
    QTRY_COMPARE(a->state(), SessionState::Ready);
    QTRY_COMPARE(b->state(), SessionState::Ready);
    const QString idA = a->id();
    const QString idB = b->id();
    const qint64 pidA = a->backendPid();
    QVERIFY(processExists(pidA));

    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    const AdminReply reply =
        ask(client, QStringLiteral("evict"),
            {{QStringLiteral("sessions"), QJsonArray{idA.left(10), QStringLiteral("ffffffffffff")}}});
    QVERIFY(reply.ok);
    const EvictOutcome outcome = EvictOutcome::fromJson(reply.result.toObject());
    QCOMPARE(outcome.evicted, QStringList{idA});
    QCOMPARE(outcome.notFound, QStringList{QStringLiteral("ffffffffffff")});
    QVERIFY(!m_registry->find(idA));
    QVERIFY(m_registry->find(idB));
    QTRY_VERIFY_WITH_TIMEOUT(!processExists(pidA), 10000);
}

void tst_AdminServer::evictUser()
{
    startServer();
    QVERIFY(createSession(QStringLiteral("alice"), QStringLiteral("c1")));
    QVERIFY(createSession(QStringLiteral("alice"), QStringLiteral("c2")));
    Session *bob = createSession(QStringLiteral("bob"), QStringLiteral("c3"));
    QVERIFY(bob);
    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);

    AdminReply reply =
        ask(client, QStringLiteral("evict"), {{QStringLiteral("user"), QStringLiteral("alice")}});
    QVERIFY(reply.ok);
    QCOMPARE(EvictOutcome::fromJson(reply.result.toObject()).evicted.size(), 2);
    QCOMPARE(m_registry->count(), 1);
    QVERIFY(m_registry->find(bob->id()));

    reply = ask(client, QStringLiteral("evict"), {{QStringLiteral("user"), QStringLiteral("carol")}});
    QVERIFY(reply.ok);
    QCOMPARE(EvictOutcome::fromJson(reply.result.toObject()).notFound, QStringList{QStringLiteral("carol")});

    reply = ask(client, QStringLiteral("evict"), {{QStringLiteral("all"), true}});
    QVERIFY(reply.ok);
    QCOMPARE(m_registry->count(), 0);
}

// Issue 15: revoke takes the store's part first, then ends every session of
// the user with reason "revoked" (in the events and the metrics).
void tst_AdminServer::revokeUser()
{
    startServer();
    QStringList asked;
    // Answers later, from the event loop, as the daemon's store thread does.
    m_server->setUserRevoker([&asked](const QString &user, const AdminServer::RevokeReply &reply) {
        asked.append(user);
        QTimer::singleShot(0, [user, reply] {
            if (user == QLatin1String("broken")) {
                reply(Error{ErrorCode::Io, user, QStringLiteral("disk on fire")});
                return;
            }
            RevokeOutcome taken;
            taken.grants = 2;
            taken.brokerTokens = 4;
            taken.upstreamTokens = 2;
            reply(taken);
        });
    });
    QVERIFY(createSession(QStringLiteral("alice"), QStringLiteral("c1")));
    QVERIFY(createSession(QStringLiteral("alice"), QStringLiteral("c2")));
    Session *bob = createSession(QStringLiteral("bob"), QStringLiteral("c3"));
    QVERIFY(bob);
    QSignalSpy revoked(m_server.get(), &AdminServer::userRevoked);
    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    QSignalSpy decoded(&client, &AdminClient::sessionEvent);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    QVERIFY(ask(client, QStringLiteral("subscribe")).ok);
    const quint64 endedBefore = metrics::value(metrics::Counter::SessionsEndedRevoked);

    std::optional<AdminReply> answer;
    RevokeOutcome outcome;
    client.revoke(QStringLiteral("alice"), [&](const AdminReply &reply, const RevokeOutcome &got) {
        answer = reply;
        outcome = got;
    });
    QTRY_VERIFY(answer.has_value());
    QVERIFY(answer->ok);
    QCOMPARE(outcome, (RevokeOutcome{QStringLiteral("alice"), 2, 2, 4, 2}));
    QCOMPARE(asked, QStringList{QStringLiteral("alice")});
    QCOMPARE(m_registry->count(), 1);
    QVERIFY(m_registry->find(bob->id()));
    QCOMPARE(metrics::value(metrics::Counter::SessionsEndedRevoked), endedBefore + 2);
    QCOMPARE(revoked.count(), 1);
    QCOMPARE(revoked.at(0).at(0).value<RevokeOutcome>(), outcome);
    QTRY_COMPARE(std::count_if(decoded.cbegin(), decoded.cend(),
                               [](const QList<QVariant> &args) {
                                   const auto event = args.at(0).value<AdminEvent>();
                                   return event.name == AdminEventName::SessionEnded &&
                                          event.reason == QLatin1String("revoked");
                               }),
                 2);

    // A user without sessions still loses what the store holds.
    AdminReply reply =
        ask(client, QStringLiteral("revoke"), {{QStringLiteral("user"), QStringLiteral("carol")}});
    QVERIFY(reply.ok);
    QCOMPARE(RevokeOutcome::fromJson(reply.result.toObject()),
             (RevokeOutcome{QStringLiteral("carol"), 0, 2, 4, 2}));

    // The store failed: the error says so and the sessions stay.
    QVERIFY(createSession(QStringLiteral("broken"), QStringLiteral("c4")));
    reply = ask(client, QStringLiteral("revoke"), {{QStringLiteral("user"), QStringLiteral("broken")}});
    QVERIFY(!reply.ok);
    QCOMPARE(reply.error.code, QStringLiteral("unavailable"));
    QVERIFY(reply.error.message.contains(QLatin1String("disk on fire")));
    QCOMPARE(m_registry->count(), 2);

    reply = ask(client, QStringLiteral("revoke"));
    QCOMPARE(reply.error.code, QStringLiteral("missing_field"));
}

bool tst_AdminServer::connectClient(AdminClient &client)
{
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    return QTest::qWaitFor([&connected] { return connected.count() == 1; }, 5000);
}

void tst_AdminServer::revokeNeedsAStore()
{
    startServer();
    QVERIFY(createSession(QStringLiteral("local"), QStringLiteral("c1")));
    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    const AdminReply reply =
        ask(client, QStringLiteral("revoke"), {{QStringLiteral("user"), QStringLiteral("local")}});
    QVERIFY(!reply.ok);
    QCOMPARE(reply.error.code, QStringLiteral("unavailable"));
    QVERIFY(reply.error.message.contains(QLatin1String("evict --user")));
    QCOMPARE(m_registry->count(), 1);
}

// Issue 14: a single broker keeps no directory; "brokers" names it alone.
void tst_AdminServer::brokersWithoutDirectoryListSelf()
{
    startServer();
    QVERIFY(createSession(QStringLiteral("local"), QStringLiteral("c1")));
    AdminClient client;
    QVERIFY(connectClient(client));
    std::optional<BrokerList> brokers;
    client.brokers([&](const AdminReply &reply, const BrokerList &list) {
        QVERIFY(reply.ok);
        brokers = list;
    });
    QTRY_VERIFY(brokers.has_value());
    QCOMPARE(brokers->source, QStringLiteral("self"));
    QCOMPARE(brokers->brokers.size(), 1);
    const BrokerStatus &self = brokers->brokers.at(0);
    QVERIFY(self.self);
    QVERIFY(!self.stale);
    QCOMPARE(self.pid, QCoreApplication::applicationPid());
    QCOMPARE(self.sessions, 1);
    QCOMPARE(self.listenUrl, QStringLiteral("http://127.0.0.1:1"));
}

// With a directory the answer is the database's, this broker marked; a
// failing database is "unavailable", not an empty list.
void tst_AdminServer::brokersFromTheDirectory()
{
    startServer();
    DaemonInfo info = m_server->daemonInfo();
    info.nodeId = QStringLiteral("web1");
    m_server->setDaemonInfo(info);
    bool failing = false;
    m_server->setBrokerLister([&failing](const AdminServer::BrokerReply &reply) {
        if (failing) {
            reply(Error{ErrorCode::Io, QStringLiteral("db"), QStringLiteral("connection lost")});
            return;
        }
        BrokerStatus web1;
        web1.nodeId = QStringLiteral("web1");
        BrokerStatus web2;
        web2.nodeId = QStringLiteral("web2");
        web2.heartbeatAgeMs = 20000;
        web2.staleAfterMs = 15000;
        web2.stale = true;
        reply(QList<BrokerStatus>{web1, web2});
    });
    AdminClient client;
    QVERIFY(connectClient(client));
    const AdminReply reply = ask(client, QStringLiteral("brokers"));
    QVERIFY(reply.ok);
    const BrokerList list = BrokerList::fromJson(reply.result.toObject());
    QCOMPARE(list.source, QStringLiteral("database"));
    QCOMPARE(list.brokers.size(), 2);
    QVERIFY(list.brokers.at(0).self);
    QVERIFY(!list.brokers.at(1).self);
    QVERIFY(list.brokers.at(1).stale);

    failing = true;
    const AdminReply failed = ask(client, QStringLiteral("brokers"));
    QVERIFY(!failed.ok);
    QCOMPARE(failed.error.code, QStringLiteral("unavailable"));
    QVERIFY2(failed.error.message.contains(QLatin1String("connection lost")),
             qPrintable(failed.error.message));
}

// The directory reads the database on its own thread: "brokers" is answered
// when the lister replies, other commands meanwhile, and a reply for a client
// that left goes nowhere.
void tst_AdminServer::brokersAnsweredLater()
{
    startServer();
    DaemonInfo info = m_server->daemonInfo();
    info.nodeId = QStringLiteral("web1");
    m_server->setDaemonInfo(info);
    QList<AdminServer::BrokerReply> held;
    m_server->setBrokerLister([&held](AdminServer::BrokerReply reply) { held.append(std::move(reply)); });
    AdminClient client;
    QVERIFY(connectClient(client));
    std::optional<AdminReply> brokers;
    client.request(QStringLiteral("brokers"), {}, [&brokers](const AdminReply &reply) { brokers = reply; });
    QTRY_COMPARE(held.size(), 1);
    QVERIFY(ask(client, QStringLiteral("info")).ok); // not stuck behind the database
    QVERIFY(!brokers);
    BrokerStatus web1;
    web1.nodeId = QStringLiteral("web1");
    held.takeFirst()(QList<BrokerStatus>{web1});
    QTRY_VERIFY(brokers.has_value());
    QVERIFY(brokers->ok);
    const BrokerList list = BrokerList::fromJson(brokers->result.toObject());
    QCOMPARE(list.source, QStringLiteral("database"));
    QCOMPARE(list.brokers.size(), 1);
    QVERIFY(list.brokers.at(0).self);

    {
        AdminClient leaving;
        QVERIFY(connectClient(leaving));
        leaving.request(QStringLiteral("brokers"), {}, [](const AdminReply &) {});
        QTRY_COMPARE(held.size(), 1);
    }
    QTRY_COMPARE(m_server->clientCount(), 1);
    held.takeFirst()(QList<BrokerStatus>{web1}); // dropped: nobody to write to
    QVERIFY(ask(client, QStringLiteral("info")).ok);

    // The server itself goes (the daemon exits) before the answer comes.
    client.request(QStringLiteral("brokers"), {}, [](const AdminReply &) {});
    QTRY_COMPARE(held.size(), 1);
    m_server.reset();
    held.takeFirst()(QList<BrokerStatus>{web1});
}

// evict as brokerctl and the console call it: the selector goes out as they
// wrote it by hand, the outcome comes back decoded.
void tst_AdminServer::typedEvict()
{
    startServer();
    Session *alice = createSession(QStringLiteral("alice"), QStringLiteral("c1"));
    QVERIFY(alice && createSession(QStringLiteral("bob"), QStringLiteral("c2")));
    const QString aliceId = alice->id(); // evicted sessions are deleted
    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);

    QList<EvictOutcome> outcomes;
    const auto collect = [&outcomes](const AdminReply &reply, const EvictOutcome &outcome) {
        if (reply.ok)
            outcomes.append(outcome);
    };
    client.evict(EvictSelector::ofSessions({aliceId.left(8)}), collect);
    client.evict(EvictSelector::ofUser(QStringLiteral("carol")), collect);
    client.evict(EvictSelector::everything(), collect);
    QTRY_COMPARE(outcomes.size(), 3);
    QCOMPARE(outcomes.at(0).evicted, QStringList{aliceId});
    QCOMPARE(outcomes.at(1).notFound, QStringList{QStringLiteral("carol")});
    QCOMPARE(outcomes.at(2).evicted.size(), 1); // bob's
    QCOMPARE(m_registry->count(), 0);

    client.disconnectFromDaemon();
    std::optional<AdminReply> refused;
    EvictOutcome none{{QStringLiteral("stale")}, {}, {}};
    client.evict(EvictSelector::everything(), [&](const AdminReply &reply, const EvictOutcome &outcome) {
        refused = reply;
        none = outcome;
    });
    QTRY_VERIFY(refused.has_value());
    QVERIFY(!refused->ok);
    QCOMPARE(refused->error.code, QStringLiteral("disconnected"));
    QVERIFY(none.evicted.isEmpty());
}

void tst_AdminServer::subscribeStreamsEvents()
{
    startServer();
    Session *existing = createSession(QStringLiteral("alice"), QStringLiteral("early"));
    QVERIFY(existing);
    QTRY_COMPARE(existing->state(), SessionState::Ready);

    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    QSignalSpy events(&client, &AdminClient::eventReceived);
    QSignalSpy decoded(&client, &AdminClient::sessionEvent);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    const AdminReply subscribed = ask(client, QStringLiteral("subscribe"));
    QVERIFY(subscribed.ok);
    QCOMPARE(subscribed.result.toObject().value(QLatin1String("sessions")).toArray().size(), 1);

    const auto eventsNamed = [&events](QLatin1String name) {
        QList<QJsonObject> found;
        for (const QList<QVariant> &args : std::as_const(events)) {
            if (args.at(0).toString() == name)
                found.append(args.at(1).toJsonObject());
        }
        return found;
    };
    const auto sessionOf = [](const QJsonObject &event) {
        return SessionInfo::fromJson(event.value(QLatin1String("session")).toObject())
            .value_or(SessionInfo{});
    };

    Session *session = createSession(QStringLiteral("bob"), QStringLiteral("late"));
    QVERIFY(session);
    const QString id = session->id();
    QTRY_COMPARE(eventsNamed(AdminEventName::SessionStarted).size(), 1);
    QCOMPARE(sessionOf(eventsNamed(AdminEventName::SessionStarted).at(0)).id, id);
    // Ready: the client name and the child pid are known now.
    QTRY_VERIFY(!eventsNamed(AdminEventName::SessionUpdated).isEmpty());
    const SessionInfo ready = sessionOf(eventsNamed(AdminEventName::SessionUpdated).constLast());
    QCOMPARE(ready.state, QStringLiteral("ready"));
    QCOMPARE(ready.client, QStringLiteral("late"));
    const qint64 firstPid = ready.childPid;
    QVERIFY(processExists(firstPid));

    const qint64 expires = QDateTime::currentMSecsSinceEpoch() + 3600 * 1000;
    session->setTokenExpiresMs(expires);
    QTRY_COMPARE(eventsNamed(AdminEventName::TokenExpiry).size(), 1);
    QCOMPARE(sessionOf(eventsNamed(AdminEventName::TokenExpiry).at(0)).tokenExpiresMs, expires);

    QVERIFY(m_registry->respawn(id));
    QTRY_COMPARE_WITH_TIMEOUT(eventsNamed(AdminEventName::SessionRotated).size(), 1, 10000);
    const qint64 secondPid = sessionOf(eventsNamed(AdminEventName::SessionRotated).at(0)).childPid;
    QVERIFY(secondPid > 0);
    QVERIFY(secondPid != firstPid);
    QTRY_VERIFY_WITH_TIMEOUT(!processExists(firstPid), 10000);

    QVERIFY(m_registry->evict(id, QStringLiteral("test over")));
    QTRY_COMPARE(eventsNamed(AdminEventName::SessionEnded).size(), 1);
    const QJsonObject ended = eventsNamed(AdminEventName::SessionEnded).at(0);
    QCOMPARE(ended.value(QLatin1String("reason")).toString(), QStringLiteral("test over"));
    QCOMPARE(sessionOf(ended).id, id);
    QCOMPARE(sessionOf(ended).user, QStringLiteral("bob"));
    QCOMPARE(sessionOf(ended).state, QStringLiteral("ended"));
    QTRY_VERIFY_WITH_TIMEOUT(!processExists(secondPid), 10000);

    // sessionEvent carries every event again, decoded as the console and brokerctl use it.
    QCOMPARE(decoded.count(), events.count());
    for (qsizetype i = 0; i < events.count(); ++i) {
        const AdminEvent event = decoded.at(i).at(0).value<AdminEvent>();
        QCOMPARE(event.name, events.at(i).at(0).toString());
        QCOMPARE(event.session,
                 SessionInfo::fromJson(
                     events.at(i).at(1).toJsonObject().value(QLatin1String("session")).toObject()));
    }
    const AdminEvent endedEvent = decoded.constLast().at(0).value<AdminEvent>();
    QCOMPARE(endedEvent.name, AdminEventName::SessionEnded);
    QCOMPARE(endedEvent.reason, QStringLiteral("test over"));
    QVERIFY(endedEvent.session.has_value());
    QCOMPARE(endedEvent.session->id, id);

    // Unsubscribed: nothing more arrives.
    QVERIFY(ask(client, QStringLiteral("unsubscribe")).ok);
    const qsizetype before = events.count();
    QVERIFY(createSession(QStringLiteral("carol"), QStringLiteral("x")));
    QVERIFY(ask(client, QStringLiteral("info")).ok); // a round trip after the session was made
    QCOMPARE(events.count(), before);
}

void tst_AdminServer::activityIsRateLimited()
{
    AdminServerConfig config;
    config.activityInterval = std::chrono::milliseconds(250);
    startServer(config);
    Session *session = createSession(QStringLiteral("alice"), QStringLiteral("busy"));
    QVERIFY(session);
    QTRY_COMPARE(session->state(), SessionState::Ready);

    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    QSignalSpy events(&client, &AdminClient::eventReceived);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    QVERIFY(ask(client, QStringLiteral("subscribe")).ok);
    const auto activityCount = [&events] {
        return std::count_if(events.cbegin(), events.cend(), [](const QList<QVariant> &args) {
            return args.at(0).toString() == AdminEventName::SessionActivity;
        });
    };

    // The initialize was activity too: let its interval pass first.
    QTest::qWait(int(config.activityInterval.count()) + 100);
    const qsizetype before = activityCount();

    // A burst of 20 notifications: each is client activity.
    for (int i = 0; i < 20; ++i) {
        const QJsonObject ping{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                               {QStringLiteral("method"), QStringLiteral("notifications/initialized")}};
        QVERIFY(session->post({classify(ping)}, false, nullptr).ok());
    }
    QTRY_COMPARE(activityCount(), before + 1); // the first at once
    QTRY_COMPARE_WITH_TIMEOUT(activityCount(), before + 2,
                              3000); // the rest folded into one, after the interval
    // Nothing else is owed: the rate limit holds nothing back, and a round
    // trip shows that nothing was on its way either.
    QVERIFY(!m_server->holdsActivity());
    QVERIFY(ask(client, QStringLiteral("info")).ok);
    QCOMPARE(activityCount(), before + 2);
}

void tst_AdminServer::malformedInput_data()
{
    QTest::addColumn<QByteArray>("line");
    QTest::addColumn<QString>("code");
    QTest::addColumn<QJsonValue>("id");
    QTest::newRow("bad JSON") << QByteArray("{nope\n") << QStringLiteral("bad_json")
                              << QJsonValue(QJsonValue::Null);
    QTest::newRow("unknown command") << QByteArray("{\"v\":1,\"id\":5,\"cmd\":\"halt\"}\n")
                                     << QStringLiteral("unknown_command") << QJsonValue(5);
    QTest::newRow("missing cmd") << QByteArray("{\"v\":1,\"id\":6}\n") << QStringLiteral("missing_field")
                                 << QJsonValue(6);
    QTest::newRow("missing version") << QByteArray("{\"id\":7,\"cmd\":\"info\"}\n")
                                     << QStringLiteral("missing_field") << QJsonValue(7);
    QTest::newRow("future version") << QByteArray("{\"v\":9,\"id\":8,\"cmd\":\"info\"}\n")
                                    << QStringLiteral("unsupported_version") << QJsonValue(8);
    QTest::newRow("evict without target") << QByteArray("{\"v\":1,\"id\":9,\"cmd\":\"evict\"}\n")
                                          << QStringLiteral("missing_field") << QJsonValue(9);
    QTest::newRow("NUL bytes") << QByteArray("\0\0\0\n", 4) << QStringLiteral("bad_json")
                               << QJsonValue(QJsonValue::Null);
}

void tst_AdminServer::malformedInput()
{
    QFETCH(QByteArray, line);
    QFETCH(QString, code);
    QFETCH(QJsonValue, id);
    startServer();
    RawClient raw(m_socketPath);
    QVERIFY(raw.waitConnected());
    raw.send(line);
    const QJsonObject reply = raw.next();
    QCOMPARE(reply.value(QLatin1String("ok")), QJsonValue(false));
    QCOMPARE(errorCode(reply), code);
    QCOMPARE(reply.value(QLatin1String("id")), id);
    QVERIFY(
        !reply.value(QLatin1String("error")).toObject().value(QLatin1String("message")).toString().isEmpty());
    // The connection still serves.
    raw.send("{\"v\":1,\"id\":\"after\",\"cmd\":\"info\"}\n");
    const QJsonObject after = raw.next();
    QCOMPARE(after.value(QLatin1String("ok")), QJsonValue(true));
    QCOMPARE(after.value(QLatin1String("id")), QJsonValue(QStringLiteral("after")));
}

void tst_AdminServer::oversizedLineClosesOnlyThatClient()
{
    startServer();
    AdminClient bystander;
    QSignalSpy connected(&bystander, &AdminClient::connected);
    QSignalSpy bystanderGone(&bystander, &AdminClient::disconnected);
    bystander.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);

    RawClient raw(m_socketPath);
    QVERIFY(raw.waitConnected());
    QTRY_COMPARE(m_server->clientCount(), 2);
    raw.send(QByteArray(70 * 1024, 'x')); // no newline: the limit alone ends it
    const QJsonObject reply = raw.next();
    QCOMPARE(errorCode(reply), QStringLiteral("line_too_long"));
    QTRY_COMPARE(raw.socket.state(), QLocalSocket::UnconnectedState);
    QTRY_COMPARE(m_server->clientCount(), 1);

    QVERIFY(ask(bystander, QStringLiteral("info")).ok);
    QCOMPARE(bystanderGone.count(), 0);
}

void tst_AdminServer::clientThatStopsReadingIsDropped()
{
    AdminServerConfig config;
    config.maxQueuedBytes = 16 * 1024;
    startServer(config);
    for (int i = 0; i < 5; ++i)
        QVERIFY(createSession(QStringLiteral("user%1").arg(i), QStringLiteral("c")));

    // Asks for lists and never reads the answers: the kernel buffer fills,
    // then our queue passes its bound and the client is dropped.
    RawClient raw(m_socketPath);
    QVERIFY(raw.waitConnected());
    QByteArray burst;
    for (int i = 0; i < 4000; ++i)
        burst += "{\"v\":1,\"id\":1,\"cmd\":\"list\"}\n";
    raw.socket.write(burst);
    QTRY_VERIFY_WITH_TIMEOUT(m_server->clientCount() == 0, 10000);

    AdminClient other;
    QSignalSpy connected(&other, &AdminClient::connected);
    other.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    QVERIFY(ask(other, QStringLiteral("list")).ok);
}

void tst_AdminServer::clientSeesDaemonGo()
{
    startServer();
    AdminClient client;
    QSignalSpy connected(&client, &AdminClient::connected);
    QSignalSpy disconnected(&client, &AdminClient::disconnected);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(connected.count(), 1);
    std::optional<AdminReply> pending;
    m_server.reset(); // the daemon goes away with requests in flight
    client.request(QStringLiteral("list"), {}, [&pending](const AdminReply &reply) { pending = reply; });
    QTRY_COMPARE(disconnected.count(), 1);
    QTRY_VERIFY(pending.has_value());
    QVERIFY(!pending->ok);
    QCOMPARE(pending->error.code, QStringLiteral("disconnected"));
    QCOMPARE(client.state(), AdminClient::State::Disconnected);
}

void tst_AdminServer::clientReportsMissingDaemon()
{
    AdminClient client;
    QSignalSpy failed(&client, &AdminClient::connectionFailed);
    client.connectTo(AdminTarget::local(m_socketPath));
    QTRY_COMPARE(failed.count(), 1);
    const QString message = failed.at(0).at(0).toString();
    QVERIFY2(message.contains(QLatin1String("no broker is running")), qPrintable(message));
    QVERIFY2(message.contains(m_socketPath), qPrintable(message));
}

void tst_AdminServer::foreignUidIsRefused()
{
    if (::geteuid() != 0)
        QSKIP("needs root to run a client as another uid (setuid to nobody in a forked child)");
    const struct passwd *nobody = ::getpwnam("nobody");
    if (!nobody)
        QSKIP("there is no user \"nobody\" to connect as");
    const uid_t uid = nobody->pw_uid;
    const gid_t gid = nobody->pw_gid;
    startServer();
    const QByteArray path = QFile::encodeName(m_socketPath);

    // Child: connects as nobody, sends info, reads to EOF. Exit 0: it was told
    // "forbidden" and closed; 10: connect() was denied; else another failure.
    // Only async-signal-safe calls after fork().
    const auto runAsNobody = [&]() -> int {
        const pid_t child = ::fork();
        if (child == 0) {
            ::alarm(10);
            if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
                ::_exit(20);
            const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un address = {};
            address.sun_family = AF_UNIX;
            std::memcpy(address.sun_path, path.constData(), size_t(path.size()));
            if (::connect(fd, reinterpret_cast<const sockaddr *>(&address), sizeof(address)) != 0)
                ::_exit(errno == EACCES ? 10 : 11);
            const char request[] = "{\"v\":1,\"id\":1,\"cmd\":\"list\"}\n";
            (void)!::write(fd, request, sizeof(request) - 1);
            char buffer[4096];
            size_t total = 0;
            for (;;) {
                const ssize_t n = ::read(fd, buffer + total, sizeof(buffer) - 1 - total);
                if (n <= 0)
                    break;
                total += size_t(n);
                if (total >= sizeof(buffer) - 1)
                    ::_exit(12);
            }
            buffer[total] = '\0';
            const bool forbidden = std::strstr(buffer, "\"forbidden\"") != nullptr;
            const bool listed = std::strstr(buffer, "\"sessions\"") != nullptr;
            ::_exit(forbidden && !listed ? 0 : 13);
        }
        int status = 0;
        // The server must run while the child waits for it.
        if (QTest::qWaitFor([&] { return ::waitpid(child, &status, WNOHANG) == child; }, 10000))
            return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        return 101;
    };

    // Mode 0600 in a 0700 directory: the kernel turns nobody away first.
    QCOMPARE(runAsNobody(), 10);

    // Opened up by hand: the peer-credential check refuses what the mode let through.
    QCOMPARE(::chmod(QFile::encodeName(m_dir->path()).constData(), 0755), 0);
    QCOMPARE(::chmod(QFile::encodeName(m_dir->filePath(QStringLiteral("run"))).constData(), 0755), 0);
    QCOMPARE(::chmod(path.constData(), 0777), 0);
    QTest::ignoreMessage(
        QtWarningMsg, QRegularExpression(QStringLiteral("refused an admin connection from uid %1").arg(uid)));
    QCOMPARE(runAsNobody(), 0);
    QCOMPARE(m_server->clientCount(), 0);
}

QTEST_GUILESS_MAIN(tst_AdminServer)
#include "tst_adminserver.moc"
