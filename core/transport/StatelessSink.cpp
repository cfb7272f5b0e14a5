#include "StatelessSink.h"

#include <QJsonDocument>
#include <QJsonObject>

#include "HttpSink.h"
#include "Logging.h"
#include "ParkedCalls.h"
#include "revision/StatelessTranslation.h"
#include "session/Session.h"

namespace fmb {

StatelessSink::StatelessSink(HttpSink *http, Session *session, Ids ids, ParkedCalls *parking)
    : StreamSink(http)
    , m_http(http)
    , m_session(session)
    , m_parking(parking)
    , m_ids(std::move(ids))
{
    connect(http, &HttpSink::finished, this, &StatelessSink::onHttpFinished);
}

StatelessSink::~StatelessSink() = default;

QByteArray StatelessSink::clientAnswer(const QJsonObject &response) const
{
    const QJsonObject serverInfo =
        m_session ? m_session->initializeResult().value(QLatin1String("serverInfo")).toObject()
                  : QJsonObject();
    return encode(StatelessTranslation::clientResponse(m_ids.method, response, m_ids.clientId, serverInfo));
}

void StatelessSink::sendJson(AnswerKind kind, const QByteArray &body)
{
    m_answered = true;
    if (!isOpen())
        return;
    if (m_streaming) {
        // The stream started for a message the session did not route (a
        // log message the request asked for, ListenHub): the answer ends it.
        answerClient(clientAnswer(QJsonDocument::fromJson(body).object()));
        return;
    }
    m_http->sendJson(kind, clientAnswer(QJsonDocument::fromJson(body).object()));
}

void StatelessSink::begin()
{
    // Lazy: a call may still end as plain JSON (its result, input_required).
}

void StatelessSink::startStream()
{
    if (!m_streaming && isOpen()) {
        m_streaming = true;
        m_http->begin();
    }
}

void StatelessSink::answerClient(const QByteArray &body)
{
    m_answered = true;
    if (!isOpen())
        return;
    if (!m_streaming) {
        m_http->sendJson(AnswerKind::Answered, body);
        return;
    }
    m_http->sendEvent(QByteArray(), body);
    m_http->end();
}

void StatelessSink::sendEvent(const QByteArray &id, const QByteArray &data, int)
{
    if (data.isEmpty() || !isOpen())
        return; // 2026-07-28 has no priming events: no stream is resumed
    const QJsonObject message = QJsonDocument::fromJson(data).object();
    if (message.contains(QLatin1String("result")) || message.contains(QLatin1String("error"))) {
        answerClient(clientAnswer(message));
        return;
    }
    if (message.contains(QLatin1String("id"))) {
        onServerRequest(id, message);
        return;
    }
    if (message.value(QLatin1String("method")).toString() == QLatin1String("notifications/progress")) {
        if (m_ids.clientToken.isUndefined())
            return; // a retry that asked for no progress
        startStream();
        m_http->sendEvent(QByteArray(),
                          encode(StatelessTranslation::clientProgress(message, m_ids.clientToken)));
        return;
    }
    startStream();
    m_http->sendEvent(QByteArray(), data);
}

void StatelessSink::onServerRequest(const QByteArray &eventId, const QJsonObject &request)
{
    const QJsonValue serverId = request.value(QLatin1String("id"));
    const QJsonObject required = StatelessTranslation::requiredCapabilities(request);
    const QString method = request.value(QLatin1String("method")).toString();
    if (required.isEmpty() || !m_parking || !m_session) {
        // No input request of 2026-07-28 (mrtr "Supported Requests"): the server hears no.
        toChild(makeErrorResponse(
            serverId, JsonRpcError::MethodNotFound,
            QStringLiteral("%1 is not available to servers behind 2026-07-28 clients").arg(method)));
        return;
    }
    const QJsonObject missing = StatelessTranslation::missingCapabilities(required, m_ids.clientCapabilities);
    if (!missing.isEmpty() && method == QLatin1String("roots/list")) {
        // Servers ask for roots on their own too (server-everything 350 ms
        // after initialize), and stdio cannot tell: a client without roots
        // has none to give, so the server hears that and the call goes on.
        toChild(makeErrorResponse(serverId, JsonRpcError::MethodNotFound,
                                  QStringLiteral("the client declared no roots capability")));
        return;
    }
    if (!missing.isEmpty()) {
        // mrtr: never send an input request the client did not declare;
        // basic/index -32021 tells the client what it lacks.
        qCDebug(lcHttp).noquote() << m_ids.method << m_ids.brokerId.toString() << "needs" << method
                                  << "; the client did not declare it";
        const QString reason =
            QStringLiteral("the request's client capabilities do not declare what %1 needs").arg(method);
        answerClient(
            encode(makeErrorResponse(m_ids.clientId, JsonRpcError::MissingRequiredClientCapability,
                                     QStringLiteral("Missing required client capability: ") + reason,
                                     QJsonObject{{QStringLiteral("requiredCapabilities"), missing}})));
        toChild(makeErrorResponse(serverId, JsonRpcError::MethodNotFound, reason));
        cancelInChild(reason);
        return;
    }
    // Unique within the request (mrtr "InputRequests"): one input request per round.
    const QString key = QStringLiteral("input-") + RequestId::fromJson(serverId).text();
    ParkedCalls::Call call{
        m_ids.user,        m_ids.method, m_ids.name, m_session, m_ids.brokerId,
        m_ids.brokerToken, eventId,      key,        serverId,  StatelessTranslation::inputRequest(request)};
    const QJsonObject inputRequests{{key, call.inputRequest}};
    Result<QString> state = m_parking->park(std::move(call));
    if (!state) {
        qCDebug(lcHttp).noquote() << "not parked:" << state.error().message;
        toChild(makeErrorResponse(serverId, JsonRpcError::LimitReached, state.error().message));
        return;
    }
    answerClient(
        encode(StatelessTranslation::inputRequiredResponse(m_ids.clientId, inputRequests, state.value())));
}

void StatelessSink::toChild(const QJsonObject &message)
{
    // Queued: this runs inside Session::flush() (sendEvent), and a
    // notifications/cancelled posted there would settle the very stream
    // being flushed under its loop. The session may be gone by then.
    if (!m_session)
        return;
    QMetaObject::invokeMethod(
        m_session.data(),
        [session = m_session, message] {
            if (session)
                (void)session->post({classify(message)}, false, nullptr);
        },
        Qt::QueuedConnection);
}

void StatelessSink::end()
{
    if (!isOpen())
        return;
    m_streaming = true;
    m_http->end();
}

bool StatelessSink::isOpen() const
{
    return m_http && m_http->isOpen();
}

void StatelessSink::onHttpFinished()
{
    m_http = nullptr; // finished: complete, or going away with its connection
    if (m_answered || !m_session)
        return;
    m_answered = true;
    // 2026-07-28 streamable-http: a client cancels by closing the request's
    // stream; the child hears it as notifications/cancelled (2025-11-25).
    qCDebug(lcHttp).noquote() << "the client closed the stream of" << m_ids.method << "; cancelling"
                              << m_ids.brokerId.toString();
    cancelInChild(QStringLiteral("the client closed the request's stream"));
}

void StatelessSink::cancelInChild(const QString &reason)
{
    toChild(QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                        {QStringLiteral("method"), QStringLiteral("notifications/cancelled")},
                        {QStringLiteral("params"), QJsonObject{{QStringLiteral("requestId"), m_ids.brokerId},
                                                               {QStringLiteral("reason"), reason}}}});
}

} // namespace fmb
