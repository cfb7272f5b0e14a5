#pragma once

#include <QPointer>
#include <QTcpSocket>

#include "http/HttpExchange.h"

namespace fmb {

// An HttpExchange's channel over one accepted connection. Watches the socket
// through a QPointer: a handler answering after the client left writes nothing.
class SocketChannel final : public HttpChannel {
public:
    explicit SocketChannel(QTcpSocket *socket);

    [[nodiscard]] bool isOpen() const override;
    [[nodiscard]] QHostAddress peerAddress() const override;
    void write(int status, const Http::HeaderList &headers, QByteArrayView body, bool close) override;
    // The connection, for a stream on it (HttpSink); null once it is gone.
    [[nodiscard]] QTcpSocket *socket() const { return m_socket.data(); }

private:
    QPointer<QTcpSocket> m_socket;
};

} // namespace fmb
