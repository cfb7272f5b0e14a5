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
#include "store/TokenStore.h"

namespace fmb {

// The TokenStore of one broker: one SQLite file under the state directory,
// with the upstream Forgejo tokens sealed by SecretBox under the key file
// next to it. Survives restarts: open() on the same state directory sees
// everything again.
//
// The state directory is made 0700, the database file 0600 (SQLite gives its
// -wal and -shm files the same mode), and the key file is created 0600 or
// refused when wider. Each SqliteTokenStore owns its own uniquely named
// QSqlDatabase connection; use it from the thread that called open().
// Write transactions are BEGIN IMMEDIATE (the database-wide write lock, so
// read-then-write calls are atomic); SQLITE_BUSY past the 5 s busy timeout
// is Unavailable. Deleted rows are zeroed (secure_delete), and the WAL is
// checkpointed after a grant's upstream tokens are wiped.
class SqliteTokenStore final : public TokenStore {
public:
    SqliteTokenStore();
    ~SqliteTokenStore() override;

    static QString databaseFileName() { return QStringLiteral("broker.sqlite3"); }
    static QString keyFileName() { return QStringLiteral("upstream-tokens.key"); }

    // Creates the state directory, key file and database as needed, then
    // migrates the schema. Refuses a key file that does not open the values
    // this database already holds, and a missing key file next to an existing
    // database (it does not write a new key then).
    [[nodiscard]] Result<void> open(const QString &stateDir);
    void close();
    [[nodiscard]] bool isOpen() const override { return m_box.has_value(); }
    [[nodiscard]] QString databasePath() const { return m_databasePath; }
    [[nodiscard]] int schemaVersion() const { return m_schemaVersion; }

    // What "now" is for expiry checks and timestamps; tests move it.
    void setClock(std::function<QDateTime()> clock);

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
    [[nodiscard]] Result<QByteArray> createAuthCode(const AuthCodeRequest &request) override;
    [[nodiscard]] Result<AuthCodeRecord> consumeAuthCode(const TokenHash &codeHash) override;
    [[nodiscard]] Result<IssuedTokens> issueTokenPair(const QString &grantId,
                                                      const TokenRequest &request) override;
    [[nodiscard]] Result<TokenRecord> findAccessToken(const TokenHash &hash) const override;
    [[nodiscard]] Result<IssuedTokens> rotateRefreshToken(const TokenHash &refreshHash,
                                                          const QString &clientId,
                                                          const TokenRequest &request) override;
    [[nodiscard]] Result<void> revokeToken(const TokenHash &hash, const QString &clientId) override;
    [[nodiscard]] Result<void> recordConsent(qint64 userId, const QString &clientId,
                                             const QString &scope) override;
    [[nodiscard]] Result<bool> hasConsent(qint64 userId, const QString &clientId,
                                          const QString &scope) const override;
    [[nodiscard]] Result<void> revokeConsent(qint64 userId, const QString &clientId) override;
    [[nodiscard]] Result<PurgeCounts> purgeExpired() override;

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
    // run() for a statement that must change exactly one row: NotFound
    // ("no <what> with this id", subject `id`) when it changed none.
    [[nodiscard]] Result<void> changeOne(const QString &what, const QString &id, const QString &sql,
                                         const QVariantList &values);
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
    // A replayed code or refresh token, inside its transaction: `revoked`
    // is what revoking its tokens gave; retires the grant when nothing live
    // is left, commits, scrubs the WAL after a retirement. Returns `revoked`.
    [[nodiscard]] Result<int> commitRevocation(SqlTransaction &transaction, Result<int> revoked,
                                               const QString &grantId);
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
