#pragma once

#include <memory>

#include <QHttpServerRequest>
#include <QList>
#include <QObject>
#include <QString>

#include "OAuthConfig.h"
#include "OAuthContext.h"
#include "OAuthEvent.h"
#include "base/Result.h"
#include "base/SessionOwner.h"
#include "http/HttpRoutes.h"

class QTimer;

namespace fmb {

class AuthorizeController;
class BearerGuard;
class DiscoveryController;
class MetadataClients;
class RegistrationController;
class TokenController;
class StoreRunner;
class TokenStore;
class UpstreamClient;

// The broker as OAuth 2.1 authorization server for MCP clients (MCP
// authorization 2025-06-18 and 2025-11-25): RFC 9728 protected resource
// metadata, RFC 8414 server metadata, RFC 7591 registration and client ID
// metadata documents, authorization code + PKCE S256, RFC 8707 resources,
// RFC 9207 iss, rotating refresh tokens and RFC 7009 revocation. Users sign
// in upstream (UpstreamClient, one static client id), so the confused deputy
// rules of the MCP security best practices apply: a consent page per client
// before the upstream redirect, CSRF tokens bound to a cookie, exact
// redirect URI match (loopback ports excepted, RFC 8252 §7.3), per-user
// consent records. Clients are public (PKCE only) or confidential with a
// client secret (client_secret_post or client_secret_basic), kept hashed.
//
// The facade over the parts that do the work, one per group of endpoints:
// DiscoveryController, RegistrationController, AuthorizeController (the
// browser's sign-in), TokenController, and the BearerGuard of /mcp.
//
// Broker tokens are opaque and kept hashed by the TokenStore; the client's
// token never goes upstream. The endpoints' statements run through a
// StoreRunner (on a thread of their own in the daemon, issue 14); the bearer
// guard asks `cachedBearer` on this thread, which answers from the bearer
// cache in the common case, and the runner otherwise. The store, the runner
// and the upstream client must outlive this object. Flows in progress (consent pages, upstream round trips)
// live in memory only and are lost on restart; issued tokens are not.
class AuthorizationServer final : public QObject {
    Q_OBJECT
public:
    AuthorizationServer(OAuthConfig config, OAuthContext::CachedBearer cachedBearer,
                        const StoreRunner *stores, UpstreamClient *upstream, QObject *parent = nullptr);
    // One store for everything, its statements run inline (tests).
    AuthorizationServer(OAuthConfig config, TokenStore *store, UpstreamClient *upstream,
                        QObject *parent = nullptr);
    ~AuthorizationServer() override;

    // The well-known metadata and /oauth/* routes, for the daemon to install
    // on its HTTP server. They pass when this object is gone.
    [[nodiscard]] QList<HttpRoute> routes();

    // The authenticator for /mcp: a live broker access token for our
    // resource in "Authorization: Bearer", else Unauthorized with the
    // WWW-Authenticate challenge (RFC 6750 §3, RFC 9728 §5.1); a token in the
    // query string is InvalidArgument (OAuth 2.1 §5.1.2).
    [[nodiscard]] Authenticator bearerGuard() const;

    [[nodiscard]] const OAuthConfig &config() const { return m_context.config(); }
    [[nodiscard]] QString issuer() const { return m_context.issuer(); }
    [[nodiscard]] QString resourceMetadataUrl() const { return m_context.resourceMetadataUrl(); }
    [[nodiscard]] int pendingFlows() const;

    // The guard's decision for one request, without HTTP.
    [[nodiscard]] AuthVerdict authenticate(const QHttpServerRequest &request) const;

Q_SIGNALS:
    // A user finished a sign-in: a new grant with fresh upstream tokens.
    void grantCreated(const QString &grantId, const QString &userLogin);
    // The store revoked a grant's broker tokens (a replayed code or refresh
    // token): sessions of the grant should end.
    void grantTokensRevoked(const QString &grantId, const QString &reason);
    // Consent, refused sign-ins and the life of broker tokens, for the audit
    // trail (docs/audit.md); grantCreated and grantTokensRevoked are the rest.
    void audited(const fmb::OAuthEvent &event);

private:
    AuthorizationServer(OAuthConfig config, OAuthContext::CachedBearer cachedBearer,
                        std::unique_ptr<StoreRunner> inlineStores, const StoreRunner *stores,
                        UpstreamClient *upstream, QObject *parent);
    // Declared first: the parts below refer to them and go before them.
    std::unique_ptr<StoreRunner> m_inlineStores; // the one-store constructor's
    OAuthContext m_context;
    std::unique_ptr<BearerGuard> m_guard;
    std::unique_ptr<MetadataClients> m_metadataClients;
    std::unique_ptr<DiscoveryController> m_discovery;
    std::unique_ptr<RegistrationController> m_registration;
    std::unique_ptr<AuthorizeController> m_authorize;
    std::unique_ptr<TokenController> m_token;
    QTimer *m_purgeTimer = nullptr; // child: TokenStore::purgeExpired and expired flows
};

} // namespace fmb
