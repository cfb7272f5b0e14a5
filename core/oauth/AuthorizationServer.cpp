#include "AuthorizationServer.h"

#include <QPointer>
#include <QTimer>

#include "AuthorizeController.h"
#include "BearerGuard.h"
#include "DiscoveryController.h"
#include "Logging.h"
#include "MetadataClients.h"
#include "RegistrationController.h"
#include "TokenController.h"
#include "store/StoreRunner.h"
#include "store/TokenStore.h"

namespace fmb {

AuthorizationServer::AuthorizationServer(OAuthConfig config, TokenStore *store, UpstreamClient *upstream,
                                         QObject *parent)
    : AuthorizationServer(
          std::move(config), [store](const TokenHash &hash) { return store->cachedAccessToken(hash); },
          StoreRunner::inlineOn(store), nullptr, upstream, parent)
{}

AuthorizationServer::AuthorizationServer(OAuthConfig config, OAuthContext::CachedBearer cachedBearer,
                                         const StoreRunner *stores, UpstreamClient *upstream, QObject *parent)
    : AuthorizationServer(std::move(config), std::move(cachedBearer), nullptr, stores, upstream, parent)
{}

AuthorizationServer::AuthorizationServer(OAuthConfig config, OAuthContext::CachedBearer cachedBearer,
                                         std::unique_ptr<StoreRunner> inlineStores, const StoreRunner *stores,
                                         UpstreamClient *upstream, QObject *parent)
    : QObject(parent)
    , m_inlineStores(std::move(inlineStores))
    , m_context(std::move(config), std::move(cachedBearer), stores ? stores : m_inlineStores.get())
    , m_guard(std::make_unique<BearerGuard>(m_context))
    , m_metadataClients(std::make_unique<MetadataClients>(m_context))
    , m_discovery(std::make_unique<DiscoveryController>(m_context))
    , m_registration(std::make_unique<RegistrationController>(m_context))
    , m_authorize(std::make_unique<AuthorizeController>(m_context, upstream, m_metadataClients.get()))
    , m_token(std::make_unique<TokenController>(m_context))
    , m_purgeTimer(new QTimer(this))
{
    connect(m_registration.get(), &RegistrationController::pendingClientsPurged, m_metadataClients.get(),
            &MetadataClients::forgetStale);
    connect(m_authorize.get(), &AuthorizeController::grantCreated, this, &AuthorizationServer::grantCreated);
    connect(m_token.get(), &TokenController::grantTokensRevoked, this,
            &AuthorizationServer::grantTokensRevoked);
    connect(m_authorize.get(), &AuthorizeController::audited, this, &AuthorizationServer::audited);
    connect(m_token.get(), &TokenController::audited, this, &AuthorizationServer::audited);

    if (m_context.config().purgeInterval.count() > 0) {
        m_purgeTimer->setInterval(m_context.config().purgeInterval);
        connect(m_purgeTimer, &QTimer::timeout, this, [this] {
            m_authorize->purgePending();
            m_context.stores().run<Result<PurgeCounts>>(
                this, [](TokenStore &store) { return store.purgeExpired(); },
                [](const Result<PurgeCounts> &purged) {
                    if (!purged)
                        qCWarning(lcOAuth).noquote()
                            << "purging expired tokens failed:" << purged.error().message;
                });
        });
        m_purgeTimer->start();
    }
}

AuthorizationServer::~AuthorizationServer() = default;

QList<HttpRoute> AuthorizationServer::routes()
{
    QList<HttpRoute> routes = m_discovery->routes();
    routes.append(m_registration->routes());
    routes.append(m_authorize->routes());
    routes.append(m_token->routes());
    qCInfo(lcOAuth).noquote() << "authorization server" << m_context.issuer() << "for resource"
                              << m_context.config().resource;
    return routes;
}

Authenticator AuthorizationServer::bearerGuard() const
{
    QPointer<const AuthorizationServer> self(this);
    return [self](const QHttpServerRequest &request) -> AuthVerdict {
        if (!self) {
            return AuthFailure{
                ErrorCode::Unavailable,
                {},
                QStringLiteral("Service Unavailable: the authorization server is shutting down")};
        }
        return self->authenticate(request);
    };
}

AuthVerdict AuthorizationServer::authenticate(const QHttpServerRequest &request) const
{
    return m_guard->authenticate(request);
}

int AuthorizationServer::pendingFlows() const
{
    return m_authorize->pendingFlows();
}

} // namespace fmb
