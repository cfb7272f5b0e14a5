#pragma once

#include <QByteArray>
#include <QHash>
#include <QTcpServer>

class QTcpSocket;
class QTimer;

namespace fmb {

// The listening socket of the HTTP server, with the guards Qt 6.4's
// QAbstractHttpServer lacks (it buffers a whole request, however big, and
// waits forever for one that never completes):
//  - a request head longer than MaxHeadBytes without its blank line is
//    answered 431 and the connection closed;
//  - a head whose Content-Length is over maxBodyBytes is answered 413 at
//    once, before the body is read;
//  - any request (a chunked body, say) that grows past maxBodyBytes plus its
//    head is answered 413; each connection's read buffer is capped there, so
//    memory per connection stays bounded;
//  - a request that has not arrived completely within requestTimeout
//    (slowloris) is answered 408 and closed.
// McpHttpServer calls requestCompleted() for each request it handles.
class GuardedTcpServer final : public QTcpServer {
    Q_OBJECT
public:
    static constexpr qint64 MaxHeadBytes = 64 * 1024;

    GuardedTcpServer(qint64 maxBodyBytes, int requestTimeoutMs, QObject *parent = nullptr);

    void requestCompleted(QTcpSocket *socket);
    [[nodiscard]] int partialRequests() const { return int(m_partial.size()); }

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    void onReadyRead(QTcpSocket *socket);
    void sweep();
    void reject(QTcpSocket *socket, int status, const QByteArray &message);

    qint64 m_maxBodyBytes;
    int m_requestTimeoutMs;
    struct Partial {
        qint64 sinceMs = 0;  // request under way since (monotonic ms)
        qint64 received = 0; // its bytes so far
        QByteArray head;     // its head so far, until the blank line has arrived
        bool headComplete = false;
    };
    QHash<QTcpSocket *, Partial> m_partial;
    QTimer *m_sweeper = nullptr;
};

} // namespace fmb
