#pragma once

#include "OAuthController.h"

namespace fmb {

// Where MCP clients discover us: RFC 9728 protected resource metadata and
// RFC 8414 authorization server metadata (with OpenID's path forms), JSON
// that any origin may read.
class DiscoveryController final : public OAuthController {
    Q_OBJECT
public:
    explicit DiscoveryController(const OAuthContext &context, QObject *parent = nullptr);

    [[nodiscard]] QList<HttpRoute> routes() override;

    [[nodiscard]] QByteArray protectedResourceMetadata() const;
    [[nodiscard]] QByteArray serverMetadata() const;

private:
    void handleProtectedResourceMetadata(const QHttpServerRequest &request, const HttpExchange &exchange);
    void handleServerMetadata(const QHttpServerRequest &request, const HttpExchange &exchange);
    void answer(const QHttpServerRequest &request, const HttpExchange &exchange, const QByteArray &metadata);
};

} // namespace fmb
