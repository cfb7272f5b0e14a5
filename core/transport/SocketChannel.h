#pragma once

#include <QPointer>
#include <QTcpSocket>

#include "http/HttpExchange.h"

namespace fmb {

// An HttpExchange's channel over one accepted connection, and the one place
// transport writes HTTP responses on a socket (the /mcp handlers, HttpSink,
// GuardedTcpServer's refusals). Watches the socket through a QPointer: a
// handler answering after the client left writes nothing.
class SocketChannel final : public HttpChannel {
public:
    explicit SocketChannel(QTcpSocket *socket);

    [[nodiscard]] bool isOpen() const override;
    [[nodiscard]] QHostAddress peerAddress() const override;
    // A complete response, handed to the kernel now; then closes when `close`.
    void write(int status, const Http::HeaderList &headers, QByteArrayView body, bool close) override;
    // Queues bytes of a response under way (a streamed head or chunk).
    void send(const QByteArray &bytes);
    // The response is complete: hands what is queued to the kernel now,
    // instead of one event-loop iteration later (issue 6); then closes when `close`.
    void complete(bool close);
    // Output the client has not taken yet.
    [[nodiscard]] qint64 unsent() const;
    // Drops the connection at once (a client that does not read).
    void abort();
    // The connection, for a stream on it (HttpSink); null once it is gone.
    [[nodiscard]] QTcpSocket *socket() const { return m_socket.data(); }

private:
    QPointer<QTcpSocket> m_socket;
};

} // namespace fmb
