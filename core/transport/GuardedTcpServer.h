#pragma once

#include <QHash>
#include <QTcpServer>

class QTcpSocket;
class QTimer;

namespace fmb {

// The listening socket of the HTTP server, with two guards Qt 6.4's
// QAbstractHttpServer lacks (it buffers a whole request, however big, and
// waits forever for one that never completes):
//  - each connection's read buffer is capped at maxRequestBytes; a request
//    that fills it is answered 413 and the connection closed, so memory per
//    connection stays bounded;
//  - a request that has not arrived completely within requestTimeout
//    (slowloris) is answered 408 and closed.
// McpHttpServer calls requestCompleted() for each request it handles.
class GuardedTcpServer final : public QTcpServer {
    Q_OBJECT
public:
    GuardedTcpServer(qint64 maxRequestBytes, int requestTimeoutMs, QObject *parent = nullptr);

    void requestCompleted(QTcpSocket *socket);
    [[nodiscard]] int partialRequests() const { return int(m_partial.size()); }

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    void onReadyRead(QTcpSocket *socket);
    void sweep();
    void reject(QTcpSocket *socket, int status, const QByteArray &message);

    qint64 m_maxRequestBytes;
    int m_requestTimeoutMs;
    struct Partial {
        qint64 sinceMs = 0;  // request under way since (monotonic ms)
        qint64 received = 0; // its bytes so far
    };
    QHash<QTcpSocket *, Partial> m_partial;
    QTimer *m_sweeper = nullptr;
};

} // namespace fmb
