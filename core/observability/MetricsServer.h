#pragma once

#include <functional>

#include <QAbstractHttpServer>
#include <QByteArray>
#include <QHostAddress>
#include <QPointer>

#include "base/Result.h"

namespace fmb {

class GuardedTcpServer;

// GET /metrics on a listener of its own (--metrics-listen), never on the
// public /mcp one: the Prometheus text from `render`, called per scrape.
// Anything else is 404, a method other than GET on /metrics 405. The listener keeps
// the public one's guards with small caps (a scraper needs one connection).
// Its own answers are not counted in forgejo_mcp_broker_http_responses_total.
class MetricsServer final : public QAbstractHttpServer {
    Q_OBJECT
public:
    using Render = std::function<QByteArray()>;

    explicit MetricsServer(Render render, QObject *parent = nullptr);

    // The port bound (the one asked for, or the kernel's pick for 0).
    [[nodiscard]] Result<quint16> listen(const QHostAddress &address, quint16 port);
    [[nodiscard]] quint64 scrapes() const { return m_scrapes; }

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    Render m_render;
    QPointer<GuardedTcpServer> m_listener;
    quint64 m_scrapes = 0;
};

} // namespace fmb
