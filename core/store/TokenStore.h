#pragma once

#include <functional>
#include <optional>

#include <QDateTime>
#include <QList>
#include <QString>

#include "base/Result.h"
#include "store/StoreRecords.h"
#include "store/TokenHash.h"

namespace fmb {

// The broker's OAuth state: registered clients, grants with their upstream
// Forgejo tokens, broker tokens and authorization codes, and per-user
// consent. What the authorization server, the bearer guard and the token
// rotator use; SqliteTokenStore is the implementation for one broker (a
// PostgreSQL one for several brokers sharing a database comes next: see
// docs/store.md for what it does differently).
//
// Secrets. Broker tokens, authorization codes and client secrets are kept
// only as SHA-256 hashes (TokenHash): the plain values are returned once, by
// the call that creates them, and never again. Upstream tokens are kept
// sealed (AES-256-GCM, bound to their grant and field) and are returned in
// plain text only by upstreamTokens(). Error subjects name tokens by
// fingerprint only, never by value.
//
// Atomicity. A call that writes commits whole or not at all. The calls that
// read before they write (registerClient, createGrant, saveUpstreamTokens,
// consumeAuthCode, issueTokenPair, rotateRefreshToken, revokeToken, revokeUser,
// recordConsent, purgeExpired) take the write lock before the read, so two
// requests (or two brokers) cannot both spend one code or one refresh
// token. Nothing spans two calls.
//
// Errors: InvalidArgument for bad input (what needs no lookup, such as a
// missing expiry, is checked first, even on a closed store). Unavailable
// when the store is not open or another writer held it too long. Io for
// any other failure of the database itself. Unauthorized for an unknown,
// expired, revoked or wrong-client credential (OAuth's invalid_grant /
// invalid_token). Conflict when a client id is taken, or when a spent
// authorization code or a rotated refresh token comes back, after the
// store has revoked what it protects (the subject is then the grant id).
// NotFound for unknown clients, grants and consents. Forbidden for another
// client's token.
//
// Times are UTC with millisecond precision; "now" is the implementation's
// clock.
class TokenStore {
public:
    virtual ~TokenStore();

    [[nodiscard]] virtual bool isOpen() const = 0;

    // Clients. registerClient sets `created`; Conflict when the id is taken.
    // deleteClient also removes its grants, tokens, codes and consents.
    [[nodiscard]] virtual Result<void> registerClient(const ClientRecord &client) = 0;
    [[nodiscard]] virtual Result<void> updateClient(const ClientRecord &client) = 0;
    [[nodiscard]] virtual Result<ClientRecord> findClient(const QString &clientId) const = 0;
    [[nodiscard]] virtual Result<void> deleteClient(const QString &clientId) = 0;
    // Clients that never completed an authorization (no grant was ever
    // created for them), and the purge of those registered before `before`.
    [[nodiscard]] virtual Result<PendingClients> pendingClients() const = 0;
    [[nodiscard]] virtual Result<int> purgePendingClients(const QDateTime &before) = 0;

    // Grants. createGrant ignores grant.grantId and grant.created and returns
    // the stored record with both set. The upstream access token is required.
    // A grant is revoked (GrantRecord::revoked) once a replay or RFC 7009
    // revocation leaves it without a live refresh token or code: its
    // upstream tokens are wiped then, and grantsForUser and
    // grantsExpiringBefore no longer list it; findGrant still does.
    [[nodiscard]] virtual Result<GrantRecord> createGrant(const GrantRecord &grant,
                                                          const UpstreamTokens &upstream) = 0;
    [[nodiscard]] virtual Result<GrantRecord> findGrant(const QString &grantId) const = 0;
    [[nodiscard]] virtual Result<QList<GrantRecord>> grantsForUser(qint64 userId) const = 0;
    // Grants whose upstream access token expires before `when`, soonest
    // first: the token rotator's work list.
    [[nodiscard]] virtual Result<QList<GrantRecord>> grantsExpiringBefore(const QDateTime &when) const = 0;
    // Decrypts the grant's upstream tokens; Unauthorized for a revoked grant.
    [[nodiscard]] virtual Result<UpstreamTokens> upstreamTokens(const QString &grantId) const = 0;
    // Replaces the upstream tokens in one transaction. An empty refresh token
    // keeps the stored one (RFC 6749 §6: the server may not issue a new one).
    // Unauthorized for a revoked grant: it never gets tokens again.
    [[nodiscard]] virtual Result<void> saveUpstreamTokens(const QString &grantId,
                                                          const UpstreamTokens &tokens) = 0;
    // Deletes the grant with its upstream tokens, broker tokens and codes.
    [[nodiscard]] virtual Result<void> revokeGrant(const QString &grantId) = 0;
    // Everything a user (by Forgejo login) holds, in one transaction: every
    // broker token of their grants is revoked, unused codes are spent, each
    // grant is marked revoked with its upstream tokens wiped, and their
    // consents are dropped, so the next request with an old bearer, refresh
    // token or code fails and the user must sign in (and consent) again. The
    // grant rows stay until their tokens expire, so that a replay is still
    // recognised. An unknown user gives zero counts.
    [[nodiscard]] virtual Result<UserRevocation> revokeUser(const QString &userLogin) = 0;

    // Authorization codes. createAuthCode returns the code in plain text, once.
    // consumeAuthCode marks the code used and returns it exactly once; the
    // caller then checks client_id, redirect_uri and PKCE. A second consume
    // of the same code revokes every broker token of the code's grant
    // (OAuth 2.1 §4.1.3) and returns Conflict with the grant id as subject.
    [[nodiscard]] virtual Result<QByteArray> createAuthCode(const AuthCodeRequest &request) = 0;
    [[nodiscard]] virtual Result<AuthCodeRecord> consumeAuthCode(const TokenHash &codeHash) = 0;

    // Broker tokens. issueTokenPair starts a new rotation family.
    [[nodiscard]] virtual Result<IssuedTokens> issueTokenPair(const QString &grantId,
                                                              const TokenRequest &request) = 0;
    // A live access token: known, of kind Access, not revoked, not expired.
    [[nodiscard]] virtual Result<TokenRecord> findAccessToken(const TokenHash &hash) const = 0;
    // What findAccessToken answers without a statement (from the bearer
    // cache), or nothing when it would have to ask the database: the bearer
    // guard then asks on the store thread (issue 14). The default (a store
    // without a cache) always has to ask.
    [[nodiscard]] virtual std::optional<TokenRecord> cachedAccessToken(const TokenHash &hash) const;
    // Asks the database about a token the store answers from memory (its
    // bearer cache), and keeps or drops it there by the answer. The default
    // (a store without a cache) does nothing.
    virtual void revalidateAccessToken(const TokenHash &hash);
    // Spends a refresh token of `clientId` and issues the next pair of its
    // family. A refresh token that was already rotated is a replay: the
    // whole family is revoked and Conflict returned (OAuth 2.1 §4.3.1).
    // The scope may narrow, never widen; the resource may not change.
    [[nodiscard]] virtual Result<IssuedTokens> rotateRefreshToken(const TokenHash &refreshHash,
                                                                  const QString &clientId,
                                                                  const TokenRequest &request) = 0;
    // RFC 7009: revoking a refresh token revokes its family; an access token
    // only itself. The revoked token's record (kind, grant, user), NotFound
    // for an unknown token, Forbidden for another client's.
    [[nodiscard]] virtual Result<TokenRecord> revokeToken(const TokenHash &hash, const QString &clientId) = 0;

    // Consent: the user approved this client for this scope. hasConsent is
    // true when a recorded approval covers every scope token asked for.
    [[nodiscard]] virtual Result<void> recordConsent(qint64 userId, const QString &clientId,
                                                     const QString &scope) = 0;
    [[nodiscard]] virtual Result<bool> hasConsent(qint64 userId, const QString &clientId,
                                                  const QString &scope) const = 0;
    [[nodiscard]] virtual Result<void> revokeConsent(qint64 userId, const QString &clientId) = 0;

    // Deletes expired tokens and codes (used or not), then revoked grants
    // with no token left. Rotated and revoked tokens stay until they expire
    // so that a replay is still recognised.
    [[nodiscard]] virtual Result<PurgeCounts> purgeExpired() = 0;

    // Refreshing a user's upstream tokens, once across every broker sharing
    // the store (issue 14: Forgejo spends a refresh token on use). A broker
    // takes the user's refresh lock, re-reads the stored tokens (another
    // broker may have refreshed meanwhile), refreshes, saves, announces, and
    // unlocks. tryLockUpstreamRefresh never waits: false when another broker
    // holds the lock. The lock dies with the store's connection (a broker
    // that dies mid-refresh frees it). The defaults are for one broker: the
    // lock is always free and nobody else listens.
    [[nodiscard]] virtual Result<bool> tryLockUpstreamRefresh(qint64 userId);
    virtual void unlockUpstreamRefresh(qint64 userId);
    // Tells the other brokers that the user's upstream tokens changed
    // (after the save committed).
    virtual void announceUpstreamTokens(qint64 userId);
    // Called, on the store's thread, with the user id of every other
    // broker's announcement.
    virtual void setUpstreamTokensListener(std::function<void(qint64 userId)> listener);

protected:
    TokenStore() = default;
    TokenStore(const TokenStore &) = delete;
    TokenStore &operator=(const TokenStore &) = delete;
};

} // namespace fmb
