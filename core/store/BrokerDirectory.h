#pragma once

#include <chrono>
#include <functional>

#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>

#include "base/Result.h"
#include "store/BrokerRecord.h"

class QThread;
class QTimer;

namespace fmb {

class BrokerDirectoryWorker;

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
// Threads (issue 14: no query on the thread that serves HTTP): every
// statement runs on the directory's own QThread, over its own connection
// (not the token store's), opened, used and closed there by a
// BrokerDirectoryWorker. This object lives on its owner's thread and is used
// only from there: open() waits for the thread's answer, everything else
// sends the statement off and answers later, on the owner's thread. The beat
// timer runs on the owner's thread and reads the load provider there, so
// the provider may read objects of that thread; a hung owner thread stops
// the beats, and the broker turns stale as it should. One beat is in
// flight at a time: one stuck on a lock delays the next instead of queueing
// more. A beat that fails drops the connection and opens a new one at once
// and then at every beat, so a PostgreSQL restart costs a beat or two, not
// the daemon's life; a beat is an upsert, so a row an operator deleted comes
// back.
class BrokerDirectory final : public QObject {
    Q_OBJECT
public:
    static constexpr int StaleBeats = BrokerRecord::StaleBeats;
    // How long the destructor waits for the thread to finish what it was
    // sent (a stop() above all); past it the thread is left to the process's
    // exit, with a warning.
    static constexpr std::chrono::milliseconds FinishWait{5000};

    explicit BrokerDirectory(BrokerDirectoryConfig config, QObject *parent = nullptr);
    // Closes the connection on its thread (after a stop() sent before, which
    // still lands); the row stays as last written.
    ~BrokerDirectory() override;

    // The current load, asked at every beat on this object's thread.
    void setLoadProvider(std::function<BrokerLoad()> provider) { m_load = std::move(provider); }

    // Connects, creates the table when missing, writes this broker's row
    // (started now, not stopped) and starts the beat timer. Blocks the
    // caller until the directory's thread has answered: meant for start-up,
    // before serving.
    [[nodiscard]] Result<void> open();
    // A beat now (the timer calls it too): beatWritten() or beatFailed()
    // follows. When a beat is still in flight, one more follows it. False
    // when the directory is not open (no beat, no signal).
    bool beat();
    // Marks this broker stopped and stops beating; the connection closes.
    // Returns at once; stopped() follows once the row is written (or could
    // not be), and the destructor waits for it.
    void stop();
    // Between open() and stop(), even while the database is unreachable.
    [[nodiscard]] bool isOpen() const { return m_open; }

    // Every broker the database knows, by node id, handed to `reply` on this
    // object's thread, never before brokers() returns, and only while
    // `context` lives (an admin client that left gets nothing). Unavailable
    // while closed or while the connection is lost (the next beat
    // reconnects).
    using BrokersReply = std::function<void(Result<QList<BrokerRecord>>)>;
    void brokers(QObject *context, BrokersReply reply);

    [[nodiscard]] const QString &nodeId() const { return m_config.nodeId; }

Q_SIGNALS:
    // A beat landed.
    void beatWritten();
    // A beat failed (the database is unreachable); the next one tries again.
    void beatFailed(const QString &message);
    // After stop(): the row is marked stopped (or the attempt failed, logged).
    void stopped();

private:
    struct PendingRead {
        QPointer<QObject> context;
        BrokersReply reply;
    };
    void sendBeat();
    void onBeaten(const QString &failure);
    void onBrokersRead(quint64 request, bool ok, const QList<BrokerRecord> &records, const Error &error);

    BrokerDirectoryConfig m_config;
    std::function<BrokerLoad()> m_load;
    QTimer *m_timer = nullptr;                 // child
    QThread *m_thread = nullptr;               // owned; leaked when it does not finish in FinishWait
    BrokerDirectoryWorker *m_worker = nullptr; // lives on m_thread; deleted after it finished
    bool m_open = false;
    bool m_beating = false;   // a beat is on the directory's thread
    bool m_beatAgain = false; // beat() while one was in flight
    quint64 m_nextRead = 1;
    QHash<quint64, PendingRead> m_reads;
};

} // namespace fmb
