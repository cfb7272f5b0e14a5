#include "McpHttpServer.h"

#include <functional>

#include <QHttpServerRequest>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QTimer>

#include "GuardedTcpServer.h"
#include "HttpSink.h"
#include "ListenHub.h"
#include "Logging.h"
#include "McpRequest.h"
#include "SocketChannel.h"
#include "StatelessSink.h"
#include "StatusTable.h"
#include "base/Metrics.h"
#include "jsonrpc/JsonRpc.h"
#include "revision/StatelessTranslation.h"
#include "revision/Subscriptions.h"
#include "session/SessionRegistry.h"

namespace fmb {
namespace {

// What the unsupported-version error and server/discover list (2026-07-28
// basic/versioning): every revision this endpoint serves, newest first.
const QStringList &servedRevisions()
{
    static const QStringList served = QStringList{McpRevision::Stateless} + McpRevision::sessionRevisions();
    return served;
}

StatelessHeaders statelessHeaders(const McpRequest &request)
{
    return StatelessHeaders{request.value("mcp-protocol-version"), request.value("mcp-method"),
                            request.value("mcp-name")};
}

// A GET or DELETE of 2026-07-28: its header and no session to name.
bool sessionlessStreamOrDelete(const McpRequest &request)
{
    return request.value("mcp-session-id").isEmpty() &&
           QLatin1String(request.value("mcp-protocol-version")) == McpRevision::Stateless;
}

bool wantsClose(const QHttpServerRequest &request)
{
    return Http::hasToken(request.value("connection"), "close");
}

// An exchange over a channel that lives on the caller's stack: no allocation
// per request. Only for answers given before the caller returns (what
// outlives the call, an HttpSink, holds the socket itself).
HttpExchange borrowedExchange(SocketChannel &channel, const QHttpServerRequest &request)
{
    return HttpExchange(std::shared_ptr<HttpChannel>(std::shared_ptr<HttpChannel>(), &channel),
                        wantsClose(request));
}

// An exchange on the same connection as `borrowed` that may be answered
// after the caller returns.
HttpExchange keptExchange(const HttpExchange &borrowed)
{
    const auto *channel = dynamic_cast<const SocketChannel *>(borrowed.channel());
    return HttpExchange(std::make_shared<SocketChannel>(channel ? channel->socket() : nullptr),
                        borrowed.closesAfter());
}

// A JSON-RPC error answer with the given status.
void answerError(const HttpExchange &exchange, int status, const QJsonObject &error,
                 const Http::HeaderList &headers)
{
    Http::HeaderList all{{"Content-Type", "application/json"}};
    all.append(headers);
    exchange.answer(status, std::move(all), encode(error));
}

// What the listening sockets enforce, from the server's settings.
ConnectionGuards connectionGuards(const HttpConfig &config)
{
    ConnectionGuards guards;
    guards.maxBodyBytes = config.maxBodyBytes;
    guards.requestTimeoutMs = config.requestTimeoutMs;
    guards.idleTimeoutMs = config.idleTimeoutMs;
    guards.maxConnections = config.maxConnections;
    guards.maxPerAddress = config.maxConnectionsPerAddress;
    guards.retryAfterSeconds = config.retryAfterSeconds;
    return guards;
}

// What the sink of a 2026-07-28 request answers with; the broker's progress token is the caller's.
StatelessSink::Ids sinkIds(const StatelessRequest &request, const QJsonValue &brokerId,
                           const SessionOwner &owner)
{
    StatelessSink::Ids ids;
    ids.method = request.method;
    ids.clientId = request.id;
    ids.brokerId = brokerId;
    ids.user = owner.user;
    ids.name = request.name;
    ids.clientCapabilities = request.clientCapabilities;
    if (request.meta.contains(QLatin1String("progressToken")))
        ids.clientToken = request.meta.value(QLatin1String("progressToken"));
    return ids;
}

// Runs `ready` once the new user child `child` has answered initialize
// (the registry's handshake); answers `id` on `sink` with an error when the
// child ends first. Both go with the sink.
void whenChildReady(Session *child, StreamSink *sink, const QJsonValue &id, std::function<void()> ready)
{
    QObject::connect(child, &Session::ready, sink, std::move(ready), Qt::SingleShotConnection);
    QObject::connect(
        child, &Session::ended, sink,
        [sink, id](const QString &, const QString &reason) {
            sink->sendJson(AnswerKind::Answered,
                           encode(makeErrorResponse(
                               id, JsonRpcError::BackendExited,
                               QStringLiteral("the MCP server ended before answering (%1)").arg(reason))));
        },
        Qt::SingleShotConnection);
}

} // namespace

McpHttpServer::McpHttpServer(HttpConfig config, OriginPolicy policy, SessionRegistry *registry,
                             Authenticator authenticator, QObject *parent)
    : QAbstractHttpServer(parent)
    , m_config(std::move(config))
    , m_policy(std::move(policy))
    , m_registry(registry)
    , m_authenticator(std::move(authenticator))
    , m_keepAlive(new QTimer(this))
    , m_parked(new ParkedCalls(m_config.parking, this))
    , m_listen(new ListenHub(m_config.maxListenersPerUser, this))
{
    m_keepAlive->setInterval(m_config.keepAliveMs);
    connect(m_keepAlive, &QTimer::timeout, this, &McpHttpServer::sendKeepAlives);
}

McpHttpServer::~McpHttpServer()
{
    // Sinks outlive us only as children of sockets that die with us; stop them calling back.
    const QList<HttpSink *> sinks = findChildren<HttpSink *>();
    for (HttpSink *sink : sinks)
        sink->disconnect(this);
    m_streamingSinks.clear();
}

Result<quint16> McpHttpServer::listenOn(const QHostAddress &address, quint16 port)
{
    Result<GuardedTcpServer *> opened =
        GuardedTcpServer::open(connectionGuards(m_config), address, port, this);
    if (!opened)
        return opened.error();
    GuardedTcpServer *server = opened.value();
    bind(server);
    m_listeners.append(server);
    return server->serverPort();
}

void McpHttpServer::reconfigure(const HttpConfig &config, OriginPolicy policy)
{
    const QString mcpPath = m_config.mcpPath;
    const int keepAliveMs = m_config.keepAliveMs;
    m_config = config;
    m_config.mcpPath = mcpPath;
    m_config.keepAliveMs = keepAliveMs;
    m_policy = std::move(policy);
    m_parked->setLimits(m_config.parking);
    m_listen->setMaxListenersPerUser(m_config.maxListenersPerUser);
    for (const QPointer<GuardedTcpServer> &server : std::as_const(m_listeners)) {
        if (server)
            server->setGuards(connectionGuards(m_config));
    }
}

void McpHttpServer::stopListening()
{
    for (const QPointer<GuardedTcpServer> &server : std::as_const(m_listeners)) {
        if (server)
            server->close();
    }
}

void McpHttpServer::addRoute(const QString &path, RouteHandler handler)
{
    m_routes.insert(path, std::move(handler));
}

void McpHttpServer::addRoutes(const QList<HttpRoute> &routes)
{
    for (const HttpRoute &route : routes)
        addRoute(route.path, route.handler);
}

HttpSink *McpHttpServer::openSink(const HttpExchange &exchange, Http::HeaderList headers,
                                  QByteArray sessionId)
{
    HttpSink *sink = HttpSink::start(exchange, std::move(headers), std::move(sessionId));
    if (sink)
        sink->setRetryAfter(m_config.retryAfterSeconds);
    // Most sinks answer with one JSON body and never stream: only a stream
    // needs keep-alives, so only a stream is watched until it finishes
    // (one connection per request instead of two on the hot path).
    if (sink)
        connect(sink, &HttpSink::streamingStarted, this, &McpHttpServer::onStreamingStarted);
    return sink;
}

void McpHttpServer::onStreamingStarted(HttpSink *sink)
{
    connect(sink, &HttpSink::finished, this, &McpHttpServer::onSinkFinished);
    m_streamingSinks.insert(sink);
    if (!m_keepAlive->isActive())
        m_keepAlive->start();
}

void McpHttpServer::onSinkFinished(HttpSink *sink)
{
    m_streamingSinks.remove(sink);
    if (m_streamingSinks.isEmpty())
        m_keepAlive->stop();
}

void McpHttpServer::sendKeepAlives()
{
    const QList<HttpSink *> sinks = m_streamingSinks.values();
    for (HttpSink *sink : sinks)
        sink->keepAlive();
}

void McpHttpServer::refuse(const HttpExchange &exchange, McpFailure failure, const QString &message,
                           Http::HeaderList headers, const QByteArray &challenge) const
{
    refuse(exchange, failure, RpcErrorDetail{QJsonValue(), message, QJsonValue(QJsonValue::Undefined)},
           std::move(headers), challenge);
}

void McpHttpServer::refuse(const HttpExchange &exchange, const StatelessFailure &failure,
                           Http::HeaderList headers) const
{
    refuse(exchange, StatusTable::failureOf(failure.kind),
           RpcErrorDetail{failure.id, failure.message, failure.data}, std::move(headers), {});
}

void McpHttpServer::refuse(const HttpExchange &exchange, McpFailure failure, const RpcErrorDetail &detail,
                           Http::HeaderList headers, const QByteArray &challenge) const
{
    if (failure == McpFailure::SessionCapReached)
        metrics::add(metrics::Counter::RefusedSessions);
    const FailureStatus entry = StatusTable::of(failure);
    switch (entry.header) {
    case FailureHeader::None:
        break;
    case FailureHeader::Challenge:
        if (!challenge.isEmpty() || entry.status == 401)
            headers.emplaceBack("WWW-Authenticate", challenge);
        break;
    case FailureHeader::RetryAfter:
        headers.emplaceBack("Retry-After", QByteArray::number(m_config.retryAfterSeconds));
        break;
    case FailureHeader::Allow:
        headers.emplaceBack("Allow", StatusTable::allowedMethods());
        break;
    }
    answerError(exchange, entry.status,
                makeErrorResponse(detail.id, entry.rpcCode, detail.message, detail.data), headers);
}

void McpHttpServer::refuse(const HttpExchange &exchange, const SessionRefusal &refusal,
                           const Http::HeaderList &headers) const
{
    const McpFailure failure = StatusTable::failureOf(refusal);
    QString message = QStringLiteral("Session not found");
    if (failure == McpFailure::DuplicateRequestId)
        message = QLatin1String("Invalid Request: ") + refusal.message;
    else if (failure == McpFailure::StreamAlreadyOpen)
        message = QLatin1String("Conflict: ") + refusal.message;
    refuse(exchange, failure, message, headers);
}

bool McpHttpServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    if (socket->state() != QAbstractSocket::ConnectedState)
        return true; // rejected by a guard already

    const QString path = request.url().path();
    auto route = m_routes.constFind(path);
    if (route != m_routes.constEnd() &&
        (*route)(request, HttpExchange(std::make_shared<SocketChannel>(socket), wantsClose(request))))
        return true;
    SocketChannel channel(socket);
    if (path == QLatin1String("/healthz")) {
        // JSON so that a load balancer's check (and an operator) can see which
        // broker of a cluster answered (issue 14).
        const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("status"), QStringLiteral("ok")},
                                                          {QStringLiteral("node"), m_nodeId}})
                                    .toJson(QJsonDocument::Compact) +
                                '\n';
        borrowedExchange(channel, request)
            .answer(200, {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}}, body);
        return true;
    }
    if (path == m_config.mcpPath) {
        handleMcp(request, borrowedExchange(channel, request));
        return true;
    }
    return false;
}

void McpHttpServer::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    qCDebug(lcHttp) << "no route for" << request.url().path();
    SocketChannel channel(socket);
    borrowedExchange(channel, request).answer(404, {{"Content-Type", "text/plain"}}, "Not Found\n");
}

Http::HeaderList McpHttpServer::corsHeaders(const McpRequest &request) const
{
    const QByteArray origin = request.value("origin");
    if (origin.isEmpty())
        return {};
    return {{"Access-Control-Allow-Origin", origin},
            {"Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate"},
            {"Vary", "Origin"}};
}

void McpHttpServer::handleMcp(const QHttpServerRequest &qtRequest, const HttpExchange &exchange)
{
    const McpRequest request(qtRequest);
    // DNS rebinding protection first: nothing about the server is told to a
    // page that a foreign Host or Origin gives away.
    if (!m_policy.hostAllowed(request.value("host"))) {
        qCInfo(lcHttp) << "refused Host" << request.value("host") << "from"
                       << exchange.peerAddress().toString();
        refuse(exchange, McpFailure::HostRefused, QStringLiteral("Forbidden: Host not allowed"));
        return;
    }
    if (!m_policy.originAllowed(request.value("origin"))) {
        qCInfo(lcHttp) << "refused Origin" << request.value("origin") << "from"
                       << exchange.peerAddress().toString();
        refuse(exchange, McpFailure::OriginRefused, QStringLiteral("Forbidden: Origin not allowed"));
        return;
    }
    const Http::HeaderList cors = corsHeaders(request);
    if (request.method() == QHttpServerRequest::Method::Options) {
        Http::HeaderList headers = cors;
        headers.emplaceBack("Access-Control-Allow-Methods", StatusTable::allowedMethods());
        headers.emplaceBack(
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, "
            "Mcp-Method, Mcp-Name");
        headers.emplaceBack("Access-Control-Max-Age", "600");
        exchange.answer(204, std::move(headers), {});
        return;
    }

    const AuthVerdict verdict = m_authenticator(qtRequest);
    if (!verdict.isLater()) {
        serveMcp(request, exchange, verdict.now());
        return;
    }
    // The check waits for the token store (a token not seen lately): the
    // request goes on once it answers, on a copy and the socket itself.
    verdict.check(
        this, [this, kept = request.detached(), exchange = keptExchange(exchange)](const AuthResult &owner) {
            if (exchange.isOpen())
                serveMcp(kept, exchange, owner);
        });
}

void McpHttpServer::serveMcp(const McpRequest &request, const HttpExchange &exchange, const AuthResult &owner)
{
    const Http::HeaderList cors = corsHeaders(request);
    if (!owner) {
        const AuthFailure &error = owner.error();
        refuse(exchange, StatusTable::failureOf(error), error.message, cors, error.challenge);
        return;
    }
    if (request.method() != QHttpServerRequest::Method::Post && sessionlessStreamOrDelete(request)) {
        // 2026-07-28 has no GET stream and no session to end (streamable-http,
        // "Backward Compatibility"): 405, as a server of that revision alone answers.
        refuse(exchange, McpFailure::MethodNotAllowed,
               QStringLiteral("Method Not Allowed: 2026-07-28 has no GET stream and no session to delete"),
               cors);
        return;
    }
    switch (request.method()) {
    case QHttpServerRequest::Method::Post:
        handlePost(request, exchange, owner.value());
        return;
    case QHttpServerRequest::Method::Get:
        handleGet(request, exchange, owner.value());
        return;
    case QHttpServerRequest::Method::Delete:
        handleDelete(request, exchange, owner.value());
        return;
    default: {
        refuse(exchange, McpFailure::MethodNotAllowed, QStringLiteral("Method not allowed"), cors);
        return;
    }
    }
}

Session *McpHttpServer::sessionFor(const McpRequest &request, const QByteArray &sessionId,
                                   const HttpExchange &exchange, const SessionOwner &owner)
{
    const Http::HeaderList cors = corsHeaders(request);
    const QByteArray version = request.value("mcp-protocol-version");
    if (!version.isEmpty() && !McpRevision::isSessionRevision(version)) {
        // The revision's own error (-32022 with the list), so a client can
        // pick another instead of reporting a generic failure (issue 13).
        const QString requested = QString::fromLatin1(version);
        refuse(exchange,
               unsupportedVersion(
                   requested, servedRevisions(), QJsonValue(),
                   QStringLiteral("Bad Request: unsupported MCP-Protocol-Version %1").arg(requested)),
               cors);
        return nullptr;
    }
    const QString id = QString::fromLatin1(sessionId);
    if (id.isEmpty()) {
        refuse(exchange, McpFailure::MissingSessionId,
               QStringLiteral("Bad Request: Mcp-Session-Id header is required"), cors);
        return nullptr;
    }
    Session *session = m_registry ? m_registry->find(id) : nullptr;
    if (!session) {
        refuse(exchange, McpFailure::UnknownSession, QStringLiteral("Session not found"), cors);
        return nullptr;
    }
    if (session->kind() != SessionKind::Client) {
        // A user child's id is the broker's, never a client's session (issue 13).
        refuse(exchange, McpFailure::UnknownSession, QStringLiteral("Session not found"), cors);
        return nullptr;
    }
    if (session->owner().key() != owner.key()) {
        qCWarning(lcHttp).noquote() << "session" << shortSessionId(id) << "of" << session->owner().user
                                    << "was presented by" << owner.user << "; refused";
        refuse(exchange, McpFailure::ForeignSession,
               QStringLiteral("Forbidden: this session belongs to another user or grant"), cors);
        return nullptr;
    }
    return session;
}

void McpHttpServer::handlePost(const McpRequest &request, const HttpExchange &exchange,
                               const SessionOwner &owner)
{
    const Http::HeaderList cors = corsHeaders(request);
    const QByteArray accept = request.value("accept");
    if (!Http::accepts(accept, "application/json") || !Http::accepts(accept, "text/event-stream")) {
        refuse(exchange, McpFailure::NotAcceptable,
               QStringLiteral(
                   "Not Acceptable: the client must accept both application/json and text/event-stream"),
               cors);
        return;
    }
    if (Http::mediaType(request.value("content-type")) != "application/json") {
        refuse(exchange, McpFailure::UnsupportedMediaType,
               QStringLiteral("Unsupported Media Type: Content-Type must be application/json"), cors);
        return;
    }
    const QByteArray body = request.body();
    if (body.size() > m_config.maxBodyBytes) {
        refuse(exchange, McpFailure::PayloadTooLarge,
               QStringLiteral("Payload Too Large: %1 bytes, the limit is %2")
                   .arg(body.size())
                   .arg(m_config.maxBodyBytes),
               cors);
        return;
    }
    Result<ParsedBody, BodyError> parsed = parseBody(body, m_config.maxBatchMessages);
    if (!parsed) {
        refuse(exchange, StatusTable::failureOf(parsed.error()), parsed.error().message, cors);
        return;
    }
    const QList<JsonRpcMessage> &messages = parsed.value().messages;
    // A session's request (the common case) is never 2026-07-28: its other
    // headers are read only without a session id (docs/benchmarks.md, "Metrics").
    const QByteArray sessionId = request.value("mcp-session-id"); // read once: Qt scans every header
    if (sessionId.isEmpty() && isStatelessPost(statelessHeaders(request), false, messages)) {
        handleStateless(request, exchange, parsed.value(), owner);
        return;
    }
    int requests = 0;
    bool initialize = false;
    for (const JsonRpcMessage &message : messages) {
        if (message.kind == MessageKind::Request) {
            ++requests;
            initialize = initialize || message.method == QLatin1String("initialize");
        }
    }

    if (initialize) {
        if (messages.size() > 1) {
            refuse(exchange, McpFailure::InvalidRequest,
                   QStringLiteral("Invalid Request: initialize must be sent on its own"), cors);
            return;
        }
        if (!sessionId.isEmpty()) {
            refuse(exchange, McpFailure::InvalidRequest,
                   QStringLiteral(
                       "Invalid Request: initialize starts a new session and must not carry Mcp-Session-Id"),
                   cors);
            return;
        }
        Result<Session *> created = m_registry->create(owner);
        if (!created) {
            qCWarning(lcHttp).noquote() << "no session for" << owner.user << ":" << created.error().message;
            refuse(exchange, McpFailure::SessionCapReached,
                   QStringLiteral("Service Unavailable: %1").arg(created.error().message), cors);
            return;
        }
        Session *session = created.value();
        HttpSink *sink = openSink(exchange, cors, session->id().toLatin1());
        if (!sink)
            return; // the client left
        Result<bool, SessionRefusal> posted = session->post(messages, parsed.value().batch, sink);
        if (!posted) {
            delete sink;
            // A new session that refuses its first POST failed to initialize.
            refuse(exchange, McpFailure::InitializeFailed, posted.error().message, cors);
        }
        return;
    }

    Session *session = sessionFor(request, sessionId, exchange, owner);
    if (!session)
        return;
    HttpSink *sink = requests > 0 ? openSink(exchange, cors, QByteArray()) : nullptr;
    if (requests > 0 && !sink)
        return; // the client left
    Result<bool, SessionRefusal> posted = session->post(messages, parsed.value().batch, sink);
    if (!posted) {
        delete sink;
        refuse(exchange, posted.error(), cors);
        return;
    }
    if (!posted.value())
        exchange.answer(202, cors, {});
}

void McpHttpServer::handleStateless(const McpRequest &request, const HttpExchange &exchange,
                                    const ParsedBody &body, const SessionOwner &owner)
{
    const Http::HeaderList cors = corsHeaders(request);
    Result<StatelessRequest, StatelessFailure> parsed =
        parseStatelessRequest(statelessHeaders(request), body, servedRevisions());
    if (!parsed) {
        qCDebug(lcHttp).noquote() << "refused a 2026-07-28 request:" << parsed.error().message;
        refuse(exchange, parsed.error(), cors);
        return;
    }
    const StatelessRequest &stateless = parsed.value();
    const bool discover = stateless.method == QLatin1String("server/discover");
    const bool listen = stateless.method == QLatin1String("subscriptions/listen");
    if (!discover && !listen && !StatelessTranslation::isForwarded(stateless.method)) {
        refuse(
            exchange, McpFailure::UnknownMethod,
            RpcErrorDetail{
                stateless.id,
                QStringLiteral("Method not found: this broker does not serve %1 yet").arg(stateless.method),
                QJsonValue(QJsonValue::Undefined)},
            cors, {});
        return;
    }
    Result<Session *> child = m_registry->userChild(owner);
    if (!child) {
        qCWarning(lcHttp).noquote() << "no user child for" << owner.user << ":" << child.error().message;
        refuse(exchange, McpFailure::SessionCapReached,
               RpcErrorDetail{stateless.id,
                              QStringLiteral("Service Unavailable: %1").arg(child.error().message),
                              QJsonValue(QJsonValue::Undefined)},
               cors, {});
        return;
    }
    if (discover) {
        answerDiscover(exchange, stateless, child.value(), cors);
        return;
    }
    if (listen) {
        serveListen(exchange, stateless, child.value(), owner, cors);
        return;
    }
    if (stateless.params.contains(QLatin1String("requestState")) &&
        StatelessTranslation::allowsInputRequired(stateless.method)) {
        resumeParked(exchange, stateless, owner, cors);
        return;
    }

    // Broker-owned id and progress token: many clients share the child, and
    // each picks its own ids and tokens.
    const QString brokerId = QStringLiteral("fmb-%1").arg(++m_statelessRequests);
    StatelessSink::Ids ids = sinkIds(stateless, brokerId, owner);
    if (!ids.clientToken.isUndefined())
        ids.brokerToken = QString(brokerId + QLatin1String("-progress"));
    const JsonRpcMessage message =
        classify(StatelessTranslation::childRequest(stateless, brokerId, ids.brokerToken));
    HttpSink *http = openSink(exchange, cors, QByteArray());
    if (!http)
        return; // the client left
    auto *sink = new StatelessSink(http, child.value(), std::move(ids), m_parked);
    Session *session = child.value();
    if (session->initializeResult().isEmpty()) {
        // A new child: the registry's handshake ends with initialized once
        // the server has answered initialize; the request goes after it.
        forwardWhenReady(session, sink, message, stateless);
        return;
    }
    Result<bool, SessionRefusal> posted = forward(session, sink, message, stateless);
    if (!posted) {
        sink->abandon();
        delete http;
        refuse(exchange, posted.error(), cors);
    }
}

Result<bool, SessionRefusal> McpHttpServer::forward(Session *child, StatelessSink *sink,
                                                    const JsonRpcMessage &message,
                                                    const StatelessRequest &request)
{
    // The child's level first, so that what it logs for this request is sent at all.
    if (const std::optional<Subscriptions::LogLevel> level = Subscriptions::requestedLogLevel(request.meta))
        m_listen->watchLogs(sink, child, *level);
    return child->post({message}, false, sink);
}

void McpHttpServer::forwardWhenReady(Session *child, StatelessSink *sink, const JsonRpcMessage &message,
                                     const StatelessRequest &request)
{
    const auto fail = [sink, id = message.id](const QString &reason) {
        sink->abandon();
        sink->sendJson(AnswerKind::Answered,
                       encode(makeErrorResponse(id, JsonRpcError::BackendExited, reason)));
    };
    connect(
        child, &Session::ready, sink,
        [this, child, sink, message, request, fail] {
            Result<bool, SessionRefusal> posted = forward(child, sink, message, request);
            if (!posted)
                fail(posted.error().message);
        },
        Qt::SingleShotConnection);
    connect(
        child, &Session::ended, sink,
        [fail](const QString &, const QString &reason) {
            fail(QStringLiteral("the MCP server ended before answering (%1)").arg(reason));
        },
        Qt::SingleShotConnection);
}

void McpHttpServer::resumeParked(const HttpExchange &exchange, const StatelessRequest &request,
                                 const SessionOwner &owner, const Http::HeaderList &cors)
{
    const QJsonValue state = request.params.value(QLatin1String("requestState"));
    Result<ParkedCalls::Call, QString> taken =
        m_parked->take(state.toString(), owner.user, request.method, request.name);
    if (!taken) {
        // mrtr "Server Requirements": state that fails verification is
        // rejected; -32602 as the SDK's server answers it.
        qCInfo(lcHttp).noquote() << "refused a" << request.method << "retry of" << owner.user << ":"
                                 << taken.error();
        answerError(exchange, 200,
                    makeErrorResponse(
                        request.id, JsonRpcError::InvalidParams,
                        QStringLiteral("Invalid or expired requestState"),
                        QJsonObject{{QStringLiteral("reason"), QStringLiteral("invalid_request_state")}}),
                    cors);
        return;
    }
    ParkedCalls::Call call = std::move(taken).value();
    Session *child = call.session;
    const QJsonValue answer =
        request.params.value(QLatin1String("inputResponses")).toObject().value(call.key);
    if (!answer.isObject()) {
        // mrtr "Error Handling": missing input is asked for again, in a new round.
        const QJsonObject inputRequests{{call.key, call.inputRequest}};
        Result<QString> again = m_parked->park(call);
        if (!again) {
            // Only when the cap was lowered (SIGHUP) since this call parked:
            // the call ends in the child, and the client is told why as when
            // a call cannot park at all (-32003).
            ParkedCalls::cancel(call, again.error().message);
            answerError(exchange, 200,
                        makeErrorResponse(request.id, JsonRpcError::LimitReached, again.error().message),
                        cors);
            return;
        }
        exchange.answer(
            200, Http::HeaderList{{"Content-Type", "application/json"}} + cors,
            encode(StatelessTranslation::inputRequiredResponse(request.id, inputRequests, again.value())));
        return;
    }
    StatelessSink::Ids ids = sinkIds(request, call.brokerId, owner);
    ids.brokerToken = call.brokerToken;
    HttpSink *http = openSink(exchange, cors, QByteArray());
    if (!http) {
        ParkedCalls::cancel(call, QStringLiteral("the client left before its retry was answered"));
        return;
    }
    auto *sink = new StatelessSink(http, child, std::move(ids), m_parked);
    Result<void, SessionRefusal> resumed = child->openStream(sink, call.eventId);
    if (!resumed) {
        sink->abandon();
        delete http;
        answerError(
            exchange, 200,
            makeErrorResponse(
                request.id, JsonRpcError::InternalError,
                QStringLiteral("the call ended while it waited for input (%1)").arg(resumed.error().message)),
            cors);
        return;
    }
    // As forward(): the retry's own logLevel, set before the call goes on.
    if (const std::optional<Subscriptions::LogLevel> level = Subscriptions::requestedLogLevel(request.meta))
        m_listen->watchLogs(sink, child, *level);
    // The server's request answered: the call goes on and answers, or asks again.
    (void)child->post({classify(QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                                            {QStringLiteral("id"), call.serverRequestId},
                                            {QStringLiteral("result"), answer}})},
                      false, nullptr);
}

void McpHttpServer::answerDiscover(const HttpExchange &exchange, const StatelessRequest &request,
                                   Session *child, const Http::HeaderList &cors)
{
    const QJsonValue id = request.id;
    auto answer = [id](StreamSink *sink, Session *from) {
        sink->sendJson(AnswerKind::Answered,
                       encode(QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                                          {QStringLiteral("id"), id},
                                          {QStringLiteral("result"),
                                           StatelessTranslation::discoverResult(from->initializeResult(),
                                                                                servedRevisions())}}));
    };
    HttpSink *sink = openSink(exchange, cors, QByteArray());
    if (!sink)
        return; // the client left
    if (!child->initializeResult().isEmpty()) {
        answer(sink, child);
        return;
    }
    // A new child: its initialize result is what discover tells.
    whenChildReady(child, sink, id, [sink, child, answer] { answer(sink, child); });
}

void McpHttpServer::serveListen(const HttpExchange &exchange, const StatelessRequest &request, Session *child,
                                const SessionOwner &owner, const Http::HeaderList &cors)
{
    HttpSink *http = openSink(exchange, cors, QByteArray());
    if (!http)
        return; // the client left
    const QJsonValue id = request.id;
    const QJsonObject params = request.params;
    const std::optional<Subscriptions::LogLevel> level = Subscriptions::requestedLogLevel(request.meta);
    const QDateTime until = owner.tokenExpiresAt;
    const auto open = [this, http, child, id, params, level, until] {
        const ListenHub::Outcome outcome = m_listen->listen(http, child, id, params, level, until);
        if (outcome == ListenHub::Outcome::Open)
            return;
        const bool tooManyListeners = outcome == ListenHub::Outcome::TooManyListeners;
        const QString why =
            tooManyListeners
                ? QStringLiteral("this user has %1 subscriptions/listen streams open, the most "
                                 "allowed; close one first")
                      .arg(m_config.maxListenersPerUser)
                : QStringLiteral("a subscriptions/listen may name at most %1 resourceSubscriptions")
                      .arg(Subscriptions::MaxResourceSubscriptions);
        qCInfo(lcHttp).noquote() << "refused a subscriptions/listen of" << child->owner().user << ":" << why;
        http->sendJson(AnswerKind::Answered, encode(makeErrorResponse(id, JsonRpcError::LimitReached, why)));
    };
    if (!child->initializeResult().isEmpty()) {
        open();
        return;
    }
    // A new child: what it supports is known once it has answered initialize.
    whenChildReady(child, http, id, open);
}

void McpHttpServer::handleGet(const McpRequest &request, const HttpExchange &exchange,
                              const SessionOwner &owner)
{
    const Http::HeaderList cors = corsHeaders(request);
    if (!Http::accepts(request.value("accept"), "text/event-stream")) {
        refuse(exchange, McpFailure::NotAcceptable,
               QStringLiteral("Not Acceptable: the client must accept text/event-stream"), cors);
        return;
    }
    Session *session = sessionFor(request, request.value("mcp-session-id"), exchange, owner);
    if (!session)
        return;
    HttpSink *sink = openSink(exchange, cors, QByteArray());
    if (!sink)
        return; // the client left
    Result<void, SessionRefusal> opened = session->openStream(sink, request.value("last-event-id"));
    if (!opened) {
        delete sink;
        refuse(exchange, opened.error(), cors);
    }
}

void McpHttpServer::handleDelete(const McpRequest &request, const HttpExchange &exchange,
                                 const SessionOwner &owner)
{
    Session *session = sessionFor(request, request.value("mcp-session-id"), exchange, owner);
    if (!session)
        return;
    m_registry->evict(session->id(), QStringLiteral("the client ended the session"), EndCause::Client);
    exchange.answer(200, corsHeaders(request), {});
}

} // namespace fmb
