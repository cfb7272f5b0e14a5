#pragma once

#include <functional>
#include <optional>

#include <QDateTime>
#include <QString>
#include <QStringList>

#include "OAuthConfig.h"
#include "OAuthError.h"
#include "base/Result.h"
#include "store/StoreRecords.h"
#include "store/TokenHash.h"

namespace fmb {

class StoreRunner;
class TokenStore;

// What every part of the authorization server shares: the configuration
// (normalised: no trailing slash on the issuer, the resource filled in),
// the token store, the clock, and the checks more than one endpoint makes.
//
// The store (issue 14): `stores` runs every statement off this thread
// (StoreRunner) and must outlive this object; `cachedBearer` answers the
// bearer guard on this thread from memory (the bearer cache), or nothing
// when the store must be asked. Everything but the runner is constant after
// construction, so work on the store's thread may read it.
class OAuthContext final {
public:
    // What TokenStore::cachedAccessToken answers, callable on this thread.
    using CachedBearer = std::function<std::optional<TokenRecord>(const TokenHash &hash)>;

    OAuthContext(OAuthConfig config, CachedBearer cachedBearer, const StoreRunner *stores);

    [[nodiscard]] const OAuthConfig &config() const { return m_config; }
    [[nodiscard]] const StoreRunner &stores() const { return *m_stores; }
    [[nodiscard]] std::optional<TokenRecord> cachedAccessToken(const TokenHash &hash) const
    {
        return m_cachedBearer(hash);
    }
    [[nodiscard]] QString issuer() const { return m_config.publicUrl; }
    // The issuer's URL of one of our endpoints ("/oauth/token").
    [[nodiscard]] QString endpoint(const char *path) const;
    // RFC 9728 §3.1: the well-known segment between host and the resource's path.
    [[nodiscard]] QString resourceMetadataUrl() const;
    [[nodiscard]] QDateTime now() const;

    // A registered client; a store failure (anything but NotFound) is logged.
    [[nodiscard]] static Result<ClientRecord> findClient(TokenStore &store, const QString &clientId);
    // The RFC 8707 resource parameters of a request: at most one, and ours
    // when there is one; else invalid_target.
    [[nodiscard]] Result<void, OAuthError> checkResource(const QStringList &requested) const;
    // Seconds until the oldest pending client is purged (Retry-After at the
    // cap, issue 11), or 0 below the cap: registration and metadata-document
    // clients both count.
    [[nodiscard]] qint64 pendingClientsFull(TokenStore &store) const;

private:
    OAuthConfig m_config;
    CachedBearer m_cachedBearer;
    const StoreRunner *m_stores = nullptr;
};

// Whether two secrets (tokens, hashes) are equal, in constant time; an empty one never matches.
[[nodiscard]] bool equalSecrets(QByteArrayView a, QByteArrayView b);

} // namespace fmb
