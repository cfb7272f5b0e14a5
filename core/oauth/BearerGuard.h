#pragma once

#include <memory>

#include <QByteArray>
#include <QHttpServerRequest>
#include <QString>
#include <QStringList>

#include "OAuthContext.h"
#include "base/Result.h"
#include "base/SessionOwner.h"
#include "http/HttpRoutes.h"
#include "store/StoreRecords.h"
#include "store/TokenHash.h"

namespace fmb {

// The bearer guard of /mcp: a live broker access token for our resource in
// "Authorization: Bearer", else Unauthorized with the WWW-Authenticate
// challenge (RFC 6750 §3, RFC 9728 §5.1); a token in the query string is
// InvalidArgument (OAuth 2.1 §5.1.2); a store failure is Unavailable.
//
// A token the bearer cache holds fresh (the common case) is answered now;
// any other is looked up on the store thread and answered later (issue 14).
class BearerGuard final {
public:
    explicit BearerGuard(const OAuthContext &context);

    [[nodiscard]] AuthVerdict authenticate(const QHttpServerRequest &request) const;
    // The WWW-Authenticate value: error and description when given, always
    // resource_metadata and the supported scopes.
    [[nodiscard]] QByteArray challenge(const QString &error, const QString &description) const;

private:
    // What an answer needs from the configuration, copied: a later answer
    // may come after the authorization server is gone.
    struct Facts {
        QString resource;
        QString resourceMetadataUrl;
        QStringList scopes;
    };
    [[nodiscard]] static QByteArray challenge(const Facts &facts, const QString &error,
                                              const QString &description);
    // The caller the store's answer about token `hash` names, or why there is none.
    [[nodiscard]] static AuthResult answer(const Facts &facts, const TokenHash &hash,
                                           const Result<TokenRecord> &record);

    const OAuthContext &m_context;
    std::shared_ptr<const Facts> m_facts;
};

} // namespace fmb
