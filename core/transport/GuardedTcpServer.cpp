#include "GuardedTcpServer.h"

#include <algorithm>
#include <memory>
#include <sys/socket.h>
#include <unistd.h>

#include <QDeadlineTimer>
#include <QTcpSocket>
#include <QTimer>

#include "HttpSink.h"
#include "Logging.h"
#include "SocketChannel.h"
#include "base/Metrics.h"
#include "http/HttpHeaders.h"
#include "jsonrpc/JsonRpc.h"

namespace fmb {
namespace {

qint64 nowMs()
{
    return QDeadlineTimer::current().deadline();
}

// How long, and how much, a refused connection may go on sending before we close it.
constexpr int LingerMs = 5000;
constexpr qint64 LingerBytes = 64 * 1024 * 1024;
// After accept() failed for want of descriptors (Qt stops accepting then), try again after this.
constexpr int AcceptRetryMs = 250;

// The client's address, IPv4-mapped IPv6 addresses as IPv4, so one client counts once.
QHostAddress peerOf(qintptr descriptor)
{
    sockaddr_storage storage = {};
    socklen_t length = sizeof storage;
    if (::getpeername(int(descriptor), reinterpret_cast<sockaddr *>(&storage), &length) != 0)
        return {};
    QHostAddress address(reinterpret_cast<const sockaddr *>(&storage));
    bool mapped = false;
    const quint32 v4 = address.toIPv4Address(&mapped);
    return mapped ? QHostAddress(v4) : address;
}

} // namespace

void GuardedTcpServer::setGuards(const ConnectionGuards &guards)
{
    m_guards = guards;
    // A quarter of the shorter timeout: a connection is closed at most 25 % late.
    const int interval =
        std::clamp(std::min(m_guards.requestTimeoutMs, m_guards.idleTimeoutMs) / 4, 25, 5000);
    if (m_sweeper->interval() != interval)
        m_sweeper->setInterval(interval);
}

GuardedTcpServer::GuardedTcpServer(ConnectionGuards guards, QObject *parent)
    : QTcpServer(parent)
    , m_guards(guards)
    , m_sweeper(new QTimer(this))
{
    setGuards(guards);
    connect(m_sweeper, &QTimer::timeout, this, &GuardedTcpServer::sweep);
    connect(this, &QTcpServer::acceptError, this, [this](QAbstractSocket::SocketError error) {
        qCWarning(lcHttp) << "accepting a connection failed (" << error << "), with" << m_connections.size()
                          << "open; retrying in" << AcceptRetryMs << "ms";
        QTimer::singleShot(AcceptRetryMs, this, [this] { resumeAccepting(); });
    });
}

void GuardedTcpServer::incomingConnection(qintptr descriptor)
{
    const QHostAddress address = peerOf(descriptor);
    if (m_guards.maxPerAddress > 0 && m_perAddress.value(address) >= m_guards.maxPerAddress &&
        !evictIdlest(address)) {
        refuse(descriptor, address, "max_connections_per_address");
        return;
    }
    if (m_guards.maxConnections > 0 && m_connections.size() >= m_guards.maxConnections &&
        !evictIdlest(QHostAddress())) {
        refuse(descriptor, address, "max_connections");
        return;
    }
    auto *socket = new QTcpSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        ::close(int(descriptor));
        return;
    }
    socket->setReadBufferSize(m_guards.maxBodyBytes + MaxHeadBytes);
    const qint64 now = nowMs();
    Connection connection;
    connection.address = address;
    connection.acceptedMs = connection.requestStartMs = connection.lastActivityMs = now;
    m_connections.insert(socket, connection);
    ++m_perAddress[address];
    if (!m_sweeper->isActive())
        m_sweeper->start();
    // Connected before the HTTP server's own readyRead handler, so it runs first.
    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onReadyRead(socket); });
    connect(socket, &QTcpSocket::bytesWritten, this, [this, socket] {
        auto it = m_connections.find(socket);
        if (it != m_connections.end()) {
            it->answered = true;
            it->lastActivityMs = nowMs();
        }
    });
    connect(socket, &QTcpSocket::disconnected, this, [this, socket] { forget(socket); });
    connect(socket, &QObject::destroyed, this, [this, socket] { forget(socket); });
    addPendingConnection(socket);
}

Result<GuardedTcpServer *> GuardedTcpServer::open(ConnectionGuards guards, const QHostAddress &address,
                                                  quint16 port, QObject *parent, const QString &what)
{
    auto server = std::make_unique<GuardedTcpServer>(guards, parent);
    if (!server->listen(address, port)) {
        const QString message = QStringLiteral("cannot listen%1 on %2:%3: %4")
                                    .arg(what.isEmpty() ? QString() : QLatin1Char(' ') + what)
                                    .arg(address.toString())
                                    .arg(port)
                                    .arg(server->errorString());
        return Error{ErrorCode::Io, QStringLiteral("listen"), message};
    }
    return server.release();
}

void GuardedTcpServer::refuse(qintptr descriptor, const QHostAddress &address, const char *cap)
{
    ++m_refused;
    metrics::add(metrics::Counter::RefusedConnections);
    metrics::countResponse(503);
    // Written without reading, so it never waits for the client; the kernel
    // takes it into the empty send buffer at once. A client that has sent
    // bytes already may see a reset instead (RFC 9112 §9.6): closed either way.
    // No socket object exists yet, so the bytes go straight to the descriptor.
    const QByteArray answer = Http::response(
        503, {{"Retry-After", QByteArray::number(m_guards.retryAfterSeconds)}, {"Connection", "close"}}, {});
    (void)::send(int(descriptor), answer.constData(), size_t(answer.size()), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::close(int(descriptor));
    // Once per power of two, so a flood cannot flood the log.
    if ((m_refused & (m_refused - 1)) == 0)
        qCWarning(lcHttp).noquote() << QStringLiteral("refused a connection from %1: %2 reached (%3 open, "
                                                      "%4 from that address; %5 refused so far)")
                                           .arg(address.toString(), QLatin1String(cap))
                                           .arg(m_connections.size())
                                           .arg(m_perAddress.value(address))
                                           .arg(m_refused);
}

bool GuardedTcpServer::busy(QTcpSocket *socket, const Connection &connection) const
{
    if (connection.completed > 0 && !connection.answered)
        return true; // a handler has the request and has not answered yet (a child, the forge)
    if (socket->bytesToWrite() > 0)
        return true;
    const QList<HttpSink *> sinks = socket->findChildren<HttpSink *>(Qt::FindDirectChildrenOnly);
    return std::any_of(sinks.cbegin(), sinks.cend(), [](const HttpSink *sink) { return sink->isOpen(); });
}

bool GuardedTcpServer::evictIdlest(const QHostAddress &address)
{
    // Preference: a connection being closed already, then one with no request
    // under way (never used, or kept alive), then one still sending its
    // request (slowloris); oldest first. Busy ones are never taken.
    QTcpSocket *victim = nullptr;
    int victimRank = -1;
    qint64 victimSince = 0;
    for (auto it = m_connections.cbegin(); it != m_connections.cend(); ++it) {
        if (!address.isNull() && it->address != address)
            continue;
        QTcpSocket *socket = it.key();
        int rank = 0;
        qint64 since = it->lastActivityMs;
        if (it->closing || socket->state() != QAbstractSocket::ConnectedState) {
            rank = 3;
        } else if (busy(socket, *it)) {
            continue;
        } else if (!it->scanner.midRequest()) {
            rank = 2;
        } else {
            rank = 1;
            since = it->requestStartMs;
        }
        if (rank > victimRank || (rank == victimRank && since < victimSince)) {
            victim = socket;
            victimRank = rank;
            victimSince = since;
        }
    }
    if (!victim)
        return false;
    ++m_evicted;
    qCDebug(lcHttp) << "closing an idle connection from" << victim->peerAddress().toString()
                    << "to make room for a new one";
    forget(victim);
    victim->abort();
    return true;
}

void GuardedTcpServer::forget(QTcpSocket *socket)
{
    auto it = m_connections.find(socket);
    if (it == m_connections.end())
        return;
    auto count = m_perAddress.find(it->address);
    if (count != m_perAddress.end() && --*count <= 0)
        m_perAddress.erase(count);
    m_connections.erase(it);
    if (m_connections.isEmpty())
        m_sweeper->stop();
}

void GuardedTcpServer::onReadyRead(QTcpSocket *socket)
{
    // The HTTP parser reads everything available on each readyRead (inside a
    // transaction that bytesAvailable() no longer counts), so what is
    // available now is what arrived since the last time, not read yet by the
    // parser, so still there to peek at.
    const qint64 arrived = socket->bytesAvailable();
    auto it = m_connections.find(socket);
    if (arrived <= 0 || it == m_connections.end())
        return;
    const qint64 now = nowMs();
    if (!it->scanner.midRequest()) {
        it->requestStartMs = it->completed == 0 ? it->acceptedMs : now;
        it->received = 0;
    }
    const Http::RequestScanner::Outcome outcome = it->scanner.feed(socket->peek(arrived));
    if (outcome.status != 0) {
        qCInfo(lcHttp).noquote() << QStringLiteral("refused a request from %1 with %2: %3")
                                        .arg(socket->peerAddress().toString())
                                        .arg(outcome.status)
                                        .arg(QString::fromLatin1(outcome.reason));
        reject(socket, outcome.status, Http::reasonPhrase(outcome.status) + ": " + outcome.reason);
        return;
    }
    if (outcome.completed > 0) {
        it->completed += outcome.completed;
        it->answered = false;
        it->lastActivityMs = now;
        it->received = 0;
        it->requestStartMs = now; // of a request that begins in the same bytes
        if (!it->scanner.midRequest())
            return;
    }
    it->received += arrived;
    const Http::RequestFraming &framing = it->scanner.framing();
    if (framing.body == Http::RequestFraming::Body::Length && framing.length > m_guards.maxBodyBytes) {
        qCWarning(lcHttp) << "request from" << socket->peerAddress().toString() << "announces"
                          << framing.length << "bytes, over the limit of" << m_guards.maxBodyBytes
                          << "; answering 413";
        reject(socket, 413, QByteArrayLiteral("Request body too large"));
        return;
    }
    // The read buffer stops at the limit, so a larger request ends here.
    if (it->received >= m_guards.maxBodyBytes + MaxHeadBytes) {
        qCWarning(lcHttp) << "request from" << socket->peerAddress().toString() << "exceeds"
                          << m_guards.maxBodyBytes + MaxHeadBytes << "bytes; answering 413";
        reject(socket, 413, QByteArrayLiteral("Request body too large"));
    }
}

void GuardedTcpServer::sweep()
{
    const qint64 now = nowMs();
    QList<QTcpSocket *> late;
    QList<QTcpSocket *> idle;
    for (auto it = m_connections.cbegin(); it != m_connections.cend(); ++it) {
        QTcpSocket *socket = it.key();
        if (it->closing || socket->state() != QAbstractSocket::ConnectedState || busy(socket, *it))
            continue;
        if (it->scanner.midRequest()) {
            if (now - it->requestStartMs > m_guards.requestTimeoutMs)
                late.append(socket);
        } else if (it->completed == 0) {
            // Never sent a request: the request timeout counts from accept.
            if (now - it->acceptedMs > m_guards.requestTimeoutMs)
                idle.append(socket);
        } else if (now - it->lastActivityMs > m_guards.idleTimeoutMs) {
            idle.append(socket);
        }
    }
    for (QTcpSocket *socket : std::as_const(late)) {
        qCInfo(lcHttp) << "request from" << socket->peerAddress().toString() << "incomplete after"
                       << m_guards.requestTimeoutMs << "ms; closing";
        reject(socket, 408, QByteArrayLiteral("Request timed out"));
    }
    for (QTcpSocket *socket : std::as_const(idle)) {
        // Nothing is owed to an idle connection (RFC 9112 §9.5): just close it.
        qCDebug(lcHttp) << "closing idle connection from" << socket->peerAddress().toString();
        forget(socket);
        socket->disconnectFromHost();
    }
}

void GuardedTcpServer::reject(QTcpSocket *socket, int status, const QByteArray &message)
{
    // Still counted against the caps while it lingers, but the first to make room.
    auto it = m_connections.find(socket);
    if (it != m_connections.end())
        it->closing = true;
    // The HTTP server sees nothing more of this connection.
    disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
    disconnect(socket, &QTcpSocket::bytesWritten, this, nullptr);
    if (socket->isTransactionStarted())
        socket->commitTransaction();
    (void)socket->skip(socket->bytesAvailable());
    // Closing while the client still sends makes the kernel reset the
    // connection, and a reset can destroy our answer before the client reads
    // it (RFC 9112 §9.6). So: answer, half-close, drop whatever still comes,
    // and close when the client does, or after LingerMs or LingerBytes.
    connect(socket, &QTcpSocket::readyRead, socket, [socket, dropped = qint64(0)]() mutable {
        dropped += socket->skip(socket->bytesAvailable());
        if (dropped > LingerBytes)
            socket->abort();
    });
    auto halfClose = [socket] {
        if (socket->bytesToWrite() == 0 && socket->state() == QAbstractSocket::ConnectedState)
            ::shutdown(int(socket->socketDescriptor()), SHUT_WR);
    };
    connect(socket, &QTcpSocket::bytesWritten, socket, halfClose);
    // Says "Connection: close" but does not close: the half-close below does.
    const QByteArray body =
        encode(makeErrorResponse(QJsonValue(), JsonRpcError::ServerError, QString::fromLatin1(message)));
    SocketChannel(socket).write(status, {{"Content-Type", "application/json"}, {"Connection", "close"}}, body,
                                false);
    halfClose();
    QTimer::singleShot(LingerMs, socket, [socket] { socket->abort(); });
}

} // namespace fmb
