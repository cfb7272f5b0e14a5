#pragma once

#include <QPointer>
#include <QTcpSocket>

#include "http/HttpExchange.h"
#include "http/HttpHeaders.h"
#include "session/StreamSink.h"

namespace fmb {

class McpHttpServer;

// A StreamSink on one HTTP exchange: writes a JSON answer, or an SSE stream
// with chunked transfer coding. Parented to its socket, so it dies with the
// connection; it also deletes itself once the response is complete. The
// socket is observed through a QPointer and tested before every write.
class HttpSink final : public StreamSink {
    Q_OBJECT
public:
    // headers go on every answer; sessionId (Mcp-Session-Id) only on a success.
    HttpSink(QTcpSocket *socket, Http::HeaderList headers, QByteArray sessionId, bool closeAfter,
             McpHttpServer *server);
    ~HttpSink() override;
    // A sink on a route's exchange (one transport made), or null when the
    // client is gone. "Connection: close" follows the exchange.
    [[nodiscard]] static HttpSink *start(const HttpExchange &exchange, Http::HeaderList headers,
                                         QByteArray sessionId, McpHttpServer *server);

    void sendJson(AnswerKind kind, const QByteArray &body) override;
    void begin() override;
    void sendEvent(const QByteArray &id, const QByteArray &data, int retryMs = -1) override;
    void end() override;
    [[nodiscard]] bool isOpen() const override;

    // A comment to keep an idle SSE stream (and any proxy) from timing out.
    void keepAlive();
    [[nodiscard]] bool streaming() const { return m_streaming; }

private:
    void write(const QByteArray &bytes);
    void finish();

    QPointer<QTcpSocket> m_socket;
    Http::HeaderList m_headers;
    QByteArray m_sessionId;
    QPointer<McpHttpServer> m_server;
    bool m_closeAfter = false;
    bool m_streaming = false;
    bool m_done = false;
};

} // namespace fmb
