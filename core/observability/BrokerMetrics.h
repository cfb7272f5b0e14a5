#pragma once

#include <QByteArray>
#include <QString>

namespace fmb {

class SessionRegistry;

// What /metrics shows besides the counters: read when Prometheus scrapes.
struct MetricsGauges {
    int sessionsOpen = 0;     // session-revision clients' sessions
    int userChildrenOpen = 0; // 2026-07-28 children, one per user
    int sessionsStopping = 0; // ended, children still exiting
    int sessionsMax = 0;      // the session ceiling in force (configured cap or the open-file room)
    qint64 openFds = -1;      // -1: unknown
    qint64 maxFds = -1;
    double startTimeSeconds = 0; // since the epoch
};

// Renders every series of docs/metrics.md: base/Metrics' counters and the
// operation histogram, the gauges, forgejo_mcp_broker_build_info and, with a
// node id, forgejo_mcp_broker_node_info (issue 14).
[[nodiscard]] QByteArray renderMetrics(const MetricsGauges &gauges, const QString &version,
                                       const QString &nodeId = {});

// The gauges of this process: the registry's sessions and ceiling, and the
// open-file descriptors (/proc/self/fd) against RLIMIT_NOFILE.
[[nodiscard]] MetricsGauges readGauges(const SessionRegistry &registry, double startTimeSeconds);

} // namespace fmb
