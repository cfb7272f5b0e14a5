#pragma once

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QTcpServer>

#include "HttpFraming.h"
#include "base/Result.h"

class QTcpSocket;
class QTimer;

namespace fmb {

// What the listening socket enforces before the HTTP server sees a byte.
struct ConnectionGuards {
    qint64 maxBodyBytes = 4 * 1024 * 1024;
    int requestTimeoutMs = 30000; // a request head and body must arrive within this (the first from accept)
    int idleTimeoutMs = 90000;    // a kept-alive connection with nothing in flight is closed after this
    int maxConnections = 0;       // open connections in all; 0 = no cap
    int maxPerAddress = 0;        // open connections from one client address; 0 = no cap
    int retryAfterSeconds = 5;    // Retry-After on a refused connection
};

// The listening socket of the HTTP server, with the guards Qt 6.4's
// QAbstractHttpServer lacks (it buffers a whole request, however big, waits
// forever for one that never completes, and believes any framing):
//  - every request's framing is checked (Http::RequestScanner, RFC 9112):
//    an ambiguous or malformed head is answered 400 (501, 505) and the
//    connection closed, before the HTTP server parses it;
//  - a request head longer than MaxHeadBytes is answered 431;
//  - a head whose Content-Length is over maxBodyBytes is answered 413 at
//    once, before the body is read; a chunked body that grows past it too;
//    each connection's read buffer is capped there;
//  - a request that has not arrived completely within requestTimeoutMs is
//    answered 408 and closed; for the first request of a connection the
//    clock starts at accept, so a connection that never sends is closed too;
//  - a kept-alive connection with nothing in flight is closed after
//    idleTimeoutMs. A connection whose request is still being answered (a
//    POST waiting for its child, an SSE stream) is never cut;
//  - at maxPerAddress connections from one address, or maxConnections in
//    all, a new connection takes the place of the one idle longest (of that
//    address, or of any); when none is idle it gets a 503 with Retry-After
//    and Connection: close, written without reading, and is closed.
class GuardedTcpServer final : public QTcpServer {
    Q_OBJECT
public:
    static constexpr qint64 MaxHeadBytes = Http::RequestScanner::MaxHeadBytes;

    explicit GuardedTcpServer(ConnectionGuards guards, QObject *parent = nullptr);
    // A new server listening on address:port, or the error "cannot listen
    // <what> on HOST:PORT: REASON" (`what` may be empty).
    [[nodiscard]] static Result<GuardedTcpServer *> open(ConnectionGuards guards, const QHostAddress &address,
                                                         quint16 port, QObject *parent,
                                                         const QString &what = {});

    // New limits (SIGHUP): the body and time limits apply to requests from
    // now on, the caps to the next connection; open connections stay.
    void setGuards(const ConnectionGuards &guards);

    [[nodiscard]] int connectionCount() const { return int(m_connections.size()); }
    [[nodiscard]] quint64 refusedConnections() const { return m_refused; }
    [[nodiscard]] quint64 evictedConnections() const { return m_evicted; }

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    struct Connection {
        QHostAddress address;
        Http::RequestScanner scanner;
        qint64 acceptedMs = 0;
        qint64 requestStartMs = 0; // the request under way began (accept, for the first)
        qint64 lastActivityMs = 0; // a request completed or an answer was written
        qint64 received = 0;       // bytes of the request under way
        int completed = 0;         // requests received in full
        bool answered = true;      // something was written since the last request completed
        bool closing = false;      // refused; lingers until the client has read the answer
    };

    void onReadyRead(QTcpSocket *socket);
    void sweep();
    [[nodiscard]] bool busy(QTcpSocket *socket, const Connection &connection) const;
    // Closes the idle connection that has waited longest (from `address`
    // only, unless it is null); false when every one is busy.
    bool evictIdlest(const QHostAddress &address);
    void forget(QTcpSocket *socket);
    void refuse(qintptr descriptor, const QHostAddress &address, const char *cap);
    void reject(QTcpSocket *socket, int status, const QByteArray &message);

    ConnectionGuards m_guards;
    QHash<QTcpSocket *, Connection> m_connections;
    QHash<QHostAddress, int> m_perAddress;
    QTimer *m_sweeper = nullptr;
    quint64 m_refused = 0;
    quint64 m_evicted = 0;
};

} // namespace fmb
