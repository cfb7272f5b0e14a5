#pragma once

#include <QString>

namespace fmb {

// Something the authorization server did that an operator must answer for:
// the audit trail's OAuth lines (docs/audit.md). Names, ids and reasons
// only, never a token, code or secret.
struct OAuthEvent {
    enum class Kind {
        SignInDenied,   // the user said no, on the consent page or upstream (detail: where)
        SignInFailed,   // a sign-in ended without a grant otherwise (detail: why)
        Consent,        // a user approved a client on the consent page (detail: the scope)
        TokenIssued,    // an authorization code became a token pair
        TokenRefreshed, // a refresh token was rotated into a new pair
        TokenRevoked,   // the client revoked a token (RFC 7009; detail: "access" or "refresh")
    };
    Kind kind = Kind::SignInFailed;
    QString user; // the Forgejo login, where the broker knows it
    QString clientId;
    QString clientName;
    QString grantId;
    QString detail;
};

} // namespace fmb
