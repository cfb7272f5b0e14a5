#include "MetricsServer.h"

#include <QHttpServerRequest>
#include <QTcpSocket>

#include "Logging.h"
#include "PrometheusText.h"
#include "http/HttpHeaders.h"
#include "transport/GuardedTcpServer.h"

namespace fmb {

namespace {

constexpr int MaxConnections = 16;
constexpr int MaxConnectionsPerAddress = 8;
constexpr int RequestTimeoutMs = 10000;
constexpr int IdleTimeoutMs = 60000;
constexpr qint64 MaxBodyBytes = 1024; // a scrape has no body

void answer(QTcpSocket *socket, int status, Http::HeaderList headers, QByteArrayView body)
{
    if (socket->state() != QAbstractSocket::ConnectedState)
        return;
    socket->write(Http::response(status, headers, body));
}

} // namespace

MetricsServer::MetricsServer(Render render, QObject *parent)
    : QAbstractHttpServer(parent)
    , m_render(std::move(render))
{}

Result<quint16> MetricsServer::listen(const QHostAddress &address, quint16 port)
{
    ConnectionGuards guards;
    guards.maxBodyBytes = MaxBodyBytes;
    guards.requestTimeoutMs = RequestTimeoutMs;
    guards.idleTimeoutMs = IdleTimeoutMs;
    guards.maxConnections = MaxConnections;
    guards.maxPerAddress = MaxConnectionsPerAddress;
    Result<GuardedTcpServer *> opened =
        GuardedTcpServer::open(guards, address, port, this, QStringLiteral("for metrics"));
    if (!opened)
        return opened.error();
    m_listener = opened.value();
    bind(m_listener);
    return m_listener->serverPort();
}

bool MetricsServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    if (request.url().path() != QLatin1String("/metrics"))
        return false;
    if (request.method() != QHttpServerRequest::Method::Get) {
        answer(socket, 405, {{"Allow", "GET"}, {"Content-Type", "text/plain"}}, "Method not allowed\n");
        return true;
    }
    ++m_scrapes;
    answer(socket, 200,
           {{"Content-Type", PrometheusText::ContentType.toByteArray()}, {"Cache-Control", "no-store"}},
           m_render());
    return true;
}

void MetricsServer::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    Q_UNUSED(request);
    answer(socket, 404, {{"Content-Type", "text/plain"}}, "Not found: metrics are at /metrics\n");
}

} // namespace fmb
