#pragma once

#include <optional>

#include "FormEncoding.h"
#include "OAuthController.h"
#include "base/Result.h"
#include "store/StoreRecords.h"

namespace fmb {

class TokenStore;

// The client's side of the tokens: /oauth/token (authorization_code with
// PKCE, refresh_token with rotation; OAuth 2.1 §4.1.3, §4.3) and RFC 7009
// revocation at /oauth/revoke. Clients are public (client_id only) or
// confidential (client_secret_post or client_secret_basic, kept hashed). A
// replayed code or refresh token revokes what it gave out.
class TokenController final : public OAuthController {
    Q_OBJECT
public:
    explicit TokenController(const OAuthContext &context, QObject *parent = nullptr);

    [[nodiscard]] QList<HttpRoute> routes() override;

Q_SIGNALS:
    // The store revoked a grant's broker tokens (a replayed code or refresh
    // token): sessions of the grant should end.
    void grantTokensRevoked(const QString &grantId, const QString &reason);

private:
    // What a request's work on the store's thread leaves to be signalled
    // here, on the controller's thread.
    struct Effects {
        QString revokedGrantId; // grantTokensRevoked, when not empty
        QString revokedReason;
        std::optional<OAuthEvent> audit;
        void revoked(const QString &grantId, const QString &reason)
        {
            revokedGrantId = grantId;
            revokedReason = reason;
        }
    };
    template <typename T>
    struct Outcome : Effects {
        Result<T, OAuthError> result = OAuthError{500, "server_error", {}};
    };

    void handleToken(const QHttpServerRequest &request, const HttpExchange &exchange);
    void handleRevoke(const QHttpServerRequest &request, const HttpExchange &exchange);

    // The client calling the token or revocation endpoint (RFC 6749 §2.3.1,
    // §3.2.1): a public client sends client_id and nothing else, a
    // confidential one the secret in the method it registered.
    // These four run on the store's thread: they read only the (constant)
    // context and leave their signals in `effects`.
    [[nodiscard]] Result<ClientRecord, OAuthError>
    authenticateClient(TokenStore &store, const QByteArray &authorization, const Form::Fields &fields) const;
    [[nodiscard]] Result<IssuedTokens, OAuthError> exchangeCode(TokenStore &store, const Form::Fields &fields,
                                                                const ClientRecord &client,
                                                                Effects &effects) const;
    [[nodiscard]] Result<IssuedTokens, OAuthError> refreshTokens(TokenStore &store,
                                                                 const Form::Fields &fields,
                                                                 const ClientRecord &client,
                                                                 Effects &effects) const;
    // RFC 7009: true when a token was revoked, false for an unknown one.
    [[nodiscard]] Result<bool, OAuthError> revokeToken(TokenStore &store, const QString &token,
                                                       const ClientRecord &client, Effects &effects) const;

    void answerTokens(const HttpExchange &exchange, const Result<IssuedTokens, OAuthError> &issued);
    void publish(const Effects &effects);
    [[nodiscard]] static OAuthEvent tokenEvent(OAuthEvent::Kind kind, const ClientRecord &client,
                                               const QString &grantId, const QString &user,
                                               const QString &detail = {});
};

} // namespace fmb
