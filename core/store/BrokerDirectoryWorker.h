#pragma once

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QSqlDatabase>
#include <QString>

#include "base/Result.h"
#include "store/BrokerRecord.h"

namespace fmb {

// The SQL half of a BrokerDirectory (issue 14): lives on the directory's own
// thread and owns the directory's connection, which is opened, used and
// closed there. Every method runs on that thread, called by queued
// invocations from BrokerDirectory, one at a time in the order they were
// sent; answers go back by the signals (queued to the directory's owner).
class BrokerDirectoryWorker final : public QObject {
    Q_OBJECT
public:
    explicit BrokerDirectoryWorker(BrokerDirectoryConfig config);
    ~BrokerDirectoryWorker() override; // on the thread that ran it, or after it finished

    // Connects, creates the table when missing and writes this broker's row
    // (started now, not stopped).
    [[nodiscard]] Result<void> open();
    // One beat with `load`; reconnects first when the connection was lost.
    // beaten() follows.
    void beat(const fmb::BrokerLoad &load);
    // Every broker the database knows; brokersRead(request, ...) follows.
    void readBrokers(quint64 request);
    // Marks this broker stopped, within StopTimeout; the connection closes.
    // stopped() follows.
    void stop();
    // Closes the connection; the row stays as last written.
    void close();

    // How long the stop's UPDATE may wait (on a lock, a slow server) before
    // the daemon exits without it.
    static constexpr int StopTimeoutMs = 3000;

Q_SIGNALS:
    // `failure` is empty when the beat landed.
    void beaten(const QString &failure);
    void brokersRead(quint64 request, bool ok, const QList<fmb::BrokerRecord> &records,
                     const fmb::Error &error);
    void stopped();

private:
    [[nodiscard]] Result<void> connectDatabase();
    void disconnectDatabase();
    [[nodiscard]] bool isConnected() const { return !m_connectionName.isEmpty(); }
    [[nodiscard]] Result<void> createTable();
    // Deletes the rows of other brokers silent for forgetAfter.
    [[nodiscard]] Result<void> forgetGoneBrokers();
    // Upserts this broker's row. `fresh` (open()): a new start, every column
    // rewritten; else a beat, which re-inserts a deleted row as it was.
    [[nodiscard]] Result<void> writeRow(bool fresh, const BrokerLoad &load);
    [[nodiscard]] Result<QList<BrokerRecord>> brokers() const;

    BrokerDirectoryConfig m_config;
    QSqlDatabase m_db;
    QString m_connectionName; // empty while not connected
    qint64 m_startedMs = 0;   // by the database's clock, from open()
    bool m_failing = false;   // log a failing database once, and its recovery
    QElapsedTimer m_failingSince;
};

} // namespace fmb
