#include "AdminServer.h"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <QCoreApplication>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QLocalServer>
#include <QLocalSocket>
#include <QMetaEnum>
#include <QSet>
#include <QSysInfo>
#include <QTimer>

#include "AdminPaths.h"
#include "AdminPeer.h"
#include "Logging.h"
#include "PeerCredentials.h"
#include "base/Metrics.h"
#include "session/SessionRegistry.h"

namespace fmb {
namespace {

QString stateName(SessionState state)
{
    return QString::fromLatin1(QMetaEnum::fromType<SessionState>().valueToKey(int(state))).toLower();
}

Error socketError(ErrorCode code, const QString &path, const QString &message)
{
    return Error{code, path, QStringLiteral("admin socket %1: %2").arg(path, message)};
}

// Refuses a connection with one error line; the socket deletes itself once closed.
void refuse(QLocalSocket *socket, QLatin1String code, const QString &message)
{
    QObject::connect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
    socket->write(encodeAdminError(QJsonValue::Null, code, message));
    socket->disconnectFromServer();
    if (socket->state() == QLocalSocket::UnconnectedState)
        socket->deleteLater();
}

} // namespace

AdminServer::AdminServer(AdminServerConfig config, SessionRegistry *registry, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_registry(registry)
    , m_server(new QLocalServer(this))
    , m_activity(m_config.activityInterval.count())
    , m_activityTimer(new QTimer(this))
{
    m_clock.start();
    m_activityTimer->setSingleShot(true);
    connect(m_activityTimer, &QTimer::timeout, this, &AdminServer::flushActivity);
    connect(m_server, &QLocalServer::newConnection, this, &AdminServer::onNewConnection);

    connect(registry, &SessionRegistry::sessionCreated, this, [this](Session *session) {
        watch(session);
        publish(QString(AdminEventName::SessionStarted), session->id());
    });
    connect(registry, &SessionRegistry::sessionEnded, this, &AdminServer::publishEnded);
    const QList<Session *> sessions = registry->sessions();
    for (Session *session : sessions) {
        watch(session);
        m_known.insert(session->id(), describe(*session));
    }
}

AdminServer::~AdminServer()
{
    stopListening();
}

SessionInfo AdminServer::describe(const Session &session)
{
    SessionInfo info;
    info.id = session.id();
    info.user = session.owner().user;
    info.client = session.clientName();
    info.state = stateName(session.state());
    info.createdMs = session.createdMs();
    info.lastActiveMs = session.lastActiveMs();
    info.idleMs = session.idleMs();
    info.active = session.isActive();
    info.tokenExpiresMs = session.tokenExpiresMs();
    info.childPid = session.backendPid();
    info.pendingRequests = session.pendingRequests();
    if (session.kind() == SessionKind::UserChild)
        info.kind = QStringLiteral("user child");
    return info;
}

Result<void> AdminServer::listen()
{
    const QString &path = m_config.socketPath;
    if (path.isEmpty())
        return Error{ErrorCode::InvalidArgument, QStringLiteral("admin_socket"),
                     QStringLiteral("admin_socket: the path is empty")};
    if (m_server->isListening())
        return {};

    Result<void> directory =
        preparePrivateDirectory(QFileInfo(path).absolutePath(), m_config.privateDirectory);
    if (!directory)
        return socketError(directory.error().code, path, directory.error().message);

    switch (probeUnixSocket(path)) {
    case SocketProbe::Absent:
        break;
    case SocketProbe::Listening:
        return socketError(
            ErrorCode::Conflict, path,
            QStringLiteral("another process (a running broker?) is listening on it; stop it or "
                           "choose another --admin-socket"));
    case SocketProbe::Stale:
        if (!QFile::remove(path))
            return socketError(ErrorCode::Io, path, QStringLiteral("cannot remove the stale socket file"));
        qCInfo(lcAdmin).noquote() << "removed a stale admin socket at" << path << "(nothing listened on it)";
        break;
    case SocketProbe::NotASocket:
        return socketError(ErrorCode::Conflict, path,
                           QStringLiteral("a file that is not a socket is in the way; remove it or choose "
                                          "another --admin-socket"));
    case SocketProbe::Denied:
    case SocketProbe::Failed:
        return socketError(ErrorCode::Conflict, path,
                           QStringLiteral("a socket is there that this user cannot connect to; remove it "
                                          "or choose another --admin-socket"));
    }

    m_server->setSocketOptions(QLocalServer::UserAccessOption);
    if (!m_server->listen(path))
        return socketError(ErrorCode::Io, path, m_server->errorString());

    // QLocalServer sets the mode through a temporary directory; check what we got.
    const QByteArray native = QFile::encodeName(path);
    struct stat info = {};
    if (::lstat(native.constData(), &info) != 0 || !S_ISSOCK(info.st_mode)) {
        m_server->close();
        return socketError(ErrorCode::Io, path, QStringLiteral("the socket file vanished after listen()"));
    }
    if ((info.st_mode & 07777) != 0600 && ::chmod(native.constData(), 0600) != 0) {
        const QString why = QString::fromLocal8Bit(std::strerror(errno));
        stopListening();
        return socketError(ErrorCode::Io, path, QStringLiteral("cannot set mode 0600: %1").arg(why));
    }
    qCInfo(lcAdmin).noquote() << "admin socket listening on" << path << "(mode 0600, uid" << ::geteuid()
                              << "only)";
    return {};
}

void AdminServer::stopListening()
{
    if (!m_server->isListening())
        return;
    m_server->close(); // removes the socket file
    qCInfo(lcAdmin).noquote() << "admin socket closed:" << m_config.socketPath;
}

bool AdminServer::isListening() const
{
    return m_server->isListening();
}

int AdminServer::subscriberCount() const
{
    return int(std::count_if(m_peers.cbegin(), m_peers.cend(),
                             [](const AdminPeer *peer) { return peer->isSubscribed(); }));
}

DaemonInfo AdminServer::daemonInfo() const
{
    DaemonInfo info = m_info;
    info.pid = QCoreApplication::applicationPid();
    info.adminSocket = m_config.socketPath;
    if (info.startedMs > 0)
        info.uptimeSeconds = (QDateTime::currentMSecsSinceEpoch() - info.startedMs) / 1000;
    info.adminClients = clientCount();
    info.subscribers = subscriberCount();
    info.counters = activityCounters();
    if (m_registry) {
        info.sessions = m_registry->count();
        info.stoppingSessions = m_registry->stoppingCount();
        info.maxSessions = m_registry->limits().maxSessions;
        QSet<QString> users;
        const QList<Session *> sessions = m_registry->sessions();
        for (const Session *session : sessions)
            users.insert(session->owner().user);
        info.users = int(users.size());
    }
    return info;
}

void AdminServer::listBrokers(std::function<void(Result<BrokerList>)> done)
{
    if (!m_brokerLister) {
        done(selfBroker());
        return;
    }
    m_brokerLister(
        [self = QPointer<AdminServer>(this), done = std::move(done)](Result<QList<BrokerStatus>> brokers) {
            if (self)
                done(self->databaseBrokers(std::move(brokers)));
        });
}

Result<BrokerList> AdminServer::databaseBrokers(Result<QList<BrokerStatus>> brokers) const
{
    if (!brokers.ok()) {
        qCWarning(lcAdmin).noquote() << "cannot list the brokers:" << brokers.error().message;
        return Error{brokers.error().code, brokers.error().subject,
                     QStringLiteral("cannot read the brokers from the database: ") + brokers.error().message};
    }
    BrokerList list;
    list.source = QStringLiteral("database");
    list.brokers = std::move(brokers).value();
    for (BrokerStatus &broker : list.brokers)
        broker.self = broker.nodeId == m_info.nodeId;
    return list;
}

BrokerList AdminServer::selfBroker() const
{
    BrokerList list;
    const DaemonInfo info = daemonInfo();
    BrokerStatus self;
    self.nodeId = info.nodeId;
    self.host = QSysInfo::machineHostName();
    self.pid = info.pid;
    self.listenUrl = info.listenUrl;
    self.startedMs = info.startedMs;
    self.heartbeatMs = QDateTime::currentMSecsSinceEpoch(); // it answers: alive now
    self.sessions = info.sessions;
    if (m_registry) {
        const QList<Session *> sessions = m_registry->sessions();
        self.userChildren = int(std::count_if(sessions.cbegin(), sessions.cend(), [](const Session *s) {
            return s->kind() == SessionKind::UserChild;
        }));
    }
    self.self = true;
    list.source = QStringLiteral("self");
    list.brokers.append(self);
    return list;
}

ActivityCounters AdminServer::activityCounters()
{
    using metrics::Counter;
    ActivityCounters counters;
    for (int method = 0; method < int(metrics::Method::Count); ++method)
        counters.requests += metrics::operation(metrics::Method(method)).count;
    counters.refreshes = metrics::value(Counter::RefreshesSucceeded);
    counters.refreshFailures =
        metrics::value(Counter::RefreshesRefused) + metrics::value(Counter::RefreshesUnavailable);
    counters.errors = metrics::value(Counter::Responses5xx);
    return counters;
}

void AdminServer::onNewConnection()
{
    while (QLocalSocket *socket = m_server->nextPendingConnection()) {
        const std::optional<PeerCredentials> peer = peerCredentials(socket->socketDescriptor());
        if (!peer || peer->uid != ::geteuid()) {
            qCWarning(lcAdmin).noquote()
                << "refused an admin connection from"
                << (peer ? QStringLiteral("uid %1 (pid %2)").arg(peer->uid).arg(peer->pid)
                         : QStringLiteral("an unknown peer"))
                << "on" << m_config.socketPath << ": only uid" << ::geteuid() << "may use it";
            refuse(socket, AdminErrorCode::Forbidden,
                   QStringLiteral("this admin socket serves uid %1 only; connect as that user")
                       .arg(::geteuid()));
            continue;
        }
        if (m_peers.size() >= m_config.maxClients) {
            qCWarning(lcAdmin).noquote() << "refused an admin connection (pid" << peer->pid
                                         << "):" << m_peers.size() << "clients already, the limit";
            refuse(socket, AdminErrorCode::Busy,
                   QStringLiteral("too many admin clients (%1, the limit)").arg(m_config.maxClients));
            continue;
        }
        const quint64 id = m_nextPeerId++;
        auto *adminPeer = new AdminPeer(id, socket, m_config.maxLineBytes, m_config.maxQueuedBytes, this);
        m_peers.insert(id, adminPeer);
        connect(adminPeer, &AdminPeer::requestReceived, this, &AdminServer::onRequest);
        connect(adminPeer, &AdminPeer::closed, this, &AdminServer::onPeerClosed);
        qCDebug(lcAdmin) << "admin client" << id << "connected (pid" << peer->pid << ")";
        adminPeer->start();
    }
}

void AdminServer::onPeerClosed(quint64 peerId)
{
    AdminPeer *peer = m_peers.take(peerId);
    if (!peer)
        return;
    qCDebug(lcAdmin) << "admin client" << peerId << "disconnected";
    peer->deleteLater();
}

void AdminServer::onRequest(quint64 peerId, const ParsedAdminRequest &parsed)
{
    AdminPeer *peer = m_peers.value(peerId);
    if (!peer)
        return;
    if (!parsed.ok()) {
        qCDebug(lcAdmin).noquote() << "admin client" << peerId
                                   << "sent a bad request:" << parsed.problem.message;
        peer->send(encodeAdminError(parsed.request.id, parsed.problem.code, parsed.problem.message));
        return;
    }
    const AdminRequest &request = parsed.request;
    qCDebug(lcAdmin).noquote() << "admin client" << peerId << "asks" << adminCommandName(request.command);
    switch (request.command) {
    case AdminCommand::Info:
        peer->send(encodeAdminResult(request.id, daemonInfo().toJson()));
        return;
    case AdminCommand::List:
        peer->send(encodeAdminResult(request.id, sessionListToJson(sessionList())));
        return;
    case AdminCommand::Evict:
        peer->send(encodeAdminResult(request.id, evict(request)));
        return;
    case AdminCommand::Revoke:
        // Answered when the store has written (on its own thread in the
        // daemon); the peer may have left by then.
        revoke(request.user, [this, peerId, id = request.id](const Result<RevokeOutcome> &outcome) {
            AdminPeer *asker = m_peers.value(peerId);
            if (!asker)
                return;
            if (outcome.ok())
                asker->send(encodeAdminResult(id, outcome.value().toJson()));
            else
                asker->send(encodeAdminError(id, AdminErrorCode::Unavailable, outcome.error().message));
        });
        return;
    case AdminCommand::Brokers:
        // Possibly answered later (the directory's thread reads the
        // database): the peer is looked up again then, it may have left.
        listBrokers([this, peerId, id = request.id](const Result<BrokerList> &brokers) {
            AdminPeer *asker = m_peers.value(peerId);
            if (!asker) {
                qCDebug(lcAdmin) << "admin client" << peerId << "left before its brokers answer";
                return;
            }
            if (brokers.ok())
                asker->send(encodeAdminResult(id, brokers.value().toJson()));
            else
                asker->send(encodeAdminError(id, AdminErrorCode::Unavailable, brokers.error().message));
        });
        return;
    case AdminCommand::Subscribe:
        // The snapshot and the subscription are one step: no event is lost or
        // doubled between them.
        peer->setSubscribed(true);
        peer->send(encodeAdminResult(request.id, sessionListToJson(sessionList())));
        return;
    case AdminCommand::Unsubscribe:
        peer->setSubscribed(false);
        peer->send(encodeAdminResult(request.id, QJsonObject{}));
        return;
    }
}

QList<SessionInfo> AdminServer::sessionList() const
{
    QList<Session *> sessions;
    if (m_registry)
        sessions = m_registry->sessions();
    // Oldest first; sessions made in one millisecond in the order they were made.
    std::sort(sessions.begin(), sessions.end(), [](const Session *a, const Session *b) {
        return a->createdMs() != b->createdMs() ? a->createdMs() < b->createdMs()
                                                : a->creationOrder() < b->creationOrder();
    });
    QList<SessionInfo> infos;
    for (const Session *session : std::as_const(sessions))
        infos.append(describe(*session));
    return infos;
}

QJsonValue AdminServer::evict(const AdminRequest &request)
{
    EvictOutcome outcome;
    if (!m_registry)
        return outcome.toJson();
    const QString reason = QStringLiteral("evicted by an operator");
    const QList<Session *> sessions = m_registry->sessions();
    QStringList liveIds;
    for (const Session *session : sessions) {
        if (request.all || (!request.user.isEmpty() && session->owner().user == request.user))
            outcome.evicted.append(session->id());
        liveIds.append(session->id());
    }
    if (!request.sessions.isEmpty())
        outcome = resolveEvictTargets(request.sessions, liveIds);
    else if (!request.user.isEmpty() && outcome.evicted.isEmpty())
        outcome.notFound.append(request.user);
    outcome.evicted.sort();
    for (const QString &id : std::as_const(outcome.evicted)) {
        qCInfo(lcAdmin).noquote() << "evicting session" << shortSessionId(id) << "at an operator's request";
        (void)m_registry->evict(id, reason);
    }
    return outcome.toJson();
}

void AdminServer::revoke(const QString &user, std::function<void(Result<RevokeOutcome>)> done)
{
    if (!m_revoker) {
        done(Error{ErrorCode::Unavailable, user,
                   QStringLiteral("this broker keeps no tokens (local mode): use evict --user to end "
                                  "the sessions")});
        return;
    }
    // The store first: a client that re-initializes while its sessions end
    // already meets a revoked bearer.
    m_revoker(user, [self = QPointer<AdminServer>(this), user,
                     done = std::move(done)](Result<RevokeOutcome> taken) {
        if (!self)
            return;
        if (!taken.ok()) {
            qCWarning(lcAdmin).noquote() << "revoking user" << user << "failed:" << taken.error().message;
            done(Error{taken.error().code, user,
                       QStringLiteral("cannot revoke %1: %2").arg(user, taken.error().message)});
            return;
        }
        done(self->endRevokedSessions(user, std::move(taken).value()));
    });
}

RevokeOutcome AdminServer::endRevokedSessions(const QString &user, RevokeOutcome outcome)
{
    outcome.user = user;
    if (m_registry) {
        const QList<Session *> sessions = m_registry->sessions();
        for (const Session *session : sessions) {
            if (session->owner().user == user &&
                m_registry->evict(session->id(), QStringLiteral("revoked"), EndCause::Revoked))
                ++outcome.sessions;
        }
    }
    qCInfo(lcAdmin).noquote() << "revoked user" << user << "at an operator's request:" << outcome.sessions
                              << "sessions," << outcome.grants << "grants," << outcome.brokerTokens
                              << "broker tokens," << outcome.upstreamTokens << "upstream tokens";
    Q_EMIT userRevoked(outcome);
    return outcome;
}

void AdminServer::watch(Session *session)
{
    connect(session, &Session::ready, this,
            [this](const QString &id) { publish(QString(AdminEventName::SessionUpdated), id); });
    connect(session, &Session::respawnFailed, this,
            [this](const QString &id) { publish(QString(AdminEventName::SessionUpdated), id); });
    connect(session, &Session::backendSwapped, this,
            [this](const QString &id) { publish(QString(AdminEventName::SessionRotated), id); });
    connect(session, &Session::tokenExpiryChanged, this,
            [this](const QString &id) { publish(QString(AdminEventName::TokenExpiry), id); });
    connect(session, &Session::activity, this, &AdminServer::onActivity);
}

void AdminServer::publish(const QString &event, const QString &sessionId)
{
    Session *session = m_registry ? m_registry->find(sessionId) : nullptr;
    if (!session)
        return; // ended in between: session.ended says so
    const SessionInfo info = describe(*session);
    m_known.insert(sessionId, info);
    broadcast(encodeAdminEvent(event, QJsonObject{{QStringLiteral("session"), info.toJson()}}));
}

void AdminServer::publishEnded(const QString &sessionId, const QString &reason)
{
    SessionInfo info = m_known.take(sessionId);
    m_activity.forget(sessionId);
    if (info.id.isEmpty())
        info.id = sessionId;
    info.state = QStringLiteral("ended");
    info.pendingRequests = 0;
    broadcast(encodeAdminEvent(
        QString(AdminEventName::SessionEnded),
        QJsonObject{{QStringLiteral("session"), info.toJson()}, {QStringLiteral("reason"), reason}}));
}

void AdminServer::broadcast(const QByteArray &line)
{
    // send() may drop a peer (closed() then edits m_peers): iterate over a copy.
    const QList<AdminPeer *> peers = m_peers.values();
    for (AdminPeer *peer : peers) {
        if (peer->isSubscribed())
            peer->send(line);
    }
}

void AdminServer::onActivity(const QString &sessionId)
{
    if (m_activity.offer(sessionId, m_clock.elapsed())) {
        publish(QString(AdminEventName::SessionActivity), sessionId);
        return;
    }
    if (!m_activityTimer->isActive())
        m_activityTimer->start(int(std::max<qint64>(1, m_activity.msUntilNextDue(m_clock.elapsed()))));
}

void AdminServer::flushActivity()
{
    const QStringList due = m_activity.takeDue(m_clock.elapsed());
    for (const QString &id : due)
        publish(QString(AdminEventName::SessionActivity), id);
    const qint64 next = m_activity.msUntilNextDue(m_clock.elapsed());
    if (next >= 0)
        m_activityTimer->start(int(std::max<qint64>(1, next)));
}

} // namespace fmb
