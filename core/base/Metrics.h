#pragma once

#include <array>
#include <chrono>

#include <QLatin1StringView>
#include <QStringView>
#include <QtGlobal>

// Process-wide counters for /metrics (issue 15). Every module counts what
// happens in it here, in base, so counting adds no dependency between modules;
// observability reads the counters when Prometheus scrapes and names them.
// Labels are fixed by these enums: nothing a client sends can add a series.
// Increments are relaxed atomics: a store thread may count too.
namespace fmb::metrics {

enum class Counter : int {
    SessionsStarted,
    // Sessions ended, by cause (EndCause in session maps onto these).
    SessionsEndedClient,
    SessionsEndedIdle,
    SessionsEndedOperator,
    SessionsEndedRevoked,
    SessionsEndedRefreshFailed,
    SessionsEndedChildExit,
    SessionsEndedShutdown,
    ChildrenSpawned,
    ChildrenExitedClean,  // exit status 0
    ChildrenExitedError,  // another exit status
    ChildrenExitedSignal, // killed by a signal
    ChildrenFailedToStart,
    RefreshesSucceeded,
    RefreshesRefused,     // Forgejo refused the refresh token: the grant is dead
    RefreshesUnavailable, // Forgejo unreachable: tried again at the next sweep
    SignInsSucceeded,
    SignInsDenied, // the user (or the forge) said no
    SignInsFailed, // expired, another browser, the forge unreachable or refusing, the store
    Responses1xx,
    Responses2xx,
    Responses3xx,
    Responses4xx,
    Responses5xx,
    RefusedConnections,   // over the connection cap
    RefusedRegistrations, // over the registration rate
    RefusedSessions,      // over the session cap
    BytesToChildren,
    BytesFromChildren,
    BearerChecksCached, // answered from the bearer cache, on the HTTP thread
    BearerChecksStore,  // looked up on the store thread (not confirmed within the cache TTL)
    StoreConnectionsLost,
    StoreReconnects,
    Count
};

void add(Counter counter, quint64 amount = 1) noexcept;
[[nodiscard]] quint64 value(Counter counter) noexcept;
// One HTTP response with this status, counted by its class (1xx … 5xx).
void countResponse(int status) noexcept;

// MCP methods with a series of their own; anything else is Other.
enum class Method : quint8 {
    Initialize,
    Ping,
    ToolsList,
    ToolsCall,
    ResourcesList,
    ResourcesTemplatesList,
    ResourcesRead,
    ResourcesSubscribe,
    ResourcesUnsubscribe,
    PromptsList,
    PromptsGet,
    CompletionComplete,
    LoggingSetLevel,
    Other,
    Count
};

[[nodiscard]] Method methodOf(QStringView name) noexcept;
[[nodiscard]] QLatin1StringView methodName(Method method) noexcept;

// Upper bounds of the operation-duration buckets, in seconds (+Inf follows).
inline constexpr std::array<double, 14> kDurationBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

struct Histogram {
    std::array<quint64, kDurationBounds.size() + 1> buckets{}; // per bucket, not cumulative; last is +Inf
    quint64 count = 0;
    double sumSeconds = 0;
};

// A request of this method took this long, from the broker forwarding it to
// the answer it relayed.
void observeOperation(Method method, std::chrono::nanoseconds duration) noexcept;
[[nodiscard]] Histogram operation(Method method) noexcept;

} // namespace fmb::metrics
