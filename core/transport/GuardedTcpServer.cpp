#include "GuardedTcpServer.h"

#include <sys/socket.h>

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

// How long, and how much, a refused connection may go on sending before we close it.
constexpr int LingerMs = 5000;
constexpr qint64 LingerBytes = 64 * 1024 * 1024;

} // namespace

GuardedTcpServer::GuardedTcpServer(qint64 maxBodyBytes, int requestTimeoutMs, QObject *parent)
    : QTcpServer(parent)
    , m_maxBodyBytes(maxBodyBytes)
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
    socket->setReadBufferSize(m_maxBodyBytes + MaxHeadBytes);
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
        it = m_partial.insert(socket, Partial{nowMs(), 0, {}, false});
        if (!m_sweeper->isActive())
            m_sweeper->start();
    }
    it->received += arrived;
    if (!it->headComplete) {
        // Not read by the parser yet, so still there to peek at.
        it->head += socket->peek(std::min(arrived, MaxHeadBytes + 4 - it->head.size()));
        const qsizetype end = Http::headEnd(it->head);
        if (end < 0 && it->head.size() > MaxHeadBytes) {
            qCWarning(lcHttp) << "request head from" << socket->peerAddress().toString() << "exceeds"
                              << MaxHeadBytes << "bytes; answering 431";
            reject(socket, 431, QByteArrayLiteral("Request header fields too large"));
            return;
        }
        if (end >= 0) {
            const qint64 length = Http::contentLength(QByteArrayView(it->head).first(end));
            it->headComplete = true;
            it->head = QByteArray();
            if (length > m_maxBodyBytes) {
                qCWarning(lcHttp) << "request from" << socket->peerAddress().toString() << "announces"
                                  << length << "bytes, over the limit of" << m_maxBodyBytes
                                  << "; answering 413";
                reject(socket, 413, QByteArrayLiteral("Request body too large"));
                return;
            }
        }
    }
    // The read buffer stops at the limit, so a larger request ends here.
    if (it->received >= m_maxBodyBytes + MaxHeadBytes) {
        qCWarning(lcHttp) << "request from" << socket->peerAddress().toString() << "exceeds"
                          << m_maxBodyBytes + MaxHeadBytes << "bytes; answering 413";
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
    // The HTTP server sees nothing more of this connection.
    disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
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
    const QByteArray body =
        encode(makeErrorResponse(QJsonValue(), JsonRpcError::ServerError, QString::fromLatin1(message)));
    socket->write(
        Http::response(status, {{"Content-Type", "application/json"}, {"Connection", "close"}}, body));
    auto halfClose = [socket] {
        if (socket->bytesToWrite() == 0 && socket->state() == QAbstractSocket::ConnectedState)
            ::shutdown(int(socket->socketDescriptor()), SHUT_WR);
    };
    connect(socket, &QTcpSocket::bytesWritten, socket, halfClose);
    socket->flush();
    halfClose();
    QTimer::singleShot(LingerMs, socket, [socket] { socket->abort(); });
}

} // namespace fmb
