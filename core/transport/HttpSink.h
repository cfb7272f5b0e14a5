#pragma once

#include "SocketChannel.h"
#include "http/HttpExchange.h"
#include "http/HttpHeaders.h"
#include "session/StreamSink.h"

namespace fmb {

// A StreamSink on one HTTP exchange: writes a JSON answer, or an SSE stream
// with chunked transfer coding. Parented to its socket, so it dies with the
// connection; it also deletes itself once the response is complete. The
// socket is observed through its SocketChannel and tested before every write.
class HttpSink final : public StreamSink {
    Q_OBJECT
public:
    ~HttpSink() override;
    // A sink on a route's exchange (one transport made), or null when the
    // client is gone. "Connection: close" follows the exchange; `headers` go
    // on every answer, `sessionId` (Mcp-Session-Id) only on a success.
    // Whoever keeps streams alive (McpHttpServer::openSink) connects to the signals.
    [[nodiscard]] static HttpSink *start(const HttpExchange &exchange, Http::HeaderList headers,
                                         QByteArray sessionId);

    void sendJson(AnswerKind kind, const QByteArray &body) override;
    void begin() override;
    void sendEvent(const QByteArray &id, const QByteArray &data, int retryMs = -1) override;
    void end() override;
    [[nodiscard]] bool isOpen() const override;

    // The Retry-After of an answer that asks to try again later.
    void setRetryAfter(int seconds) { m_retryAfterSeconds = seconds; }
    // A comment to keep an idle SSE stream (and any proxy) from timing out.
    void keepAlive();
    [[nodiscard]] bool streaming() const { return m_streaming; }

Q_SIGNALS:
    // The SSE head is out: an open stream from now on.
    void streamingStarted(fmb::HttpSink *sink);
    // The response is complete, or the sink is going away with its
    // connection; emitted once.
    void finished(fmb::HttpSink *sink);

private:
    HttpSink(QTcpSocket *socket, Http::HeaderList headers, QByteArray sessionId, bool closeAfter);
    void write(const QByteArray &bytes);
    void finish();
    void notifyFinished();

    SocketChannel m_channel;
    Http::HeaderList m_headers;
    QByteArray m_sessionId;
    bool m_closeAfter = false;
    int m_retryAfterSeconds = 1;
    bool m_streaming = false;
    bool m_done = false;
    bool m_finishedEmitted = false;
};

} // namespace fmb
