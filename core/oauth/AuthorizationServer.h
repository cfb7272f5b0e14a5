#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QHttpServerRequest>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>

#include "FormEncoding.h"
#include "HttpCaching.h"
#include "LoginCookie.h"
#include "PeerRateLimiter.h"
#include "base/Result.h"
#include "base/TokenBucket.h"
#include "http/HttpHeaders.h"
#include "http/HttpRoutes.h"
#include "store/StoreRecords.h"

class QTimer;

namespace fmb {

class MetadataFetcher;
class TokenStore;
class UpstreamClient;
struct UpstreamUser;

struct OAuthConfig {
    QString publicUrl; // external base URL without a trailing slash: the issuer, e.g. https://mcp.example.org
    QString resource;  // RFC 8707 / RFC 9728 resource; empty: publicUrl + "/mcp"
    std::chrono::seconds accessTokenTtl{3600};
    std::chrono::seconds refreshTokenTtl{30 * 24 * 3600};
    std::chrono::seconds codeTtl{60};
    std::chrono::seconds pendingTtl{600};         // consent page and upstream round trip, each
    std::chrono::seconds loginTtl{7 * 24 * 3600}; // the __Host-fmb_login cookie
    std::chrono::seconds purgeInterval{3600};     // TokenStore::purgeExpired; 0 = never
    // scopes_supported, the 401 challenge's scope, and what a request gets
    // that names none of them (RFC 6749 §3.3: unknown scopes are ignored).
    QStringList scopes{QStringLiteral("mcp")};
    bool allowPrivateMetadataHosts = false; // tests only: CIMD from loopback, over http
    std::chrono::milliseconds metadataTimeout{5000};
    qint64 maxMetadataBytes = 64 * 1024;
    qint64 maxRequestBytes = 64 * 1024;               // form and JSON bodies of the OAuth endpoints
    int maxPending = 10000;                           // consent pages and upstream round trips in flight
    QString upstreamName = QStringLiteral("Forgejo"); // shown on the consent page
    QString stateDir;                                 // holds login-cookie.key; empty: a key in memory
    // Issue 11: what unauthenticated callers of /oauth/register may cost.
    int registerRatePerMinute = 20;              // per client address (IPv6: per /64); 0 = no limit
    int maxPendingClients = 1000;                // registered, never authorized; 0 = no cap
    std::chrono::seconds pendingClientTtl{3600}; // then such a client is purged
    qint64 maxRegistrationBytes = 8 * 1024;      // the registration JSON
    CacheBounds metadataCache;                   // how long a fetched client metadata document is reused
};

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
// Broker tokens are opaque and kept hashed by the TokenStore; the client's
// token never goes upstream. The store and the upstream client must outlive
// this object. Flows in progress (consent pages, upstream round trips) live
// in memory only and are lost on restart; issued tokens are not.
class AuthorizationServer final : public QObject {
    Q_OBJECT
public:
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

    [[nodiscard]] const OAuthConfig &config() const { return m_config; }
    [[nodiscard]] QString issuer() const { return m_config.publicUrl; }
    [[nodiscard]] QString resourceMetadataUrl() const;
    [[nodiscard]] int pendingFlows() const { return int(m_consents.size() + m_upstreamPending.size()); }

    // The guard's decision for one request, without HTTP.
    [[nodiscard]] Result<SessionOwner, AuthFailure> authenticate(const QHttpServerRequest &request) const;

Q_SIGNALS:
    // A user finished a sign-in: a new grant with fresh upstream tokens.
    void grantCreated(const QString &grantId, const QString &userLogin);
    // The store revoked a grant's broker tokens (a replayed code or refresh
    // token): sessions of the grant should end.
    void grantTokensRevoked(const QString &grantId, const QString &reason);

private:
    // A validated authorization request (RFC 6749 §4.1.1 + PKCE + RFC 8707).
    struct AuthRequest {
        QString clientId;
        QString clientName;
        bool metadataDocument = false;
        QString redirectUri;
        QString state; // the client's; null when it sent none
        QString codeChallenge;
        QString scope;
        QString resource;
    };
    // A consent page waiting for its POST.
    struct ConsentRequest {
        AuthRequest auth;
        QByteArray browser; // the __Host-fmb_browser cookie it was shown to
        QByteArray csrfToken;
        QDateTime expiresAt;
    };
    // A round trip to the upstream authorize endpoint, keyed by its state.
    struct UpstreamPending {
        AuthRequest auth;
        QByteArray browser;
        QByteArray verifier;       // our PKCE verifier upstream
        bool consentShown = false; // false: skipped for a remembered user
        qint64 assumedUserId = 0;  // that user
        QDateTime expiresAt;
    };
    // What a handler needs after an asynchronous step; the request is gone by then.
    struct Exchange {
        HttpExchange http;
        QList<QByteArray> cookies; // Cookie request headers
    };
    struct OAuthError {
        OAuthError() = default;
        OAuthError(int status, QByteArray error, QString description, Http::HeaderList headers = {})
            : status(status)
            , error(std::move(error))
            , description(std::move(description))
            , headers(std::move(headers))
        {}
        int status = 400;
        QByteArray error;
        QString description;
        Http::HeaderList headers; // WWW-Authenticate: Basic after failed HTTP Basic
    };

    using Handler = void (AuthorizationServer::*)(const QHttpServerRequest &, const HttpExchange &);

    [[nodiscard]] HttpRoute route(const QString &path, Handler handler);

    void handleProtectedResourceMetadata(const QHttpServerRequest &request, const HttpExchange &http);
    void handleServerMetadata(const QHttpServerRequest &request, const HttpExchange &http);
    void handleRegister(const QHttpServerRequest &request, const HttpExchange &http);
    // The registration limits (issue 11): per-address rate (429), body and
    // string sizes (413 / 400), pending-client cap (503); answers and returns
    // false when one is hit.
    [[nodiscard]] bool admitRegistration(const QHttpServerRequest &request, const Exchange &exchange);
    // Seconds until the oldest pending client is purged (Retry-After at the cap), or 0 below the cap.
    [[nodiscard]] qint64 pendingClientsFull() const;
    void purgePendingClients();
    void handleAuthorize(const QHttpServerRequest &request, const HttpExchange &http);
    void handleConsent(const QHttpServerRequest &request, const HttpExchange &http);
    void handleCallback(const QHttpServerRequest &request, const HttpExchange &http);
    void handleToken(const QHttpServerRequest &request, const HttpExchange &http);
    void handleRevoke(const QHttpServerRequest &request, const HttpExchange &http);

    // /authorize once the client is known.
    void continueAuthorize(const Exchange &exchange, const Form::Fields &fields, const ClientRecord &client);
    void showConsent(const Exchange &exchange, const AuthRequest &auth, const QString &userLogin);
    void startUpstream(const Exchange &exchange, const AuthRequest &auth, bool consentShown,
                       qint64 assumedUserId);
    void finishCallback(const Exchange &exchange, const UpstreamPending &pending,
                        const UpstreamTokens &tokens, const UpstreamUser &user);
    // A CIMD client, fetched (or from the cache) and kept in the store.
    void resolveMetadataClient(const QString &clientId, std::function<void(Result<ClientRecord>)> done);

    // The client calling the token or revocation endpoint (RFC 6749 §2.3.1,
    // §3.2.1): a public client sends client_id and nothing else, a
    // confidential one the secret in the method it registered.
    [[nodiscard]] Result<ClientRecord> authenticateClient(const QHttpServerRequest &request,
                                                          const Form::Fields &fields,
                                                          OAuthError *error) const;
    [[nodiscard]] Result<IssuedTokens> exchangeCode(const Form::Fields &fields, const ClientRecord &client,
                                                    OAuthError *error);
    [[nodiscard]] Result<IssuedTokens> refreshTokens(const Form::Fields &fields, const ClientRecord &client,
                                                     OAuthError *error);

    [[nodiscard]] QByteArray protectedResourceMetadata() const;
    [[nodiscard]] QByteArray serverMetadata() const;
    [[nodiscard]] QString endpoint(const char *path) const;
    [[nodiscard]] QByteArray challenge(const QString &error, const QString &description) const;
    // The scope to grant for a requested one: the supported scopes it names,
    // else all supported scopes (RFC 6749 §3.3); never null.
    [[nodiscard]] QString grantedScope(const QString &requested) const;
    [[nodiscard]] QDateTime now() const;
    void purgePending();

    // Responses. Each checks the socket; `close` honours "Connection: close".
    static void send(const Exchange &exchange, int status, Http::HeaderList headers, QByteArrayView body);
    void sendJson(const Exchange &exchange, int status, const QByteArray &json,
                  Http::HeaderList headers = {}) const;
    void sendOAuthError(const Exchange &exchange, const OAuthError &error) const;
    void sendPage(const Exchange &exchange, int status, const QByteArray &html,
                  Http::HeaderList headers = {}) const;
    void sendErrorPage(const Exchange &exchange, int status, const QString &title,
                       const QString &message) const;
    void redirect(const Exchange &exchange, const QString &location, Http::HeaderList headers = {}) const;
    // Back to the client with an OAuth error (RFC 6749 §4.1.2.1) and iss.
    void redirectError(const Exchange &exchange, const AuthRequest &auth, const QByteArray &error,
                       const QString &description, Http::HeaderList headers = {}) const;
    // Answers OPTIONS (CORS preflight, when `cors`) and 405; true when the
    // handler should go on.
    [[nodiscard]] bool methodAllowed(const QHttpServerRequest &request, const HttpExchange &http,
                                     QHttpServerRequest::Methods methods, const QByteArray &allow,
                                     bool cors) const;

    OAuthConfig m_config;
    TokenStore *m_store = nullptr;
    QPointer<UpstreamClient> m_upstreamClient;
    MetadataFetcher *m_fetcher = nullptr; // child
    QTimer *m_purgeTimer = nullptr;       // child
    std::optional<LoginCookie> m_loginCookie;
    QHash<QString, ConsentRequest> m_consents;         // by request id
    QHash<QString, UpstreamPending> m_upstreamPending; // by upstream state
    QHash<QString, QDateTime> m_metadataFresh;         // CIMD client id -> until when its document is fresh
    PeerRateLimiter m_registerLimiter;
    TokenBucket m_refusalLog{5, 0.1};       // refused registrations logged: 5 at once, then one per 10 s
    QTimer *m_pendingClientTimer = nullptr; // child
};

} // namespace fmb
