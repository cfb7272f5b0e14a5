#include "AdminClient.h"

#include <QLocalSocket>
#include <QTimer>

#include "AdminPaths.h"
#include "Logging.h"

namespace fmb {
namespace {

// Replies are single lines; a list of many sessions is long but bounded.
constexpr qsizetype MaxReplyLineBytes = 64 * 1024 * 1024;

} // namespace

AdminClient::AdminClient(QObject *parent)
    : QObject(parent)
    , m_sshOptions(sshOptionsFromEnvironment())
    , m_reader(MaxReplyLineBytes)
    , m_replyTimer(new QTimer(this))
{
    m_replyTimer->setSingleShot(true);
    connect(m_replyTimer, &QTimer::timeout, this, &AdminClient::onReplyTimeout);
}

void AdminClient::setReplyTimeout(std::chrono::milliseconds timeout)
{
    m_replyTimeout = timeout;
    if (timeout.count() <= 0)
        m_replyTimer->stop();
}

void AdminClient::onReplyTimeout()
{
    if (m_state != State::Connected || m_pending.empty())
        return;
    finish(true, QStringLiteral("no answer from the broker at %1 within %2 s")
                     .arg(m_target.displayName())
                     .arg(double(m_replyTimeout.count()) / 1000));
}

AdminClient::~AdminClient()
{
    // Handlers may point into objects being destroyed with us: drop them unrun.
    m_pending.clear();
    if (m_socket)
        m_socket->disconnect(this);
    if (m_tunnel)
        m_tunnel->disconnect(this);
}

void AdminClient::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

void AdminClient::connectTo(const AdminTarget &target)
{
    disconnectFromDaemon();
    m_target = target;
    setState(State::Connecting);
    if (target.kind == AdminTarget::Kind::Local) {
        QMetaObject::invokeMethod(
            this, [this, path = target.socketPath] { connectSocket(path); }, Qt::QueuedConnection);
        return;
    }
    m_tunnel = new SshTunnel(target, m_sshOptions, this);
    connect(m_tunnel, &SshTunnel::ready, this, &AdminClient::connectSocket);
    connect(m_tunnel, &SshTunnel::failed, this, [this](const QString &message) { finish(false, message); });
    connect(m_tunnel, &SshTunnel::closed, this,
            [this](const QString &message) { finish(m_state == State::Connected, message); });
    m_tunnel->start();
}

void AdminClient::connectSocket(const QString &path)
{
    if (m_state != State::Connecting)
        return;
    m_reader = AdminLineReader(MaxReplyLineBytes);
    m_refusal.clear();
    m_socket = new QLocalSocket(this);
    connect(m_socket, &QLocalSocket::connected, this, &AdminClient::onSocketConnected);
    connect(m_socket, &QLocalSocket::errorOccurred, this, &AdminClient::onSocketError);
    connect(m_socket, &QLocalSocket::disconnected, this, &AdminClient::onSocketDisconnected);
    connect(m_socket, &QLocalSocket::readyRead, this, &AdminClient::onReadyRead);
    m_socket->connectToServer(path);
}

void AdminClient::onSocketConnected()
{
    setState(State::Connected);
    Q_EMIT connected();
}

void AdminClient::onSocketError()
{
    if (!m_socket)
        return;
    if (m_state == State::Connecting) {
        const QString path = m_socket->serverName();
        QString message =
            m_target.kind == AdminTarget::Kind::Local
                ? describeLocalFailure(path)
                : QStringLiteral("cannot connect through the ssh forward: %1").arg(m_socket->errorString());
        finish(false, message);
    }
    // Connected: disconnected() follows and says the rest.
}

void AdminClient::onSocketDisconnected()
{
    if (m_state != State::Connected)
        return;
    onReadyRead(); // a refusal line may still be buffered
    QString reason;
    if (!m_refusal.isEmpty()) {
        reason = m_refusal;
    } else if (m_target.kind == AdminTarget::Kind::Ssh) {
        const QString detail = m_tunnel ? m_tunnel->recentStderr() : QString();
        reason =
            QStringLiteral("the connection through ssh %1 closed; is the broker running there with its admin "
                           "socket at %2?%3")
                .arg(m_target.sshDestination, m_tunnel ? m_tunnel->remoteSocketPath() : m_target.socketPath,
                     detail.isEmpty() ? QString() : QLatin1String(" (ssh: ") + detail + QLatin1Char(')'));
    } else {
        reason = QStringLiteral("the broker closed the admin connection");
    }
    finish(true, reason);
}

QString AdminClient::describeLocalFailure(const QString &path) const
{
    switch (probeUnixSocket(path)) {
    case SocketProbe::Absent:
        return QStringLiteral(
                   "no broker is running at %1 (the socket does not exist; start forgejo-mcp-brokerd "
                   "or pass --admin-socket)")
            .arg(path);
    case SocketProbe::Stale:
        return QStringLiteral("no broker is listening on %1 (a stale socket file is left there)").arg(path);
    case SocketProbe::Denied:
        return QStringLiteral("permission denied for %1: the admin socket or its directory belongs to "
                              "another user (run this as "
                              "the broker's user)")
            .arg(path);
    case SocketProbe::NotASocket:
        return QStringLiteral("%1 is not a socket").arg(path);
    case SocketProbe::Listening:
    case SocketProbe::Failed:
        break;
    }
    return QStringLiteral("cannot connect to %1: %2")
        .arg(path, m_socket ? m_socket->errorString() : QString());
}

void AdminClient::disconnectFromDaemon()
{
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
    if (m_tunnel) {
        m_tunnel->disconnect(this);
        m_tunnel->stop();
        m_tunnel->deleteLater();
        m_tunnel = nullptr;
    }
    failPending(QStringLiteral("disconnected"));
    setState(State::Disconnected);
}

void AdminClient::finish(bool wasConnected, const QString &message)
{
    if (m_state == State::Disconnected)
        return;
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
    if (m_tunnel) {
        m_tunnel->disconnect(this);
        m_tunnel->stop();
        m_tunnel->deleteLater();
        m_tunnel = nullptr;
    }
    failPending(message);
    setState(State::Disconnected);
    if (wasConnected)
        Q_EMIT disconnected(message);
    else
        Q_EMIT connectionFailed(message);
}

void AdminClient::failPending(const QString &message)
{
    m_replyTimer->stop();
    while (!m_pending.empty()) {
        auto node = m_pending.extract(m_pending.begin());
        node.mapped()(
            AdminReply{false, QJsonValue(), AdminProblem{QString(AdminErrorCode::Disconnected), message}});
    }
}

qint64 AdminClient::request(const QString &command, const QJsonObject &fields, ReplyHandler handler)
{
    const qint64 id = m_nextId++;
    if (m_state != State::Connected || !m_socket) {
        QMetaObject::invokeMethod(
            this,
            [handler = std::move(handler)] {
                handler(AdminReply{false, QJsonValue(),
                                   AdminProblem{QString(AdminErrorCode::Disconnected),
                                                QStringLiteral("not connected to a broker")}});
            },
            Qt::QueuedConnection);
        return id;
    }
    m_pending.emplace(id, std::move(handler));
    m_socket->write(encodeAdminRequest(id, command, fields));
    if (m_replyTimeout.count() > 0 && !m_replyTimer->isActive())
        m_replyTimer->start(m_replyTimeout);
    return id;
}

qint64 AdminClient::listSessions(SessionsHandler handler)
{
    return requestSessions(QStringLiteral("list"), std::move(handler));
}

qint64 AdminClient::subscribe(SessionsHandler handler)
{
    return requestSessions(QStringLiteral("subscribe"), std::move(handler));
}

qint64 AdminClient::requestSessions(const QString &command, SessionsHandler handler)
{
    return request(command, {}, [handler = std::move(handler)](const AdminReply &reply) {
        handler(reply, reply.ok ? sessionListFromJson(reply.result) : QList<SessionInfo>());
    });
}

qint64 AdminClient::info(InfoHandler handler)
{
    return request(QStringLiteral("info"), {}, [handler = std::move(handler)](const AdminReply &reply) {
        handler(reply, reply.ok ? DaemonInfo::fromJson(reply.result.toObject()) : DaemonInfo());
    });
}

qint64 AdminClient::evict(const EvictSelector &selector, EvictHandler handler)
{
    return request(
        QStringLiteral("evict"), selector.toJson(), [handler = std::move(handler)](const AdminReply &reply) {
            handler(reply, reply.ok ? EvictOutcome::fromJson(reply.result.toObject()) : EvictOutcome());
        });
}

qint64 AdminClient::revoke(const QString &user, RevokeHandler handler)
{
    return request(QStringLiteral("revoke"), QJsonObject{{QStringLiteral("user"), user}},
                   [handler = std::move(handler)](const AdminReply &reply) {
                       handler(reply,
                               reply.ok ? RevokeOutcome::fromJson(reply.result.toObject()) : RevokeOutcome());
                   });
}

qint64 AdminClient::brokers(BrokersHandler handler)
{
    return request(QStringLiteral("brokers"), {}, [handler = std::move(handler)](const AdminReply &reply) {
        handler(reply, reply.ok ? BrokerList::fromJson(reply.result.toObject()) : BrokerList());
    });
}

void AdminClient::onReadyRead()
{
    while (m_socket && m_socket->bytesAvailable() > 0) {
        const AdminLineReader::Chunk chunk = m_reader.feed(m_socket->readAll());
        for (const QByteArray &line : chunk.lines) {
            handleLine(line);
            if (!m_socket)
                return;
        }
        if (chunk.overflow) {
            finish(true,
                   QStringLiteral("the broker sent a line longer than %1 bytes").arg(MaxReplyLineBytes));
            return;
        }
    }
}

void AdminClient::handleLine(const QByteArray &line)
{
    const AdminMessage message = parseAdminMessage(line);
    switch (message.kind) {
    case AdminMessage::Kind::Invalid:
        qCWarning(lcAdmin).noquote() << "ignoring a line from the broker:" << message.error.message;
        return;
    case AdminMessage::Kind::Event:
        Q_EMIT eventReceived(message.event, message.object);
        Q_EMIT sessionEvent(AdminEvent::fromJson(message.event, message.object));
        return;
    case AdminMessage::Kind::Reply:
        break;
    }
    if (message.id.isNull()) {
        // Not an answer to anything we asked: the broker refuses us and closes.
        m_refusal = QStringLiteral("the broker refused the connection: %1").arg(message.error.message);
        return;
    }
    auto node = m_pending.extract(qint64(message.id.toDouble()));
    if (node.empty())
        return;
    // The broker answers: the others it owes get a full timeout from now.
    if (m_pending.empty())
        m_replyTimer->stop();
    else if (m_replyTimeout.count() > 0)
        m_replyTimer->start(m_replyTimeout);
    node.mapped()(AdminReply{message.ok, message.result, message.error});
}

} // namespace fmb
