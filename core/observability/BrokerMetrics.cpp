#include "BrokerMetrics.h"

#include <dirent.h>
#include <sys/resource.h>

#include <QLocale>

#include "PrometheusText.h"
#include "base/Metrics.h"
#include "session/SessionRegistry.h"

namespace fmb {

namespace {

using metrics::Counter;

constexpr QByteArrayView Prefix = "forgejo_mcp_broker_";

struct LabelledCounter {
    Counter counter;
    QByteArrayView label; // value of the family's one label
};

struct CounterFamily {
    QByteArrayView name; // without the prefix
    QByteArrayView help;
    QByteArrayView labelName; // empty: one unlabelled series
    std::initializer_list<LabelledCounter> series;
};

// Every counter family, in the order /metrics lists them. A Counter missing
// here is caught by tst_brokermetrics (every value must appear).
const CounterFamily kCounters[] = {
    {"sessions_started_total",
     "MCP sessions created (a child spawned for each).",
     "",
     {{Counter::SessionsStarted, ""}}},
    {"sessions_ended_total",
     "MCP sessions ended, by reason: client (DELETE), idle (reaped), operator (admin evict), revoked (grant "
     "revoked), refresh_failed (Forgejo refused the refresh), child_exit (the child ended it), shutdown.",
     "reason",
     {{Counter::SessionsEndedClient, "client"},
      {Counter::SessionsEndedIdle, "idle"},
      {Counter::SessionsEndedOperator, "operator"},
      {Counter::SessionsEndedRevoked, "revoked"},
      {Counter::SessionsEndedRefreshFailed, "refresh_failed"},
      {Counter::SessionsEndedChildExit, "child_exit"},
      {Counter::SessionsEndedShutdown, "shutdown"}}},
    {"children_spawned_total",
     "Child processes started (sessions and respawns; failed starts included).",
     "",
     {{Counter::ChildrenSpawned, ""}}},
    {"children_exited_total",
     "Child processes that ended, by reason: clean (status 0), error (another status), signal, "
     "failed_to_start.",
     "reason",
     {{Counter::ChildrenExitedClean, "clean"},
      {Counter::ChildrenExitedError, "error"},
      {Counter::ChildrenExitedSignal, "signal"},
      {Counter::ChildrenFailedToStart, "failed_to_start"}}},
    {"token_refreshes_total",
     "Refreshes of Forgejo tokens, by outcome: success, refused (the grant is dead), unavailable (Forgejo "
     "unreachable; retried).",
     "outcome",
     {{Counter::RefreshesSucceeded, "success"},
      {Counter::RefreshesRefused, "refused"},
      {Counter::RefreshesUnavailable, "unavailable"}}},
    {"sign_ins_total",
     "Sign-ins through Forgejo, by outcome: success, denied, failed.",
     "outcome",
     {{Counter::SignInsSucceeded, "success"},
      {Counter::SignInsDenied, "denied"},
      {Counter::SignInsFailed, "failed"}}},
    {"http_responses_total",
     "HTTP responses on the public listener, by status class.",
     "code",
     {{Counter::Responses1xx, "1xx"},
      {Counter::Responses2xx, "2xx"},
      {Counter::Responses3xx, "3xx"},
      {Counter::Responses4xx, "4xx"},
      {Counter::Responses5xx, "5xx"}}},
    {"refused_total",
     "Requests refused at a limit: connections (connection caps, 503), registrations (rate, 429), sessions "
     "(session caps, 503).",
     "limit",
     {{Counter::RefusedConnections, "connections"},
      {Counter::RefusedRegistrations, "registrations"},
      {Counter::RefusedSessions, "sessions"}}},
    {"relayed_bytes_total",
     "Bytes of JSON-RPC lines relayed to and from children.",
     "direction",
     {{Counter::BytesToChildren, "to_child"}, {Counter::BytesFromChildren, "from_child"}}},
    {"bearer_checks_total",
     "Bearer tokens checked on /mcp, by where the answer came from: cache (memory, no statement), store (a "
     "read on the store thread: a token not confirmed within --bearer-cache-ttl).",
     "answer",
     {{Counter::BearerChecksCached, "cache"}, {Counter::BearerChecksStore, "store"}}},
    {"store_connection_events_total",
     "The token store's database connection: lost (statements get 503 until it is back), reconnected.",
     "event",
     {{Counter::StoreConnectionsLost, "lost"}, {Counter::StoreReconnects, "reconnected"}}},
};

QByteArray name(QByteArrayView suffix)
{
    return Prefix.toByteArray() + suffix.toByteArray();
}

void writeCounters(PrometheusText &out)
{
    for (const CounterFamily &family : kCounters) {
        const QByteArray full = name(family.name);
        out.family(full, "counter", family.help);
        for (const LabelledCounter &series : family.series) {
            if (family.labelName.isEmpty())
                out.sample(full, {}, metrics::value(series.counter));
            else
                out.sample(full, {{family.labelName, series.label}}, metrics::value(series.counter));
        }
    }
}

void writeOperations(PrometheusText &out)
{
    // OpenTelemetry's mcp.server.operation.duration, in Prometheus form.
    const QByteArray full = name("operation_duration_seconds");
    const QByteArray bucket = QByteArray(full + "_bucket");
    out.family(full, "histogram",
               "Time from forwarding an MCP request to its child to relaying the answer "
               "(OpenTelemetry mcp.server.operation.duration), by mcp_method_name.");
    for (int i = 0; i < int(metrics::Method::Count); ++i) {
        const auto method = metrics::Method(i);
        const QByteArray methodName =
            QByteArray(metrics::methodName(method).data(), metrics::methodName(method).size());
        const metrics::Histogram histogram = metrics::operation(method);
        quint64 cumulative = 0;
        for (size_t b = 0; b < metrics::kDurationBounds.size(); ++b) {
            cumulative += histogram.buckets[b];
            const QByteArray le =
                QByteArray::number(metrics::kDurationBounds[b], 'f', QLocale::FloatingPointShortest);
            out.sample(bucket, {{"mcp_method_name", methodName}, {"le", le}}, cumulative);
        }
        cumulative += histogram.buckets.back();
        out.sample(bucket, {{"mcp_method_name", methodName}, {"le", "+Inf"}}, cumulative);
        out.sample(QByteArray(full + "_sum"), {{"mcp_method_name", methodName}}, histogram.sumSeconds);
        out.sample(QByteArray(full + "_count"), {{"mcp_method_name", methodName}}, histogram.count);
    }
}

} // namespace

QByteArray renderMetrics(const MetricsGauges &gauges, const QString &version, const QString &nodeId)
{
    PrometheusText out;
    out.family(name("build_info"), "gauge", "Always 1; the labels say which broker and Qt run.");
    out.sample(name("build_info"), {{"version", version.toUtf8()}, {"qt_version", qVersion()}}, quint64(1));
    if (!nodeId.isEmpty()) {
        out.family(name("node_info"), "gauge",
                   "Always 1; the label names this broker of a cluster (--node-id).");
        out.sample(name("node_info"), {{"node", nodeId.toUtf8()}}, quint64(1));
    }
    out.family(name("sessions_open"), "gauge", "MCP sessions open.");
    out.sample(name("sessions_open"), quint64(gauges.sessionsOpen));
    out.family(name("user_children_open"), "gauge", "Children serving 2026-07-28 clients, one per user.");
    out.sample(name("user_children_open"), quint64(gauges.userChildrenOpen));
    out.family(name("sessions_stopping"), "gauge", "Sessions that ended whose children are still exiting.");
    out.sample(name("sessions_stopping"), quint64(gauges.sessionsStopping));
    out.family(name("sessions_max"), "gauge",
               "The session ceiling in force: the configured cap, or what the open-file limit has room for.");
    out.sample(name("sessions_max"), quint64(gauges.sessionsMax));
    writeCounters(out);
    writeOperations(out);
    // The names of Prometheus' own process collector, so dashboards find them.
    if (gauges.openFds >= 0) {
        out.family("process_open_fds", "gauge", "Open file descriptors.");
        out.sample("process_open_fds", quint64(gauges.openFds));
    }
    if (gauges.maxFds >= 0) {
        out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
        out.sample("process_max_fds", quint64(gauges.maxFds));
    }
    out.family("process_start_time_seconds", "gauge",
               "Start time of the process since the epoch in seconds.");
    out.sample("process_start_time_seconds", {}, gauges.startTimeSeconds);
    return out.text();
}

MetricsGauges readGauges(const SessionRegistry &registry, double startTimeSeconds)
{
    MetricsGauges gauges;
    gauges.userChildrenOpen = registry.userChildCount();
    gauges.sessionsOpen = registry.count() - gauges.userChildrenOpen;
    gauges.sessionsStopping = registry.stoppingCount();
    const RegistryLimits &limits = registry.limits();
    gauges.sessionsMax = limits.fileCeiling > 0 && limits.fileCeiling < limits.maxSessions
                             ? limits.fileCeiling
                             : limits.maxSessions;
    if (DIR *fds = ::opendir("/proc/self/fd")) {
        qint64 listed = 0;
        while (const dirent *entry = ::readdir(fds)) {
            if (entry->d_name[0] != '.')
                ++listed;
        }
        ::closedir(fds);
        gauges.openFds = listed - 1; // less the one the listing held open
    }
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0)
        gauges.maxFds = limit.rlim_cur == RLIM_INFINITY ? -1 : qint64(limit.rlim_cur);
    gauges.startTimeSeconds = startTimeSeconds;
    return gauges;
}

} // namespace fmb
