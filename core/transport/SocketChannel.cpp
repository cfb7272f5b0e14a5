#include "SocketChannel.h"

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
    m_socket->write(Http::response(status, headers, body));
    m_socket->flush(); // now, not one event-loop iteration later (issue 6)
    if (close)
        m_socket->disconnectFromHost();
}

} // namespace fmb
