#pragma once

#include <chrono>

#include <QString>

#include "store/PostgresTokenStore.h"

// The values a BrokerDirectory and its worker thread pass between them.
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

    static constexpr int StaleBeats = 3;
    // Missed StaleBeats beats of its own interval without having stopped
    // cleanly: killed, hung, or cut off from the database.
    [[nodiscard]] qint64 staleAfterMs() const { return heartbeatIntervalMs * StaleBeats; }
    [[nodiscard]] bool isStale() const { return stoppedMs == 0 && heartbeatAgeMs > staleAfterMs(); }
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
    // Rows of other brokers that have not beaten for this long (nodes gone
    // for good) are deleted when a broker opens the directory.
    std::chrono::milliseconds forgetAfter{std::chrono::hours(24 * 7)};
};

} // namespace fmb
