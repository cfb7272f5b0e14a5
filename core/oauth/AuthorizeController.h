#pragma once

#include <optional>

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QList>
#include <QPointer>
#include <QString>

#include "FormEncoding.h"
#include "LoginCookie.h"
#include "OAuthController.h"
#include "OAuthHttp.h"

namespace fmb {

class MetadataClients;
class TokenStore;
class UpstreamClient;
struct UpstreamUser;

// The browser's part of a sign-in: /oauth/authorize checks the client's
// request (RFC 6749 §4.1.1, PKCE S256, RFC 8707), /oauth/consent takes the
// user's answer to the consent page (CSRF token bound to a browser cookie),
// and /oauth/callback brings the user back from the upstream sign-in, makes
// the grant and its code, and sends the browser back to the client with
// code, state and iss (RFC 9207). A login cookie lets a remembered user who
// approved a client before skip the consent page.
//
// Flows in progress (consent pages, upstream round trips) live in memory
// only, each at most pendingTtl and maxPending of each kind; they are lost
// on restart. The upstream client and the metadata clients must outlive
// this object or be gone (the upstream client is watched).
class AuthorizeController final : public OAuthController {
    Q_OBJECT
public:
    AuthorizeController(const OAuthContext &context, UpstreamClient *upstream,
                        MetadataClients *metadataClients, QObject *parent = nullptr);

    [[nodiscard]] QList<HttpRoute> routes() override;

    // Consent pages and upstream round trips in flight.
    [[nodiscard]] int pendingFlows() const { return int(m_consents.size() + m_upstreamPending.size()); }
    // Drops expired consent pages and upstream round trips.
    void purgePending();

Q_SIGNALS:
    // A user finished a sign-in: a new grant with fresh upstream tokens.
    void grantCreated(const QString &grantId, const QString &userLogin);

private:
    // A validated authorization request (RFC 6749 §4.1.1 + PKCE + RFC 8707).
    struct AuthRequest : OAuthHttp::ClientRedirect {
        QString clientName;
        bool metadataDocument = false;
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

    void handleAuthorize(const QHttpServerRequest &request, const HttpExchange &http);
    void handleConsent(const QHttpServerRequest &request, const HttpExchange &http);
    void handleCallback(const QHttpServerRequest &request, const HttpExchange &http);

    // /authorize once the client is known.
    void continueAuthorize(const Exchange &exchange, const Form::Fields &fields, const ClientRecord &client);
    void showConsent(const Exchange &exchange, const AuthRequest &auth, const QString &userLogin);
    void startUpstream(const Exchange &exchange, const AuthRequest &auth, bool consentShown,
                       qint64 assumedUserId);
    // What the callback's statements left (storeSignIn, on the store's thread).
    struct SignIn {
        bool consentMissing = false; // another user than the remembered one, without consent
        Result<GrantRecord> grant = Error{ErrorCode::Io, {}, {}};
        Result<QByteArray> code = Error{ErrorCode::Io, {}, {}};
    };
    [[nodiscard]] static SignIn storeSignIn(TokenStore &store, bool checkConsent, const GrantRecord &grant,
                                            const UpstreamTokens &tokens, AuthCodeRequest codeRequest);
    void answerCallback(const Exchange &exchange, const UpstreamPending &pending, const UpstreamUser &user,
                        const SignIn &signIn);
    void finishCallback(const Exchange &exchange, const UpstreamPending &pending,
                        const UpstreamTokens &tokens, const UpstreamUser &user);
    // The flow `key` out of `table`, once (after dropping expired flows).
    template <typename Flow>
    [[nodiscard]] std::optional<Flow> take(QHash<QString, Flow> &table, const QString &key);
    // Back to the client with an OAuth error.
    void redirectError(const Exchange &exchange, const AuthRequest &auth, const QByteArray &error,
                       const QString &description, Http::HeaderList headers = {}) const;
    // A sign-in of `auth` that ends without a grant: counted (denied by the
    // user or failed) and audited with the reason; the caller answers.
    void refuseSignIn(const AuthRequest &auth, bool denied, const QString &reason, const QString &user = {});
    // The scope to grant for a requested one: the supported scopes it names,
    // else all supported scopes (RFC 6749 §3.3); never null.
    [[nodiscard]] QString grantedScope(const QString &requested) const;

    QPointer<UpstreamClient> m_upstreamClient;
    MetadataClients *m_metadataClients = nullptr;
    std::optional<LoginCookie> m_loginCookie;
    QHash<QString, ConsentRequest> m_consents;         // by request id
    QHash<QString, UpstreamPending> m_upstreamPending; // by upstream state
};

} // namespace fmb
