#include "StatelessSink.h"

#include <QJsonDocument>
#include <QJsonObject>

#include "HttpSink.h"
#include "Logging.h"
#include "revision/StatelessTranslation.h"
#include "session/Session.h"

namespace fmb {

StatelessSink::StatelessSink(HttpSink *http, Session *session, Ids ids)
    : StreamSink(http)
    , m_http(http)
    , m_session(session)
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
    m_http->sendJson(kind, clientAnswer(QJsonDocument::fromJson(body).object()));
}

void StatelessSink::begin()
{
    if (isOpen())
        m_http->begin();
}

void StatelessSink::sendEvent(const QByteArray &, const QByteArray &data, int)
{
    if (data.isEmpty() || !isOpen())
        return; // 2026-07-28 has no priming events: no stream is resumed
    const QJsonObject message = QJsonDocument::fromJson(data).object();
    if (message.contains(QLatin1String("result")) || message.contains(QLatin1String("error"))) {
        m_answered = true;
        m_http->sendEvent(QByteArray(), clientAnswer(message));
        return;
    }
    if (message.value(QLatin1String("method")).toString() == QLatin1String("notifications/progress")) {
        m_http->sendEvent(QByteArray(),
                          encode(StatelessTranslation::clientProgress(message, m_ids.clientToken)));
        return;
    }
    m_http->sendEvent(QByteArray(), data);
}

void StatelessSink::end()
{
    if (isOpen())
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
    const QJsonObject cancelled{
        {QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
        {QStringLiteral("method"), QStringLiteral("notifications/cancelled")},
        {QStringLiteral("params"),
         QJsonObject{{QStringLiteral("requestId"), m_ids.brokerId},
                     {QStringLiteral("reason"), QStringLiteral("the client closed the request's stream")}}}};
    (void)m_session->post({classify(cancelled)}, false, nullptr);
}

} // namespace fmb
