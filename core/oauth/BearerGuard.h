#pragma once

#include <QByteArray>
#include <QHttpServerRequest>
#include <QString>

#include "OAuthContext.h"
#include "base/Result.h"
#include "base/SessionOwner.h"
#include "http/HttpRoutes.h"

namespace fmb {

// The bearer guard of /mcp: a live broker access token for our resource in
// "Authorization: Bearer", else Unauthorized with the WWW-Authenticate
// challenge (RFC 6750 §3, RFC 9728 §5.1); a token in the query string is
// InvalidArgument (OAuth 2.1 §5.1.2); a store failure is Unavailable.
class BearerGuard final {
public:
    explicit BearerGuard(const OAuthContext &context);

    [[nodiscard]] Result<SessionOwner, AuthFailure> authenticate(const QHttpServerRequest &request) const;
    // The WWW-Authenticate value: error and description when given, always
    // resource_metadata and the supported scopes.
    [[nodiscard]] QByteArray challenge(const QString &error, const QString &description) const;

private:
    const OAuthContext &m_context;
};

} // namespace fmb
