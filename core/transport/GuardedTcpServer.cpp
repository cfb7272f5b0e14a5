#include "GuardedTcpServer.h"

#include <QDeadlineTimer>
#include <QTcpSocket>
#include <QTimer>

#include "HttpHeaders.h"
#include "Logging.h"
#include "jsonrpc/JsonRpc.h"

namespace fmb {
namespace {

qint64 nowMs()
{
    return QDeadlineTimer::current().deadline();
}

} // namespace

GuardedTcpServer::GuardedTcpServer(qint64 maxRequestBytes, int requestTimeoutMs, QObject *parent)
    : QTcpServer(parent)
    , m_maxRequestBytes(maxRequestBytes)
    , m_requestTimeoutMs(requestTimeoutMs)
    , m_sweeper(new QTimer(this))
{
    m_sweeper->setInterval(std::max(250, requestTimeoutMs / 4));
    connect(m_sweeper, &QTimer::timeout, this, &GuardedTcpServer::sweep);
}

void GuardedTcpServer::incomingConnection(qintptr descriptor)
{
    auto *socket = new QTcpSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        return;
    }
    socket->setReadBufferSize(m_maxRequestBytes);
    // Connected before the HTTP server's own readyRead handler, so it runs first.
    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onReadyRead(socket); });
    connect(socket, &QObject::destroyed, this, [this, socket] { m_partial.remove(socket); });
    addPendingConnection(socket);
}

void GuardedTcpServer::onReadyRead(QTcpSocket *socket)
{
    // The HTTP parser reads everything available on each readyRead (inside a
    // transaction that bytesAvailable() no longer counts), so what is
    // available now is what arrived since the last time: add it up.
    const qint64 arrived = socket->bytesAvailable();
    if (arrived <= 0)
        return;
    auto it = m_partial.find(socket);
    if (it == m_partial.end()) {
        it = m_partial.insert(socket, Partial{nowMs(), 0});
        if (!m_sweeper->isActive())
            m_sweeper->start();
    }
    it->received += arrived;
    // The read buffer stops at the limit, so a larger request ends here.
    if (it->received >= m_maxRequestBytes) {
        qCWarning(lcHttp) << "request from" << socket->peerAddress().toString() << "exceeds"
                          << m_maxRequestBytes << "bytes; answering 413";
        reject(socket, 413, QByteArrayLiteral("Request body too large"));
    }
}

void GuardedTcpServer::requestCompleted(QTcpSocket *socket)
{
    m_partial.remove(socket);
}

void GuardedTcpServer::sweep()
{
    const qint64 now = nowMs();
    QList<QTcpSocket *> late;
    for (auto it = m_partial.cbegin(); it != m_partial.cend(); ++it) {
        if (now - it->sinceMs > m_requestTimeoutMs)
            late.append(it.key());
    }
    for (QTcpSocket *socket : std::as_const(late)) {
        qCInfo(lcHttp) << "request from" << socket->peerAddress().toString() << "incomplete after"
                       << m_requestTimeoutMs << "ms; closing";
        reject(socket, 408, QByteArrayLiteral("Request timed out"));
    }
    if (m_partial.isEmpty())
        m_sweeper->stop();
}

void GuardedTcpServer::reject(QTcpSocket *socket, int status, const QByteArray &message)
{
    m_partial.remove(socket);
    const QByteArray body =
        encode(makeErrorResponse(QJsonValue(), JsonRpcError::ServerError, QString::fromLatin1(message)));
    socket->write(
        Http::response(status, {{"Content-Type", "application/json"}, {"Connection", "close"}}, body));
    socket->disconnectFromHost();
}

} // namespace fmb
