#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <QDateTime>
#include <QList>
#include <QSqlDatabase>
#include <QString>
#include <QVariantList>

#include "base/Result.h"
#include "store/BearerCache.h"
#include "store/ConnectionHealth.h"
#include "store/SecretBox.h"
#include "store/Sql.h"
#include "store/TokenStore.h"

namespace fmb {

// The TokenStore over one Qt Sql connection, shared by SqliteTokenStore (one
// broker) and PostgresTokenStore (several brokers on one database): every
// call of the interface, in SQL both engines run. A subclass opens the
// connection (attach) and names what its engine does differently: row locks,
// the empty blob literal, work after a grant is wiped.
//
// Read-then-write calls run in one transaction: SQLite's BEGIN IMMEDIATE
// takes the database-wide write lock first; on PostgreSQL the rows they read
// (a code, a broker token) are locked with SELECT ... FOR UPDATE, so a second
// broker waits and then sees the first one's write. Use a store from the
// thread that opened it.
class SqlTokenStore : public TokenStore {
public:
    ~SqlTokenStore() override;

    void close();
    [[nodiscard]] bool isOpen() const override { return m_box.has_value(); }
    [[nodiscard]] int schemaVersion() const { return m_schemaVersion; }

    // What "now" is for expiry checks and timestamps; tests move it.
    void setClock(std::function<QDateTime()> clock);

    // Issue 14: findAccessToken answers from memory for limits.ttl after the
    // database confirmed a token, and for limits.outageGrace while the
    // database is unreachable. Every revocation evicts here at once and is
    // announced (announceRevocation) so that other brokers evict too. Off
    // (ttl 0) until set.
    void setBearerCacheLimits(const BearerCacheLimits &limits);
    // Called by findAccessToken, on this store's thread, with a cached token
    // that is half-way to the cache TTL: it should reach
    // revalidateAccessToken, ideally on a store of another thread, so that a
    // token in use never waits for a statement here. Unset: nobody asks, and
    // a token in use is looked up again once per TTL.
    void setRevalidator(std::function<void(const TokenHash &hash)> revalidator);
    [[nodiscard]] BearerCache &bearerCache() { return *m_cache; }
    // The cache itself (thread-safe), for checks on another thread than the
    // store's (the daemon's bearer guard, issue 14).
    [[nodiscard]] std::shared_ptr<BearerCache> sharedBearerCache() const { return m_cache; }
    // True while the connection is lost (only a store that reconnects).
    [[nodiscard]] bool isConnectionDown() const { return m_health && m_health->isDown(); }

    // TokenStore
    [[nodiscard]] Result<void> registerClient(const ClientRecord &client) override;
    [[nodiscard]] Result<void> updateClient(const ClientRecord &client) override;
    [[nodiscard]] Result<ClientRecord> findClient(const QString &clientId) const override;
    [[nodiscard]] Result<void> deleteClient(const QString &clientId) override;
    [[nodiscard]] Result<PendingClients> pendingClients() const override;
    [[nodiscard]] Result<int> purgePendingClients(const QDateTime &before) override;
    [[nodiscard]] Result<GrantRecord> createGrant(const GrantRecord &grant,
                                                  const UpstreamTokens &upstream) override;
    [[nodiscard]] Result<GrantRecord> findGrant(const QString &grantId) const override;
    [[nodiscard]] Result<QList<GrantRecord>> grantsForUser(qint64 userId) const override;
    [[nodiscard]] Result<QList<GrantRecord>> grantsExpiringBefore(const QDateTime &when) const override;
    [[nodiscard]] Result<UpstreamTokens> upstreamTokens(const QString &grantId) const override;
    [[nodiscard]] Result<void> saveUpstreamTokens(const QString &grantId,
                                                  const UpstreamTokens &tokens) override;
    [[nodiscard]] Result<void> revokeGrant(const QString &grantId) override;
    [[nodiscard]] Result<UserRevocation> revokeUser(const QString &userLogin) override;
    [[nodiscard]] Result<QByteArray> createAuthCode(const AuthCodeRequest &request) override;
    [[nodiscard]] Result<AuthCodeRecord> consumeAuthCode(const TokenHash &codeHash) override;
    [[nodiscard]] Result<IssuedTokens> issueTokenPair(const QString &grantId,
                                                      const TokenRequest &request) override;
    [[nodiscard]] Result<TokenRecord> findAccessToken(const TokenHash &hash) const override;
    [[nodiscard]] std::optional<TokenRecord> cachedAccessToken(const TokenHash &hash) const override;
    void revalidateAccessToken(const TokenHash &hash) override;
    [[nodiscard]] Result<IssuedTokens> rotateRefreshToken(const TokenHash &refreshHash,
                                                          const QString &clientId,
                                                          const TokenRequest &request) override;
    [[nodiscard]] Result<TokenRecord> revokeToken(const TokenHash &hash, const QString &clientId) override;
    [[nodiscard]] Result<void> recordConsent(qint64 userId, const QString &clientId,
                                             const QString &scope) override;
    [[nodiscard]] Result<bool> hasConsent(qint64 userId, const QString &clientId,
                                          const QString &scope) const override;
    [[nodiscard]] Result<void> revokeConsent(qint64 userId, const QString &clientId) override;
    [[nodiscard]] Result<PurgeCounts> purgeExpired() override;

protected:
    SqlTokenStore();

    // A configured, not yet opened connection registered under `name`
    // (newConnectionName()); `where` names the database in errors and logs
    // (never with a password), `keyName` the key file.
    struct Connection {
        QSqlDatabase db;
        QString name;
        QString where;
        QString keyName;
    };
    using Migrate = std::function<Result<int>(const QSqlDatabase &)>;
    [[nodiscard]] static QString newConnectionName();
    // Opens the connection, runs configureConnection() and `migrate`, then
    // checks `box` against the key check value the database holds (writes it
    // on first open). Closes again on any failure.
    [[nodiscard]] Result<void> attach(const Connection &connection, SecretBox box, const Migrate &migrate);
    [[nodiscard]] bool isAttached() const { return !m_connectionName.isEmpty(); }
    [[nodiscard]] QString where() const { return m_where; }
    [[nodiscard]] QSqlDatabase database() const { return m_db; }

    // Every statement goes through run(): it checks that the store is open
    // (Unavailable otherwise), prepares, binds and runs. runNamed() binds
    // `:name` placeholders; begin() opens a write transaction and box() hands
    // out the key, both also only while open.
    [[nodiscard]] Result<QSqlQuery> run(const QString &sql, const QVariantList &values = {}) const;
    [[nodiscard]] Result<QSqlQuery> runNamed(const QString &sql, const SqlNamedValues &values) const;

    // The engine's differences.
    // Statements run once per connection before the migration.
    [[nodiscard]] virtual Result<void> configureConnection();
    // The clause that locks the rows a read-then-write call read from table
    // alias `alias` until commit; empty where the transaction already holds
    // the only write lock.
    [[nodiscard]] virtual QString lockRows(const QString &alias) const = 0;
    // The literal for a zero-length blob (a wiped upstream token).
    [[nodiscard]] virtual QString emptyBlob() const = 0;
    // After a commit that wiped a grant's upstream tokens.
    virtual void afterRetire() {}
    // After a commit that revoked broker tokens, evicted here already: tell
    // the other brokers sharing the database.
    virtual void announceRevocation(const BearerRevocation &revocation) { Q_UNUSED(revocation); }
    // Another broker revoked tokens: evict them here.
    void revokedElsewhere(const BearerRevocation &revocation);
    // Reconnect when a statement finds the connection gone (PostgreSQL):
    // `reopen` runs with the store's connection closed and must open it and
    // restore what lives on it.
    void watchConnection(const std::function<Result<void>(QSqlDatabase &db)> &reopen);

private:
    enum class RowLock { None, ForUpdate };

    [[nodiscard]] QDateTime now() const;
    // Before a statement: Unavailable while the connection is down. After a
    // failed one: the error, made Unavailable when the connection is gone.
    [[nodiscard]] Result<void> connectionReady() const;
    [[nodiscard]] Result<QSqlQuery> watched(Result<QSqlQuery> result) const;
    // Evicts locally and announces.
    void bearersRevoked(const BearerRevocation &revocation);
    [[nodiscard]] Result<TokenRecord> lookupAccessToken(const TokenHash &hash) const;
    // A committed new pair: its access token is live, so the first bearer
    // check needs no statement (and works while the bearer guard's own
    // connection is still waiting to reconnect).
    void cacheIssued(const IssuedTokens &issued, const QString &clientId, const QString &userLogin,
                     qint64 userId);
    [[nodiscard]] Result<SqlTransaction> begin();
    [[nodiscard]] Result<const SecretBox *> box() const;
    [[nodiscard]] Result<void> checkKey();
    // run() for a statement that must change exactly one row: NotFound
    // ("no <what> with this id", subject `id`) when it changed none.
    [[nodiscard]] Result<void> changeOne(const QString &what, const QString &id, const QString &sql,
                                         const QVariantList &values);
    [[nodiscard]] Result<bool> clientExists(const QString &clientId) const;
    [[nodiscard]] Result<QList<GrantRecord>> selectGrants(const QString &sql,
                                                          const QVariantList &values) const;
    // `rotated`, when given, tells whether a refresh token was already spent.
    [[nodiscard]] Result<TokenRecord> selectToken(const TokenHash &hash, RowLock lock,
                                                  bool *rotated = nullptr) const;
    [[nodiscard]] Result<IssuedTokens> insertPair(const QString &grantId, const QString &familyId,
                                                  const QString &scope, const QString &resource,
                                                  const TokenRequest &request);
    [[nodiscard]] Result<int> revokeFamily(const QString &familyId);
    [[nodiscard]] Result<int> revokeGrantTokens(const QString &grantId);
    // Inside a transaction: marks the grant revoked and wipes its upstream
    // tokens when none of its refresh tokens or codes is live any more.
    [[nodiscard]] Result<bool> retireIfDead(const QString &grantId);
    // A replayed code or refresh token, inside its transaction: `revoked`
    // is what revoking its tokens gave; retires the grant when nothing live
    // is left, commits, calls afterRetire() after a retirement. Returns `revoked`.
    [[nodiscard]] Result<int> commitRevocation(SqlTransaction &transaction, Result<int> revoked,
                                               const QString &grantId);

    QSqlDatabase m_db;
    QString m_connectionName;
    QString m_where;
    QString m_keyName;
    int m_schemaVersion = 0;
    std::optional<SecretBox> m_box;
    std::function<QDateTime()> m_clock;
    std::shared_ptr<BearerCache> m_cache;       // used from const lookups; maybe shared
    std::unique_ptr<ConnectionHealth> m_health; // null: no reconnecting (SQLite)
    std::function<void(const TokenHash &hash)> m_revalidator;
};

} // namespace fmb
