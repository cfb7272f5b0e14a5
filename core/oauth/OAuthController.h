#pragma once

#include <QHttpServerRequest>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>

#include "OAuthContext.h"
#include "OAuthEvent.h"
#include "http/HttpExchange.h"
#include "http/HttpRoutes.h"

namespace fmb {

// One group of OAuth endpoints (as qBittorrent's web API controllers group
// its actions): it answers the routes it hands out, through the shared
// context. The context must outlive it.
class OAuthController : public QObject {
    Q_OBJECT
public:
    // The routes to install on the HTTP server; they pass once this object is gone.
    [[nodiscard]] virtual QList<HttpRoute> routes() = 0;

Q_SIGNALS:
    // For the audit trail (docs/audit.md).
    void audited(const fmb::OAuthEvent &event);

protected:
    explicit OAuthController(const OAuthContext &context, QObject *parent = nullptr)
        : QObject(parent)
        , m_context(context)
    {}

    template <typename Controller>
    using Handler = void (Controller::*)(const QHttpServerRequest &, const HttpExchange &);

    // `path` answered by `handler` of this controller while it lives.
    template <typename Controller>
    [[nodiscard]] HttpRoute route(const QString &path, Handler<Controller> handler)
    {
        QPointer<Controller> self(static_cast<Controller *>(this));
        return {path, [self, handler](const QHttpServerRequest &request, const HttpExchange &exchange) {
                    if (!self)
                        return false;
                    (self.data()->*handler)(request, exchange);
                    return true;
                }};
    }

    [[nodiscard]] const OAuthConfig &config() const { return m_context.config(); }

    const OAuthContext &m_context;
};

} // namespace fmb
