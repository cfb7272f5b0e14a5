#pragma once

#include <functional>

#include <QSqlDatabase>
#include <QString>

#include "base/Result.h"
#include "store/SqlTokenStore.h"

namespace fmb {

// Where a PostgreSQL store lives: the parts of a libpq URI
// postgresql://USER@HOST:PORT/DBNAME (?host=/socket/dir for a Unix socket).
// An empty password leaves it to libpq (~/.pgpass, PGPASSFILE, peer auth).
struct PostgresParams {
    QString host; // a name, an address, or an absolute Unix socket directory
    int port = 5432;
    QString user; // empty: libpq's default (the OS user)
    QString database;
    QString password; // never logged
    int connectTimeoutSeconds = 10;

    // postgresql://user@host:port/database, without the password: for logs.
    [[nodiscard]] QString display() const;
    // Sets host, port, database, user, password and connect options on a
    // QPSQL connection that is not open yet.
    void applyTo(QSqlDatabase &db) const;
};

// The TokenStore of a cluster: several brokers share one PostgreSQL database
// (QPSQL, libqt6sql6-psql). Upstream tokens are sealed with the key file
// `keyPath`, which every broker of the cluster must share: a broker with
// another key refuses to start (the sealed key check in `meta`).
//
// The schema is created and migrated by open() under an advisory lock
// (PostgresSchema), so brokers may start at once. Read-then-write calls lock
// the code or token row they read (SELECT ... FOR UPDATE), so a code is
// redeemed once and a refresh token rotated once across all brokers, and
// reuse of a rotated one is detected by every broker. Each store owns one
// connection; use it from the thread that called open(). Queries block that
// thread for a network round trip: the daemon opens it on the store thread,
// never the HTTP thread (docs/store.md, "Threads").
//
// Upstream refreshes (issue 14): the refresh lock is a session-level
// advisory lock on this store's connection, so it is held across the
// asynchronous call to Forgejo without holding a transaction open (other
// calls keep using the connection meanwhile), and PostgreSQL releases it
// when the connection ends. Announcements are NOTIFY fmb_upstream_tokens
// with the user id as payload, heard through the QPSQL driver's
// notification signal while the event loop runs. Revoked broker tokens are
// announced the same way on fmb_bearer_revocations (BearerRevocation), so
// that every broker's bearer cache evicts them. A statement that finds the
// connection gone switches to reconnecting with backoff (ConnectionHealth);
// the reconnect LISTENs again.
class PostgresTokenStore final : public SqlTokenStore {
public:
    PostgresTokenStore() = default;

    // keyPath is created when missing unless createKey is false
    // (--secret-key-file: every broker must load the same key).
    [[nodiscard]] Result<void> open(const PostgresParams &params, const QString &keyPath,
                                    bool createKey = true);

    [[nodiscard]] Result<bool> tryLockUpstreamRefresh(qint64 userId) override;
    void unlockUpstreamRefresh(qint64 userId) override;
    void announceUpstreamTokens(qint64 userId) override;
    void setUpstreamTokensListener(std::function<void(qint64 userId)> listener) override;

protected:
    [[nodiscard]] QString lockRows(const QString &alias) const override;
    [[nodiscard]] QString emptyBlob() const override { return QStringLiteral("decode('', 'hex')"); }
    void announceRevocation(const BearerRevocation &revocation) override;

private:
    void listen();
    void notified(const QString &channel, const QString &payload);

    std::function<void(qint64 userId)> m_listener;
};

} // namespace fmb
