#pragma once

#include <functional>
#include <optional>

#include <QDateTime>
#include <QList>
#include <QSqlDatabase>
#include <QString>
#include <QVariantList>

#include "base/Result.h"
#include "store/SecretBox.h"
#include "store/Sql.h"
#include "store/StoreRecords.h"
#include "store/TokenHash.h"

namespace fmb {

// The broker's OAuth state in one SQLite file under the state directory:
// registered clients, grants (with the upstream Forgejo tokens sealed by
// SecretBox), broker tokens and authorization codes (kept only as SHA-256
// hashes), and per-user consent. Survives restarts: open() on the same state
// directory sees everything again.
//
// The state directory is made 0700, the database file 0600 (SQLite gives its
// -wal and -shm files the same mode), and the key file is created 0600 or
// refused when wider. Each TokenStore owns its own uniquely named QSqlDatabase
// connection; use it from the thread that called open().
//
// Errors: Unauthorized for an unknown, expired, revoked or wrong-client
// credential (OAuth's invalid_grant / invalid_token); Conflict when a spent
// authorization code or a rotated refresh token comes back, after the store
// has revoked what it protects (the subject is then the grant id); NotFound
// for unknown clients and grants; InvalidArgument for bad input; Io or
// Unavailable for the database itself. Error subjects and log lines name
// tokens by fingerprint only.
class TokenStore final {
public:
    TokenStore();
    ~TokenStore();
    TokenStore(const TokenStore &) = delete;
    TokenStore &operator=(const TokenStore &) = delete;

    static QString databaseFileName() { return QStringLiteral("broker.sqlite3"); }
    static QString keyFileName() { return QStringLiteral("upstream-tokens.key"); }

    // Creates the state directory, key file and database as needed, then
    // migrates the schema. Refuses a key file that does not open the values
    // this database already holds, and a missing key file next to an existing
    // database (it does not write a new key then).
    [[nodiscard]] Result<void> open(const QString &stateDir);
    void close();
    [[nodiscard]] bool isOpen() const { return m_box.has_value(); }
    [[nodiscard]] QString databasePath() const { return m_databasePath; }
    [[nodiscard]] int schemaVersion() const { return m_schemaVersion; }

    // What "now" is for expiry checks and timestamps; tests move it.
    void setClock(std::function<QDateTime()> clock);

    // Clients. registerClient sets `created`; Conflict when the id is taken.
    // deleteClient also removes its grants, tokens, codes and consents.
    [[nodiscard]] Result<void> registerClient(const ClientRecord &client);
    [[nodiscard]] Result<void> updateClient(const ClientRecord &client);
    [[nodiscard]] Result<ClientRecord> findClient(const QString &clientId) const;
    [[nodiscard]] Result<void> deleteClient(const QString &clientId);
    // Clients that never completed an authorization (no grant was ever
    // created for them), and the purge of those registered before `before`.
    [[nodiscard]] Result<PendingClients> pendingClients() const;
    [[nodiscard]] Result<int> purgePendingClients(const QDateTime &before);

    // Grants. createGrant ignores grant.grantId and grant.created and returns
    // the stored record with both set. The upstream access token is required.
    // A grant is revoked (GrantRecord::revoked) once a replay or RFC 7009
    // revocation leaves it without a live refresh token or code: its
    // upstream tokens are wiped then, and grantsForUser and
    // grantsExpiringBefore no longer list it; findGrant still does.
    [[nodiscard]] Result<GrantRecord> createGrant(const GrantRecord &grant, const UpstreamTokens &upstream);
    [[nodiscard]] Result<GrantRecord> findGrant(const QString &grantId) const;
    [[nodiscard]] Result<QList<GrantRecord>> grantsForUser(qint64 userId) const;
    // Grants whose upstream access token expires before `when`, soonest
    // first: the token rotator's work list.
    [[nodiscard]] Result<QList<GrantRecord>> grantsExpiringBefore(const QDateTime &when) const;
    // Decrypts the grant's upstream tokens; Unauthorized for a revoked grant.
    [[nodiscard]] Result<UpstreamTokens> upstreamTokens(const QString &grantId) const;
    // Replaces the upstream tokens in one transaction. An empty refresh token
    // keeps the stored one (RFC 6749 §6: the server may not issue a new one).
    // Unauthorized for a revoked grant: it never gets tokens again.
    [[nodiscard]] Result<void> saveUpstreamTokens(const QString &grantId, const UpstreamTokens &tokens);
    // Deletes the grant with its upstream tokens, broker tokens and codes.
    [[nodiscard]] Result<void> revokeGrant(const QString &grantId);

    // Authorization codes. createAuthCode returns the code in plain text, once.
    // consumeAuthCode marks the code used and returns it exactly once; the
    // caller then checks client_id, redirect_uri and PKCE. A second consume
    // of the same code revokes every broker token of the code's grant
    // (OAuth 2.1 §4.1.3) and returns Conflict with the grant id as subject.
    [[nodiscard]] Result<QByteArray> createAuthCode(const AuthCodeRequest &request);
    [[nodiscard]] Result<AuthCodeRecord> consumeAuthCode(const TokenHash &codeHash);

    // Broker tokens. issueTokenPair starts a new rotation family.
    [[nodiscard]] Result<IssuedTokens> issueTokenPair(const QString &grantId, const TokenRequest &request);
    // A live access token: known, of kind Access, not revoked, not expired.
    [[nodiscard]] Result<TokenRecord> findAccessToken(const TokenHash &hash) const;
    // Spends a refresh token of `clientId` and issues the next pair of its
    // family. A refresh token that was already rotated is a replay: the
    // whole family is revoked and Conflict returned (OAuth 2.1 §4.3.1).
    // The scope may narrow, never widen; the resource may not change.
    [[nodiscard]] Result<IssuedTokens>
    rotateRefreshToken(const TokenHash &refreshHash, const QString &clientId, const TokenRequest &request);
    // RFC 7009: revoking a refresh token revokes its family; an access token
    // only itself. NotFound for an unknown token, Forbidden for another
    // client's.
    [[nodiscard]] Result<void> revokeToken(const TokenHash &hash, const QString &clientId);

    // Consent: the user approved this client for this scope. hasConsent is
    // true when a recorded approval covers every scope token asked for.
    [[nodiscard]] Result<void> recordConsent(qint64 userId, const QString &clientId, const QString &scope);
    [[nodiscard]] Result<bool> hasConsent(qint64 userId, const QString &clientId, const QString &scope) const;
    [[nodiscard]] Result<void> revokeConsent(qint64 userId, const QString &clientId);

    // Deletes expired tokens and codes (used or not), then revoked grants
    // with no token left. Rotated and revoked tokens stay until they expire
    // so that a replay is still recognised.
    [[nodiscard]] Result<PurgeCounts> purgeExpired();

private:
    [[nodiscard]] QDateTime now() const;
    // Every statement goes through run(): it checks that the store is open
    // (Unavailable otherwise), prepares, binds and runs. runNamed() binds
    // `:name` placeholders; begin() opens a write transaction and box() hands
    // out the key, both also only while open.
    [[nodiscard]] Result<QSqlQuery> run(const QString &sql, const QVariantList &values = {}) const;
    [[nodiscard]] Result<QSqlQuery> runNamed(const QString &sql, const SqlNamedValues &values) const;
    [[nodiscard]] Result<SqlTransaction> begin();
    [[nodiscard]] Result<const SecretBox *> box() const;
    [[nodiscard]] Result<void> configureConnection();
    [[nodiscard]] Result<void> checkKey();
    [[nodiscard]] Result<bool> clientExists(const QString &clientId) const;
    [[nodiscard]] Result<QList<GrantRecord>> selectGrants(const QString &sql,
                                                          const QVariantList &values) const;
    // `rotated`, when given, tells whether a refresh token was already spent.
    [[nodiscard]] Result<TokenRecord> selectToken(const TokenHash &hash, bool *rotated = nullptr) const;
    [[nodiscard]] Result<IssuedTokens> insertPair(const QString &grantId, const QString &familyId,
                                                  const QString &scope, const QString &resource,
                                                  const TokenRequest &request);
    [[nodiscard]] Result<int> revokeFamily(const QString &familyId);
    [[nodiscard]] Result<int> revokeGrantTokens(const QString &grantId);
    // Inside a transaction: marks the grant revoked and wipes its upstream
    // tokens when none of its refresh tokens or codes is live any more.
    [[nodiscard]] Result<bool> retireIfDead(const QString &grantId);
    // After a commit that retired a grant: moves the WAL into the database
    // file, whose freed cells secure_delete has zeroed.
    void scrubWal();

    QSqlDatabase m_db;
    QString m_connectionName;
    QString m_databasePath;
    int m_schemaVersion = 0;
    std::optional<SecretBox> m_box;
    std::function<QDateTime()> m_clock;
};

} // namespace fmb
