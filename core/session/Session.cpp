#include "Session.h"

#include <algorithm>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include "EventId.h"
#include "Logging.h"
#include "StreamSink.h"

namespace fmb {

QString shortSessionId(const QString &id)
{
    return id.mid(std::max<qsizetype>(0, id.size() - RandomIdHexDigits), 8);
}
namespace {

qint64 millisecondsSince(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
        .count();
}

// "error" for a JSON-RPC error or a tool result with isError (MCP tools/call),
// else "ok". Only tools/call answers are looked into.
QString toolCallOutcome(const QByteArray &data, AnswerKind failure)
{
    if (failure != AnswerKind::Answered)
        return QStringLiteral("error");
    const QJsonObject answer = QJsonDocument::fromJson(data).object();
    if (answer.contains(QLatin1String("error")) ||
        answer.value(QLatin1String("result")).toObject().value(QLatin1String("isError")).toBool())
        return QStringLiteral("error");
    return QStringLiteral("ok");
}

constexpr int StandaloneStream = 0;

// A broken MCP server can write junk as fast as it likes: log the first few
// lines, then one a second with the count of those not logged in between.
constexpr int JunkLogBurst = 10;
constexpr int JunkLogPerSecond = 1;

// A subscribed URI is kept for the session's life (the replay log): with
// max_subscriptions_per_session of them, this bounds their memory.
constexpr qsizetype MaxSubscriptionUriLength = 8192;

qint64 wallNowMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

QByteArray errorLine(const QJsonValue &id, int code, const QString &message)
{
    return encode(makeErrorResponse(id, code, message));
}

quint64 nextCreationOrder()
{
    static quint64 last = 0; // sessions live on the main thread
    return ++last;
}

} // namespace

Session::Session(QString id, SessionOwner owner, StreamLimits limits, QObject *parent)
    : QObject(parent)
    , m_id(std::move(id))
    , m_owner(std::move(owner))
    , m_limits(limits)
    , m_createdMs(wallNowMs())
    , m_creationOrder(nextCreationOrder())
    , m_lastActiveMs(m_createdMs)
    , m_lastActive(std::chrono::steady_clock::now())
    , m_junkLog(JunkLogBurst, JunkLogPerSecond)
{}

Session::~Session()
{
    // Sinks belong to the transport; end them so no client waits forever.
    for (auto &[streamId, stream] : m_streams) {
        if (stream->sink && stream->sink->isOpen())
            stream->sink->end();
    }
}

QString Session::clientName() const
{
    return m_replay.initializeParams()
        .value(QLatin1String("clientInfo"))
        .toObject()
        .value(QLatin1String("name"))
        .toString();
}

qint64 Session::backendPid() const
{
    return m_backend ? m_backend->processId() : 0;
}

void Session::setTokenExpiresMs(qint64 expiresMs)
{
    if (m_tokenExpiresMs == expiresMs)
        return;
    m_tokenExpiresMs = expiresMs;
    Q_EMIT tokenExpiryChanged(m_id);
}

bool Session::isActive() const
{
    auto it = m_streams.find(StandaloneStream);
    if (it != m_streams.end() && it->second->sink && it->second->sink->isOpen())
        return true;
    for (const Pending &pending : m_pending) {
        auto stream = m_streams.find(pending.streamId);
        if (stream != m_streams.end() && stream->second->sink && stream->second->sink->isOpen())
            return true;
    }
    return false;
}

qint64 Session::idleMs() const
{
    if (isActive())
        return 0;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 m_lastActive)
        .count();
}

void Session::watchSink(StreamSink *sink)
{
    // A response that ends or a client that leaves starts the idle clock
    // afresh: a stream open for an hour must not leave the session to be
    // reaped the moment it closes.
    connect(sink, &QObject::destroyed, this, &Session::touch);
}

void Session::touch()
{
    m_lastActive = std::chrono::steady_clock::now();
    m_lastActiveMs = wallNowMs();
    Q_EMIT activity(m_id);
}

bool Session::wantsPriming() const
{
    // Priming events (empty data) are a 2025-11-25 feature; older clients may
    // try to parse the empty data as JSON, so the SDK server only sends them
    // from that revision on. So do we.
    return m_kind == SessionKind::Client && m_protocolVersion >= QLatin1String("2025-11-25");
}

QByteArray Session::eventId(const Stream &stream, qint64 seq) const
{
    return EventId{stream.id, seq}.toBytes();
}

void Session::attachBackend(Backend *backend)
{
    backend->setParent(this);
    ++m_liveBackends;
    connect(backend, &Backend::lineReceived, this,
            [this, backend](const QByteArray &line) { onLine(backend, line); });
    connect(backend, &Backend::exited, this,
            [this, backend](const ExitInfo &info) { onExited(backend, info); });
}

void Session::start(std::unique_ptr<Backend> backend)
{
    Backend *raw = backend.release();
    attachBackend(raw);
    m_backend = raw;
    raw->start();
}

Result<bool, SessionRefusal> Session::post(const QList<JsonRpcMessage> &messages, bool batch,
                                           StreamSink *sink)
{
    if (m_ended)
        return SessionRefusal{Refusal::Ending, m_id, QStringLiteral("the session is ending")};

    int requests = 0;
    // Ids repeated inside one batch; a single message (the common case) needs
    // no set, so none is built for it.
    const bool batchOfMany = messages.size() > 1;
    QSet<RequestId> seen;
    for (const JsonRpcMessage &message : messages) {
        if (message.kind != MessageKind::Request)
            continue;
        if (m_pending.contains(message.requestId) || (batchOfMany && seen.contains(message.requestId))) {
            return SessionRefusal{Refusal::DuplicateRequestId, message.requestId.text(),
                                  QStringLiteral("request id %1 is already in use in this session")
                                      .arg(message.requestId.text())};
        }
        if (batchOfMany)
            seen.insert(message.requestId);
        ++requests;
    }
    Q_ASSERT(requests == 0 || sink);
    touch();

    Stream *stream = nullptr;
    if (requests > 0) {
        const int streamId = m_nextStreamId++;
        auto created = std::make_unique<Stream>(streamId, m_limits);
        watchSink(sink);
        created->sink = sink;
        created->batch = batch;
        created->openRequests = requests;
        stream = created.get();
        m_streams.emplace(streamId, std::move(created));
    }

    for (const JsonRpcMessage &message : messages) {
        if (message.kind != MessageKind::Request)
            m_replay.record(message); // a request only once it is let through (below)
        switch (message.kind) {
        case MessageKind::Response:
            forwardClientResponse(message);
            break;
        case MessageKind::Notification: {
            // A cancellation goes to the backend running that request, which
            // after a respawn may be the old one, still draining.
            QPointer<Backend> runner;
            if (message.method == QLatin1String("notifications/cancelled"))
                runner = forgetCancelled(message);
            Backend *target = runner ? runner.data() : m_backend.data();
            if (!target || !target->write(message.line()))
                qCDebug(lcSession) << "session" << shortSessionId(m_id) << ": no backend took notification"
                                   << message.method;
            if (runner && runner != m_backend && runner != m_next)
                stopBackendWhenIdle(runner);
            break;
        }
        case MessageKind::Request: {
            const QString refusal = refusalFor(message);
            Pending pending;
            pending.streamId = stream->id;
            pending.backend = m_backend;
            pending.method = metrics::methodOf(message.method);
            pending.initialize = pending.method == metrics::Method::Initialize;
            if (pending.method == metrics::Method::ToolsCall) {
                pending.tool = message.object.value(QLatin1String("params"))
                                   .toObject()
                                   .value(QLatin1String("name"))
                                   .toString()
                                   .left(200);
            }
            pending.forwarded = std::chrono::steady_clock::now();
            if (!message.progressToken.isUndefined()) {
                pending.progressToken = RequestId::fromJson(message.progressToken);
                if (!pending.progressToken.isNull())
                    m_progress.insert(pending.progressToken, message.requestId);
            }
            m_pending.insert(message.requestId, pending);
            if (!refusal.isEmpty()) {
                qCDebug(lcSession).noquote() << "session" << shortSessionId(m_id) << ": request"
                                             << message.requestId.toString() << "refused:" << refusal;
                deliverResponse(message.requestId,
                                errorLine(message.id, JsonRpcError::LimitReached, refusal));
                break;
            }
            m_replay.record(message);
            if (!m_backend || !m_backend->write(message.line())) {
                deliverResponse(
                    message.requestId,
                    errorLine(message.id, JsonRpcError::BackendUnavailable,
                              QStringLiteral("the MCP server of this session is not accepting input")),
                    pending.initialize ? AnswerKind::InitializeFailed : AnswerKind::Answered);
            }
            break;
        }
        case MessageKind::Invalid:
            break;
        }
    }
    return requests > 0;
}

QString Session::refusalFor(const JsonRpcMessage &message) const
{
    if (m_pending.size() >= m_limits.maxPendingRequests) {
        return QStringLiteral("this session has %1 requests pending; at most %2")
            .arg(m_pending.size())
            .arg(m_limits.maxPendingRequests);
    }
    if (message.method == QLatin1String("resources/subscribe")) {
        const QString uri =
            message.object.value(QLatin1String("params")).toObject().value(QLatin1String("uri")).toString();
        if (uri.size() > MaxSubscriptionUriLength) {
            return QStringLiteral("the resource URI is %1 characters long; at most %2")
                .arg(uri.size())
                .arg(MaxSubscriptionUriLength);
        }
        if (m_replay.subscriptionCount() >= m_limits.maxSubscriptions && !m_replay.hasSubscription(uri)) {
            return QStringLiteral(
                       "this session holds %1 resource subscriptions; at most %2 (unsubscribe first)")
                .arg(m_replay.subscriptionCount())
                .arg(m_limits.maxSubscriptions);
        }
    }
    return {};
}

void Session::forwardClientResponse(const JsonRpcMessage &message)
{
    // The client answers a server->client request: back to the backend that
    // asked. An answer to nothing the server asked (or asked and was answered
    // already) would only confuse the server, so it stops here (issue 11).
    const auto asked = m_serverRequests.constFind(message.requestId);
    if (asked == m_serverRequests.constEnd()) {
        qCDebug(lcSession).noquote() << "session" << shortSessionId(m_id) << ": response"
                                     << message.requestId.toString()
                                     << "answers no request of the MCP server; dropped";
        return;
    }
    const QPointer<Backend> asker = asked.value();
    m_serverRequests.erase(asked);
    if (!asker || !asker->write(message.line()))
        qCDebug(lcSession).noquote() << "session" << shortSessionId(m_id) << ": the MCP server that asked"
                                     << message.requestId.toString() << "did not take the client's response";
}

void Session::noteServerRequest(Backend *from, const JsonRpcMessage &message)
{
    Stream *stream = nullptr;
    if (m_kind == SessionKind::UserChild) {
        // Multi round-trip requests (2026-07-28 basic/patterns/mrtr): the
        // call that asks becomes input_required for its client. stdio links
        // no request to a call, so the newest call of this backend that may
        // ask is the one (all are the same user's).
        stream = inputStreamFor(from);
        if (!stream) {
            qCDebug(lcSession).noquote() << "user child" << m_id.left(8) << ": server request"
                                         << message.method << "outside a call that may ask; refused";
            (void)from->write(errorLine(
                message.id, JsonRpcError::MethodNotFound,
                QStringLiteral("%1 is not available: 2026-07-28 clients answer server requests only during "
                               "tools/call, resources/read and prompts/get")
                    .arg(message.method)));
            return;
        }
    }
    if (m_serverRequests.size() >= m_limits.maxServerRequests &&
        !m_serverRequests.contains(message.requestId)) {
        // The client does not answer: tell the server, whose request would
        // otherwise wait for ever, and keep no more of its ids.
        qCDebug(lcSession).noquote() << "session" << shortSessionId(m_id) << ": server request"
                                     << message.requestId.toString() << "refused;" << m_serverRequests.size()
                                     << "unanswered";
        (void)from->write(
            errorLine(message.id, JsonRpcError::LimitReached,
                      QStringLiteral("the client has %1 requests of this server unanswered; at most %2")
                          .arg(m_serverRequests.size())
                          .arg(m_limits.maxServerRequests)));
        return;
    }
    m_serverRequests.insert(message.requestId, from);
    if (!stream)
        stream = routeFor(message);
    if (stream)
        deliverMessage(*stream, message.raw);
}

Session::Stream *Session::inputStreamFor(const Backend *from)
{
    const Pending *newest = nullptr;
    for (const Pending &pending : std::as_const(m_pending)) {
        const bool mayAsk = pending.method == metrics::Method::ToolsCall ||
                            pending.method == metrics::Method::ResourcesRead ||
                            pending.method == metrics::Method::PromptsGet;
        if (mayAsk && pending.backend == from && (!newest || pending.forwarded > newest->forwarded))
            newest = &pending;
    }
    if (!newest)
        return nullptr;
    auto stream = m_streams.find(newest->streamId);
    return stream == m_streams.end() ? nullptr : stream->second.get();
}

Result<void, SessionRefusal> Session::openStream(StreamSink *sink, const QByteArray &lastEventId)
{
    if (m_ended)
        return SessionRefusal{Refusal::Ending, m_id, QStringLiteral("the session is ending")};

    int streamId = StandaloneStream;
    qint64 resumeAfter = -1;
    if (!lastEventId.isEmpty()) {
        const std::optional<EventId> parsed = EventId::parse(lastEventId);
        if (parsed && m_streams.count(parsed->stream)) {
            streamId = parsed->stream;
            resumeAfter = parsed->seq;
        } else if (m_kind == SessionKind::UserChild) {
            // A user child has no standalone stream: a call resumed after
            // input (mrtr) whose stream is gone has nothing to wait for.
            return SessionRefusal{Refusal::Ending, m_id, QStringLiteral("the call's stream is gone")};
        } else {
            qCDebug(lcSession) << "session" << shortSessionId(m_id) << ": Last-Event-ID" << lastEventId
                               << "names no stream held; opening the standalone stream";
        }
    }

    auto it = m_streams.find(streamId);
    if (it == m_streams.end())
        it = m_streams.emplace(streamId, std::make_unique<Stream>(streamId, m_limits)).first;
    Stream &stream = *it->second;
    if (stream.sink && stream.sink->isOpen()) {
        return SessionRefusal{Refusal::StreamHasReader, m_id,
                              streamId == StandaloneStream
                                  ? QStringLiteral("this session already has a GET stream open")
                                  : QStringLiteral("that stream already has a reader")};
    }
    touch();
    watchSink(sink);
    stream.sink = sink;
    stream.sse = true;
    if (resumeAfter >= 0)
        stream.sentSeq = std::min(resumeAfter, stream.buffer.lastSeq());
    sink->begin();
    if (streamId == StandaloneStream && resumeAfter < 0 && wantsPriming())
        sink->sendEvent(eventId(stream, stream.sentSeq), QByteArray(), m_limits.retryMs);
    flush(stream);
    if (stream.complete) {
        sink->end();
        m_retained.removeAll(streamId);
        m_streams.erase(streamId);
    }
    return {};
}

void Session::onLine(Backend *from, const QByteArray &line)
{
    if (m_ended)
        return;
    JsonRpcMessage message = parseLine(line);
    switch (message.kind) {
    case MessageKind::Invalid:
        reportJunk(line, message.invalidReason);
        return;
    case MessageKind::Response: {
        if (from == m_next && !m_replayPrefix.isEmpty() && message.requestId.isString() &&
            message.requestId.text().startsWith(m_replayPrefix)) {
            handleReplayResponse(from, message);
            return;
        }
        auto it = m_pending.find(message.requestId);
        if (it == m_pending.end() || (it->backend && it->backend != from)) {
            qCDebug(lcSession).noquote()
                << "session" << shortSessionId(m_id) << ": response to no pending request"
                << message.requestId.toString() << "; dropped";
            return;
        }
        bool initializeFailed = false;
        if (it->initialize && m_state == SessionState::Starting) {
            const QJsonObject result = message.object.value(QLatin1String("result")).toObject();
            if (message.object.contains(QLatin1String("error"))) {
                initializeFailed = true;
            } else {
                m_protocolVersion = result.value(QLatin1String("protocolVersion")).toString();
                m_initializeResult = result;
                m_state = SessionState::Ready;
                qCInfo(lcSession).noquote()
                    << "session" << shortSessionId(m_id) << "ready: client" << clientName() << "protocol"
                    << m_protocolVersion << "pid" << backendPid();
                Q_EMIT ready(m_id);
            }
        }
        deliverResponse(message.requestId, line);
        if (initializeFailed)
            stop(QStringLiteral("the MCP server refused initialize"));
        return;
    }
    case MessageKind::Request:
        noteServerRequest(from, message);
        return;
    case MessageKind::Notification:
        if (message.method == QLatin1String("notifications/cancelled")) {
            // The server gave up on its own request: the client's answer is no longer wanted.
            m_serverRequests.remove(RequestId::fromJson(
                message.object.value(QLatin1String("params")).toObject().value(QLatin1String("requestId"))));
        }
        if (Stream *stream = routeFor(message))
            deliverMessage(*stream, line);
        return;
    }
}

void Session::reportJunk(const QByteArray &line, const QString &reason)
{
    if (!m_junkLog.take())
        return;
    flushJunkCount();
    qCWarning(lcSession).noquote() << "session" << shortSessionId(m_id)
                                   << ": the MCP server wrote a line that is not JSON-RPC (" << line.size()
                                   << "bytes," << reason << "); dropped";
}

void Session::flushJunkCount()
{
    const qint64 suppressed = m_junkLog.takeSuppressed();
    if (suppressed > 0) {
        qCWarning(lcSession).noquote() << "session" << shortSessionId(m_id) << ":" << suppressed
                                       << "more lines that are not JSON-RPC dropped (rate-limited log)";
    }
}

Session::Stream *Session::routeFor(const JsonRpcMessage &message)
{
    // 1. A progress token names its request exactly.
    if (!message.progressToken.isUndefined()) {
        const RequestId request = m_progress.value(RequestId::fromJson(message.progressToken));
        auto pending = m_pending.constFind(request);
        if (pending != m_pending.constEnd()) {
            auto stream = m_streams.find(pending->streamId);
            if (stream != m_streams.end())
                return stream->second.get();
        }
    }
    // 2. Sent while a request is pending: stdio carries no link, so the
    //    newest open request stream is the best guess (MCP 2025-11-25,
    //    transports: messages on a POST stream SHOULD relate to its request).
    //    Not for a user child, whose requests are different clients'.
    for (auto it = m_streams.rbegin(); m_kind == SessionKind::Client && it != m_streams.rend(); ++it) {
        if (it->first != StandaloneStream && it->second->openRequests > 0)
            return it->second.get();
    }
    // 3. Everything else goes to the standalone GET stream (buffered if none is open).
    auto it = m_streams.find(StandaloneStream);
    if (it == m_streams.end()) {
        it = m_streams.emplace(StandaloneStream, std::make_unique<Stream>(StandaloneStream, m_limits)).first;
        it->second->sse = true;
    }
    return it->second.get();
}

void Session::deliverResponse(const RequestId &id, const QByteArray &data, AnswerKind failure)
{
    auto node = m_pending.find(id);
    if (node == m_pending.end())
        return;
    const Pending pending = *node;
    m_pending.erase(node);
    metrics::observeOperation(pending.method, std::chrono::steady_clock::now() - pending.forwarded);
    if (!pending.progressToken.isNull())
        m_progress.remove(pending.progressToken);
    releasePendingIfEmpty();

    auto found = m_streams.find(pending.streamId);
    if (found != m_streams.end()) {
        Stream &stream = *found->second;
        --stream.openRequests;
        if (!stream.sse) {
            stream.jsonReplies.append(data);
            if (stream.openRequests == 0) {
                const bool failed = failure != AnswerKind::Answered && !stream.batch;
                QByteArray body =
                    stream.batch ? '[' + stream.jsonReplies.join(',') + ']' : stream.jsonReplies.first();
                if (stream.sink && stream.sink->isOpen())
                    stream.sink->sendJson(failed ? failure : AnswerKind::Answered, body);
                else
                    qCDebug(lcSession) << "session" << shortSessionId(m_id)
                                       << ": the client left before its answer; dropped";
                m_streams.erase(found);
            }
        } else {
            appendEvent(stream, data);
            flush(stream);
            if (stream.openRequests == 0)
                settle(stream);
        }
    }

    // A swapped-out backend stops once its last request is answered.
    if (pending.backend && pending.backend != m_backend && pending.backend != m_next)
        stopBackendWhenIdle(pending.backend);
    if (pending.method == metrics::Method::ToolsCall)
        Q_EMIT toolCallFinished(m_id, pending.tool, millisecondsSince(pending.forwarded),
                                toolCallOutcome(data, failure));
}

QPointer<Backend> Session::forgetCancelled(const JsonRpcMessage &message)
{
    // The server will not answer a cancelled request (MCP 2025-11-25,
    // cancellation), so its stream must not wait for that answer.
    const QJsonValue requestId =
        message.object.value(QLatin1String("params")).toObject().value(QLatin1String("requestId"));
    auto node = m_pending.find(RequestId::fromJson(requestId));
    if (node == m_pending.end())
        return nullptr;
    const Pending pending = *node;
    m_pending.erase(node);
    metrics::observeOperation(pending.method, std::chrono::steady_clock::now() - pending.forwarded);
    // The audit trail's slot only writes a line: nothing here changes under us.
    if (pending.method == metrics::Method::ToolsCall)
        Q_EMIT toolCallFinished(m_id, pending.tool, millisecondsSince(pending.forwarded),
                                QStringLiteral("cancelled"));
    if (!pending.progressToken.isNull())
        m_progress.remove(pending.progressToken);
    releasePendingIfEmpty();
    auto found = m_streams.find(pending.streamId);
    if (found == m_streams.end())
        return pending.backend;
    Stream &stream = *found->second;
    if (--stream.openRequests > 0)
        return pending.backend;
    if (!stream.sse && !stream.jsonReplies.isEmpty()) {
        // A batch whose other requests were answered: those answers are still owed.
        const QByteArray body = '[' + stream.jsonReplies.join(',') + ']';
        if (stream.sink && stream.sink->isOpen())
            stream.sink->sendJson(AnswerKind::Answered, body);
        m_streams.erase(found);
        return pending.backend;
    }
    settle(stream);
    return pending.backend;
}

void Session::deliverMessage(Stream &stream, const QByteArray &data)
{
    if (!stream.sse) {
        // The answer becomes an event stream: the first event primes the
        // client for a reconnect, then whatever was collected as JSON.
        stream.sse = true;
        if (stream.sink && stream.sink->isOpen()) {
            stream.sink->begin();
            if (wantsPriming())
                stream.sink->sendEvent(eventId(stream, 0), QByteArray(), m_limits.retryMs);
        }
        for (const QByteArray &reply : std::as_const(stream.jsonReplies))
            appendEvent(stream, reply);
        stream.jsonReplies.clear();
    }
    appendEvent(stream, data);
    flush(stream);
}

void Session::appendEvent(Stream &stream, const QByteArray &data)
{
    stream.buffer.append(data);
}

void Session::flush(Stream &stream)
{
    if (!stream.sink || !stream.sink->isOpen() || stream.sentSeq >= stream.buffer.lastSeq())
        return;
    const QList<EventBuffer::Event> events = stream.buffer.after(stream.sentSeq);
    for (const EventBuffer::Event &event : events)
        stream.sink->sendEvent(eventId(stream, event.seq), event.data);
    stream.sentSeq = stream.buffer.lastSeq();
}

void Session::settle(Stream &stream)
{
    stream.complete = true;
    if (stream.sink && stream.sink->isOpen()) {
        stream.sink->end();
        m_streams.erase(stream.id);
        return;
    }
    // Nobody is reading: keep it for a client that comes back with Last-Event-ID.
    stream.sink = nullptr;
    m_retained.append(stream.id);
    while (m_retained.size() > m_limits.retainedStreams)
        m_streams.erase(m_retained.takeFirst());
}

void Session::onExited(Backend *from, const ExitInfo &info)
{
    --m_liveBackends;
    if (from == m_next) {
        abandonNext(QStringLiteral("the new MCP server %1 before it was ready").arg(info.reason));
    }
    failPending(from, info.reason, info.unavailable);
    m_serverRequests.removeIf([from](QHash<RequestId, QPointer<Backend>>::iterator entry) {
        return !entry.value() || entry.value() == from;
    });
    m_draining.removeAll(from);
    if (from == m_backend) {
        m_backend = nullptr;
        if (!m_ended) {
            const QString reason =
                info.failedToStart ? info.reason : QStringLiteral("the MCP server %1").arg(info.reason);
            qCInfo(lcSession).noquote() << "session" << shortSessionId(m_id) << "ends:" << reason;
            stop(reason);
        }
    }
    from->deleteLater();
    maybeFinish();
}

void Session::failPending(Backend *backend, const QString &reason, bool unavailable)
{
    const AnswerKind failedInitialize =
        unavailable ? AnswerKind::InitializeUnavailable : AnswerKind::InitializeFailed;
    QList<RequestId> ids;
    for (auto it = m_pending.cbegin(); it != m_pending.cend(); ++it) {
        if (!backend || it->backend == backend || !it->backend)
            ids.append(it.key());
    }
    for (const RequestId &id : std::as_const(ids)) {
        const bool initialize = m_pending.value(id).initialize;
        deliverResponse(id,
                        errorLine(id.toJson(), JsonRpcError::BackendExited,
                                  QStringLiteral("the MCP server ended before answering (%1)").arg(reason)),
                        initialize && m_state == SessionState::Starting ? failedInitialize
                                                                        : AnswerKind::Answered);
    }
}

void Session::stopBackendWhenIdle(Backend *backend)
{
    for (const Pending &pending : std::as_const(m_pending)) {
        if (pending.backend == backend)
            return;
    }
    backend->stop();
}

void Session::respawn(std::unique_ptr<Backend> next)
{
    if (m_ended || m_next || !m_replay.hasInitialize() || m_state != SessionState::Ready) {
        const QString reason = m_next ? QStringLiteral("a respawn is already under way")
                                      : QStringLiteral("the session is not ready");
        QMetaObject::invokeMethod(
            this, [this, reason] { Q_EMIT respawnFailed(m_id, reason); }, Qt::QueuedConnection);
        return; // `next` was never started; unique_ptr deletes it
    }
    m_state = SessionState::Respawning;
    m_replayPrefix = QStringLiteral("fmb-replay-%1").arg(++m_replayCounter);
    Backend *raw = next.release();
    attachBackend(raw);
    m_next = raw;
    connect(
        raw, &Backend::started, this,
        [this, raw] {
            if (raw != m_next)
                return;
            if (!raw->write(encode(
                    m_replay.initializeRequest(QJsonValue(m_replayPrefix + QLatin1String("-init")))))) {
                abandonNext(QStringLiteral("the new MCP server does not take input"));
            }
        },
        Qt::SingleShotConnection);
    raw->start();
    // A new backend that never answers must not block later respawns.
    QTimer::singleShot(m_limits.respawnTimeoutMs, this, [this, prefix = m_replayPrefix] {
        if (m_next && m_replayPrefix == prefix) {
            abandonNext(QStringLiteral("the new MCP server did not answer initialize within %1 ms")
                            .arg(m_limits.respawnTimeoutMs));
        }
    });
}

void Session::handleReplayResponse(Backend *from, const JsonRpcMessage &message)
{
    if (message.requestId != RequestId(m_replayPrefix + QLatin1String("-init"))) {
        if (message.object.contains(QLatin1String("error")))
            qCWarning(lcSession).noquote() << "session" << shortSessionId(m_id) << ": replayed request"
                                           << message.requestId.toString() << "failed";
        return;
    }
    if (message.object.contains(QLatin1String("error"))) {
        abandonNext(QStringLiteral("the new MCP server refused the replayed initialize"));
        return;
    }
    // Written before any client request reaches the new backend, so the
    // server sees the client's state first (stdin is ordered).
    const QList<QJsonObject> rest = m_replay.afterInitialize(m_replayPrefix);
    for (const QJsonObject &object : rest)
        (void)from->write(encode(object));
    swapToNext();
}

void Session::swapToNext()
{
    Backend *old = m_backend;
    m_backend = m_next;
    m_next = nullptr;
    m_state = SessionState::Ready;
    qCInfo(lcSession).noquote() << "session" << shortSessionId(m_id) << "respawned: new pid" << backendPid();
    if (old) {
        m_draining.append(old);
        stopBackendWhenIdle(old);
    }
    Q_EMIT backendSwapped(m_id);
}

void Session::abandonNext(const QString &reason)
{
    Backend *next = m_next;
    m_next = nullptr;
    m_replayPrefix.clear();
    if (!m_ended)
        m_state = SessionState::Ready;
    if (next)
        next->stop();
    qCWarning(lcSession).noquote() << "session" << shortSessionId(m_id) << "respawn failed:" << reason;
    Q_EMIT respawnFailed(m_id, reason);
}

void Session::stop(const QString &reason)
{
    if (m_ended)
        return;
    m_ended = true;
    flushJunkCount();
    failPending(nullptr, QStringLiteral("session ended: %1").arg(reason));
    m_state = SessionState::Stopping;
    for (auto &[streamId, stream] : m_streams) {
        if (stream->sink && stream->sink->isOpen())
            stream->sink->end();
    }
    m_streams.clear();
    m_retained.clear();
    if (m_next)
        m_next->stop();
    if (m_backend)
        m_backend->stop();
    for (const QPointer<Backend> &backend : std::as_const(m_draining)) {
        if (backend)
            backend->stop();
    }
    Q_EMIT ended(m_id, reason);
    maybeFinish();
}

void Session::releasePendingIfEmpty()
{
    // A QHash keeps its bucket storage when emptied (~3.7 KiB here): for
    // thousands of idle sessions that is a good part of their memory.
    if (m_pending.isEmpty()) {
        m_pending = {};
        m_progress = {};
    }
}

void Session::maybeFinish()
{
    if (m_ended && !m_finished && m_liveBackends == 0) {
        m_finished = true;
        Q_EMIT finished(m_id);
    }
}

} // namespace fmb
