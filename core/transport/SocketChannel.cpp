#include "SocketChannel.h"

#include "base/Metrics.h"

namespace fmb {

SocketChannel::SocketChannel(QTcpSocket *socket)
    : m_socket(socket)
{}

bool SocketChannel::isOpen() const
{
    return m_socket && m_socket->state() == QAbstractSocket::ConnectedState;
}

QHostAddress SocketChannel::peerAddress() const
{
    return m_socket ? m_socket->peerAddress() : QHostAddress();
}

void SocketChannel::write(int status, const Http::HeaderList &headers, QByteArrayView body, bool close)
{
    if (!isOpen())
        return;
    metrics::countResponse(status);
    send(Http::response(status, headers, body));
    complete(close);
}

void SocketChannel::send(const QByteArray &bytes)
{
    if (isOpen())
        m_socket->write(bytes);
}

void SocketChannel::complete(bool close)
{
    if (!m_socket)
        return;
    m_socket->flush();
    if (close)
        m_socket->disconnectFromHost();
}

qint64 SocketChannel::unsent() const
{
    return m_socket ? m_socket->bytesToWrite() : 0;
}

void SocketChannel::abort()
{
    if (m_socket)
        m_socket->abort();
}

} // namespace fmb
