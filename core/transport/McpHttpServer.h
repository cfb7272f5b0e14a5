#pragma once

#include <functional>

#include <QAbstractHttpServer>
#include <QHash>
#include <QHostAddress>
#include <QPointer>
#include <QSet>

#include "OriginPolicy.h"
#include "ParkedCalls.h"
#include "StatusTable.h"
#include "base/Result.h"
#include "http/HttpHeaders.h"
#include "http/HttpRoutes.h"
#include "revision/StatelessRequest.h"
#include "session/Session.h"

class QTimer;

namespace fmb {

class GuardedTcpServer;
class HttpSink;
class McpRequest;
class SessionRegistry;
class ListenHub;
class StatelessSink;

struct HttpConfig {
    QString mcpPath = QStringLiteral("/mcp");
    qint64 maxBodyBytes = 4 * 1024 * 1024;
    int requestTimeoutMs = 30000; // a request must arrive whole within this (the first from accept)
    int idleTimeoutMs = 90000;    // a kept-alive connection with nothing in flight is closed after this
    int maxConnections = 0;       // 0 = no cap (the daemon derives one from the open-file limit)
    int maxConnectionsPerAddress = 0;
    int keepAliveMs = 15000;   // SSE comment interval on idle streams
    int retryAfterSeconds = 5; // Retry-After on 503

    // A larger batch is refused whole (400, -32600; issue 11).
    int maxBatchMessages = DefaultMaxBatchMessages;

    // 2026-07-28 calls waiting for their client's input (multi round-trip requests).
    ParkingLimits parking;
    // Open 2026-07-28 subscriptions/listen streams of one user (0 = no cap);
    // beyond, a listen is answered with error -32003.
    int maxListenersPerUser = 16;
};

// The MCP Streamable HTTP endpoint (revisions 2025-03-26 .. 2025-11-25 in
// sessions; 2026-07-28 validated and served by one child per user, issue 13)
// and /healthz, on QAbstractHttpServer. Maps core errors to status codes (the
// table in ARCHITECTURE.md) in this one place. Runs on its thread's event
// loop; never blocks.
class McpHttpServer final : public QAbstractHttpServer {
    Q_OBJECT
public:
    McpHttpServer(HttpConfig config, OriginPolicy policy, SessionRegistry *registry,
                  Authenticator authenticator, QObject *parent = nullptr);
    ~McpHttpServer() override;

    // Binds and starts accepting; the bound port, or an error naming the address.
    [[nodiscard]] Result<quint16> listenOn(const QHostAddress &address, quint16 port);
    // The connection cap of listeners opened from now on (0 = none).
    void setMaxConnections(int maxConnections) { m_config.maxConnections = maxConnections; }
    // The broker's --node-id, shown by /healthz (issue 14).
    void setNodeId(const QString &nodeId) { m_nodeId = nodeId; }
    // New limits and Origin policy (SIGHUP); mcpPath and the keep-alive
    // interval stay. Listeners get the new guards; open connections stay.
    void reconfigure(const HttpConfig &config, OriginPolicy policy);
    // Stops accepting new connections (shutdown); open streams stay until ended.
    void stopListening();

    // Extra routes (OAuth endpoints, metrics) tried before the built-in ones.
    void addRoute(const QString &path, RouteHandler handler);
    void addRoutes(const QList<HttpRoute> &routes);

    [[nodiscard]] int openStreams() const { return int(m_streamingSinks.size()); }

    // A sink on an exchange (see HttpSink::start) whose stream, once it
    // starts, gets keep-alive comments and counts in openStreams(); null
    // when the client is gone.
    [[nodiscard]] HttpSink *openSink(const HttpExchange &exchange, Http::HeaderList headers,
                                     QByteArray sessionId);

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    void handleMcp(const QHttpServerRequest &qtRequest, const HttpExchange &exchange);
    // The rest of handleMcp, once the caller is known.
    void serveMcp(const McpRequest &request, const HttpExchange &exchange, const AuthResult &owner);
    void handlePost(const McpRequest &request, const HttpExchange &exchange, const SessionOwner &owner);
    // A 2026-07-28 POST (isStatelessPost): validated, then answered by the
    // user child of `owner` (server/discover from its initialize result).
    void handleStateless(const McpRequest &request, const HttpExchange &exchange, const ParsedBody &body,
                         const SessionOwner &owner);
    void answerDiscover(const HttpExchange &exchange, const StatelessRequest &request, Session *child,
                        const Http::HeaderList &cors);
    // Posts `message` once the new user child `child` is ready (its
    // handshake done); answers on `sink` when the child ends first.
    void forwardWhenReady(Session *child, StatelessSink *sink, const JsonRpcMessage &message,
                          const StatelessRequest &request);
    // Posts a 2026-07-28 request to its ready user child; a request that
    // asked for logs (_meta logLevel) gets them while it is in flight.
    [[nodiscard]] Result<bool, SessionRefusal> forward(Session *child, StatelessSink *sink,
                                                       const JsonRpcMessage &message,
                                                       const StatelessRequest &request);
    // subscriptions/listen (2026-07-28): an SSE stream of the notifications it asked for.
    // The stream ends when the bearer token of `owner` expires.
    void serveListen(const HttpExchange &exchange, const StatelessRequest &request, Session *child,
                     const SessionOwner &owner, const Http::HeaderList &cors);
    // A retry with requestState (2026-07-28 mrtr): answers the parked call's
    // input request and resumes it on this exchange.
    void resumeParked(const HttpExchange &exchange, const StatelessRequest &request,
                      const SessionOwner &owner, const Http::HeaderList &cors);
    void handleGet(const McpRequest &request, const HttpExchange &exchange, const SessionOwner &owner);
    void handleDelete(const McpRequest &request, const HttpExchange &exchange, const SessionOwner &owner);
    // The session named by Mcp-Session-Id (the header's value, read by the
    // caller), or null after answering 400/403/404.
    Session *sessionFor(const McpRequest &request, const QByteArray &sessionId, const HttpExchange &exchange,
                        const SessionOwner &owner);
    // Answers `failure` as the status table says, with `headers` and, for a
    // failure that carries one, the WWW-Authenticate `challenge`.
    void refuse(const HttpExchange &exchange, McpFailure failure, const QString &message,
                Http::HeaderList headers = {}, const QByteArray &challenge = {}) const;
    // A refused 2026-07-28 request: its kind's status, its id and the error's data.
    void refuse(const HttpExchange &exchange, const StatelessFailure &failure,
                Http::HeaderList headers) const;
    // The error body of a refusal: the id it answers (null when none), the message, data (Undefined: none).
    struct RpcErrorDetail {
        QJsonValue id;
        QString message;
        QJsonValue data;
    };
    void refuse(const HttpExchange &exchange, McpFailure failure, const RpcErrorDetail &detail,
                Http::HeaderList headers, const QByteArray &challenge) const;
    // Answers a session's refusal of a POST or GET as its kind says.
    void refuse(const HttpExchange &exchange, const SessionRefusal &refusal,
                const Http::HeaderList &headers) const;
    [[nodiscard]] Http::HeaderList corsHeaders(const McpRequest &request) const;
    void onStreamingStarted(fmb::HttpSink *sink);
    void onSinkFinished(fmb::HttpSink *sink);
    void sendKeepAlives();

    HttpConfig m_config;
    QString m_nodeId;
    OriginPolicy m_policy;
    QPointer<SessionRegistry> m_registry;
    Authenticator m_authenticator;
    QHash<QString, RouteHandler> m_routes;
    QList<QPointer<GuardedTcpServer>> m_listeners;
    QSet<HttpSink *> m_streamingSinks;
    QTimer *m_keepAlive = nullptr;
    quint64 m_statelessRequests = 0; // numbers the broker-owned ids of 2026-07-28 requests
    ParkedCalls *m_parked = nullptr;
    ListenHub *m_listen = nullptr;
};

} // namespace fmb
