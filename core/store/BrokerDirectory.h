#pragma once

#include <chrono>
#include <functional>

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QSqlDatabase>
#include <QString>

#include "base/Result.h"
#include "store/PostgresTokenStore.h"

class QTimer;

namespace fmb {

// One broker as the cluster's database knows it (issue 14).
struct BrokerRecord {
    QString nodeId;
    QString host; // the machine's host name
    qint64 pid = 0;
    QString listenUrl;
    qint64 startedMs = 0;           // by the database's clock, ms since the epoch
    qint64 heartbeatMs = 0;         // the last beat, by the database's clock
    qint64 heartbeatAgeMs = 0;      // now minus heartbeatMs, both by the database's clock
    qint64 heartbeatIntervalMs = 0; // how often that broker beats
    qint64 stoppedMs = 0;           // a clean shutdown wrote it; 0 while it runs
    int sessions = 0;
    int userChildren = 0;

    // Missed BrokerDirectory::StaleBeats beats of its own interval without
    // having stopped cleanly: killed, hung, or cut off from the database.
    [[nodiscard]] qint64 staleAfterMs() const;
    [[nodiscard]] bool isStale() const;
};

struct BrokerLoad {
    int sessions = 0;
    int userChildren = 0;
};

struct BrokerDirectoryConfig {
    PostgresParams params;
    QString nodeId;
    QString host;
    QString listenUrl;
    std::chrono::milliseconds heartbeatInterval{5000};
};

// The brokers of a cluster, one row per node id in the table `brokers` of the
// shared PostgreSQL database: each broker upserts its row on open() and
// beats (heartbeat time, session and user-child counts) on a QTimer; a clean
// stop() marks the row stopped. Ages are computed by the database's clock,
// so clock skew between hosts does not make a broker look stale.
//
// The table is not part of the token store's versioned schema
// (PostgresSchema): it is created with CREATE TABLE IF NOT EXISTS under its
// own transaction-scoped advisory lock, so brokers starting at once neither
// race on the catalog nor wait for the token store's migration. A single
// broker (SQLite or local mode) keeps no directory: its admin socket
// describes only itself.
//
// Owns its own connection (not the token store's); use from the thread that
// called open(). Each beat is one round trip on that thread. A beat that
// fails drops the connection and opens a new one at once and then at every
// beat, so a PostgreSQL restart costs a beat or two, not the daemon's life;
// a beat is an upsert, so a row an operator deleted comes back.
class BrokerDirectory final : public QObject {
    Q_OBJECT
public:
    static constexpr int StaleBeats = 3;

    explicit BrokerDirectory(BrokerDirectoryConfig config, QObject *parent = nullptr);
    ~BrokerDirectory() override; // closes the connection; the row stays as last written

    // The current load, asked at every beat.
    void setLoadProvider(std::function<BrokerLoad()> provider) { m_load = std::move(provider); }

    // Connects, creates the table when missing, writes this broker's row
    // (started now, not stopped) and starts the beat timer.
    [[nodiscard]] Result<void> open();
    // One beat now (the timer calls it too); reconnects first when the
    // connection was lost.
    [[nodiscard]] Result<void> beat();
    // Marks this broker stopped and stops beating; the connection closes.
    void stop();
    // Between open() and stop(), even while the database is unreachable.
    [[nodiscard]] bool isOpen() const { return m_open; }

    // Every broker the database knows, by node id. Unavailable while the
    // connection is lost (the next beat reconnects).
    [[nodiscard]] Result<QList<BrokerRecord>> brokers() const;

    [[nodiscard]] const QString &nodeId() const { return m_config.nodeId; }

Q_SIGNALS:
    // A beat failed (the database is unreachable); the next one tries again.
    void beatFailed(const QString &message);

private:
    [[nodiscard]] Result<void> connectDatabase();
    void disconnectDatabase();
    [[nodiscard]] bool isConnected() const { return !m_connectionName.isEmpty(); }
    // Upserts this broker's row. `fresh` (open()): a new start, every column
    // rewritten; else a beat, which re-inserts a deleted row as it was.
    [[nodiscard]] Result<void> writeRow(bool fresh, const BrokerLoad &load);
    void close();

    BrokerDirectoryConfig m_config;
    QSqlDatabase m_db;
    QString m_connectionName; // empty while not connected
    std::function<BrokerLoad()> m_load;
    QTimer *m_timer = nullptr; // child
    bool m_open = false;
    qint64 m_startedMs = 0; // by the database's clock, from open()
    bool m_failing = false; // log a failing database once, and its recovery
    QElapsedTimer m_failingSince;
};

} // namespace fmb
