#pragma once

#include "FormEncoding.h"
#include "OAuthController.h"
#include "base/Result.h"
#include "store/StoreRecords.h"

namespace fmb {

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
    void handleToken(const QHttpServerRequest &request, const HttpExchange &exchange);
    void handleRevoke(const QHttpServerRequest &request, const HttpExchange &exchange);

    // The client calling the token or revocation endpoint (RFC 6749 §2.3.1,
    // §3.2.1): a public client sends client_id and nothing else, a
    // confidential one the secret in the method it registered.
    [[nodiscard]] Result<ClientRecord, OAuthError> authenticateClient(const QHttpServerRequest &request,
                                                                      const Form::Fields &fields) const;
    [[nodiscard]] Result<IssuedTokens, OAuthError> exchangeCode(const Form::Fields &fields,
                                                                const ClientRecord &client);
    [[nodiscard]] Result<IssuedTokens, OAuthError> refreshTokens(const Form::Fields &fields,
                                                                 const ClientRecord &client);
    void auditTokens(OAuthEvent::Kind kind, const ClientRecord &client, const QString &grantId,
                     const QString &user, const QString &detail = {});
};

} // namespace fmb
