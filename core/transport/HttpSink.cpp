#include "HttpSink.h"

#include "Logging.h"
#include "SseEncoder.h"
#include "StatusTable.h"
#include "base/Metrics.h"

namespace fmb {
namespace {

// A reader that stops reading must not make us buffer without end: past
// this much unsent output the connection is dropped (the session keeps the
// events for a reconnect with Last-Event-ID).
constexpr qint64 MaxUnsentBytes = 8 * 1024 * 1024;

} // namespace

HttpSink::HttpSink(QTcpSocket *socket, Http::HeaderList headers, QByteArray sessionId, bool closeAfter)
    : StreamSink(socket)
    , m_channel(socket)
    , m_headers(std::move(headers))
    , m_sessionId(std::move(sessionId))
    , m_closeAfter(closeAfter)
{}

HttpSink *HttpSink::start(const HttpExchange &exchange, Http::HeaderList headers, QByteArray sessionId)
{
    const auto *channel = dynamic_cast<const SocketChannel *>(exchange.channel());
    QTcpSocket *socket = channel ? channel->socket() : nullptr;
    if (!socket || !exchange.isOpen())
        return nullptr;
    return new HttpSink(socket, std::move(headers), std::move(sessionId), exchange.closesAfter());
}

HttpSink::~HttpSink()
{
    notifyFinished();
}

bool HttpSink::isOpen() const
{
    return !m_done && m_channel.isOpen();
}

void HttpSink::write(const QByteArray &bytes)
{
    if (!isOpen())
        return;
    if (m_channel.unsent() + bytes.size() > MaxUnsentBytes) {
        qCWarning(lcHttp) << "client" << m_channel.peerAddress().toString() << "is not reading its stream ("
                          << m_channel.unsent() << "bytes unsent); dropping the connection";
        m_done = true;
        m_channel.abort();
        return;
    }
    m_channel.send(bytes);
}

void HttpSink::sendJson(AnswerKind kind, const QByteArray &body)
{
    if (!isOpen() || m_streaming)
        return;
    Http::HeaderList headers{{"Content-Type", "application/json"}};
    headers.append(m_headers);
    const std::optional<McpFailure> failure = StatusTable::failureOf(kind);
    const FailureStatus refusal = failure ? StatusTable::of(*failure) : FailureStatus{200};
    const int status = refusal.status;
    if (kind == AnswerKind::Answered && !m_sessionId.isEmpty())
        headers.emplaceBack("Mcp-Session-Id", m_sessionId);
    if (refusal.header == FailureHeader::RetryAfter)
        headers.emplaceBack("Retry-After", QByteArray::number(m_retryAfterSeconds));
    if (m_closeAfter)
        headers.emplaceBack("Connection", "close");
    metrics::countResponse(status);
    write(Http::response(status, headers, body));
    finish();
}

void HttpSink::begin()
{
    if (!isOpen() || m_streaming)
        return;
    m_streaming = true;
    Http::HeaderList headers{{"Content-Type", "text/event-stream"},
                             {"Cache-Control", "no-cache, no-transform"},
                             {"X-Accel-Buffering", "no"}}; // nginx: do not buffer the stream
    headers.append(m_headers);
    if (!m_sessionId.isEmpty())
        headers.emplaceBack("Mcp-Session-Id", m_sessionId);
    if (m_closeAfter)
        headers.emplaceBack("Connection", "close");
    metrics::countResponse(200);
    write(Http::chunkedHead(200, headers));
    Q_EMIT streamingStarted(this);
}

void HttpSink::sendEvent(const QByteArray &id, const QByteArray &data, int retryMs)
{
    begin();
    write(Sse::chunk(Sse::event(id, data, retryMs)));
}

void HttpSink::keepAlive()
{
    if (m_streaming)
        write(Sse::chunk(Sse::keepAlive()));
}

void HttpSink::end()
{
    if (!isOpen())
        return;
    if (!m_streaming) {
        // Ended before anything was said (the session went away): an empty stream.
        begin();
    }
    write(Sse::lastChunk());
    finish();
}

void HttpSink::finish()
{
    m_done = true;
    notifyFinished();
    m_channel.complete(m_closeAfter);
    deleteLater();
}

void HttpSink::notifyFinished()
{
    if (m_finishedEmitted)
        return;
    m_finishedEmitted = true;
    Q_EMIT finished(this);
}

} // namespace fmb
