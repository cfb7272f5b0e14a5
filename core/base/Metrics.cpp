#include "Metrics.h"

#include <algorithm>
#include <atomic>

namespace fmb::metrics {

namespace {

struct AtomicHistogram {
    std::array<std::atomic<quint64>, kDurationBounds.size() + 1> buckets{};
    std::atomic<quint64> count{0};
    std::atomic<quint64> sumNanoseconds{0};
};

std::array<std::atomic<quint64>, int(Counter::Count)> &counters()
{
    static std::array<std::atomic<quint64>, int(Counter::Count)> values{};
    return values;
}

std::array<AtomicHistogram, int(Method::Count)> &operations()
{
    static std::array<AtomicHistogram, int(Method::Count)> values{};
    return values;
}

constexpr std::array<QLatin1StringView, int(Method::Count)> kMethodNames = {
    QLatin1StringView("initialize"),
    QLatin1StringView("ping"),
    QLatin1StringView("tools/list"),
    QLatin1StringView("tools/call"),
    QLatin1StringView("resources/list"),
    QLatin1StringView("resources/templates/list"),
    QLatin1StringView("resources/read"),
    QLatin1StringView("resources/subscribe"),
    QLatin1StringView("resources/unsubscribe"),
    QLatin1StringView("prompts/list"),
    QLatin1StringView("prompts/get"),
    QLatin1StringView("completion/complete"),
    QLatin1StringView("logging/setLevel"),
    QLatin1StringView("other"),
};

} // namespace

void add(Counter counter, quint64 amount) noexcept
{
    counters()[size_t(counter)].fetch_add(amount, std::memory_order_relaxed);
}

quint64 value(Counter counter) noexcept
{
    return counters()[size_t(counter)].load(std::memory_order_relaxed);
}

void countResponse(int status) noexcept
{
    const int bucket = status / 100;
    if (bucket >= 1 && bucket <= 5)
        add(Counter(int(Counter::Responses1xx) + bucket - 1));
}

Method methodOf(QStringView name) noexcept
{
    for (int i = 0; i < int(Method::Other); ++i) {
        if (name == kMethodNames[size_t(i)])
            return Method(i);
    }
    return Method::Other;
}

QLatin1StringView methodName(Method method) noexcept
{
    return kMethodNames[size_t(std::min(method, Method::Other))];
}

void observeOperation(Method method, std::chrono::nanoseconds duration) noexcept
{
    const qint64 ns = std::max<qint64>(duration.count(), 0);
    const double seconds = double(ns) / 1e9;
    const auto bound = std::lower_bound(kDurationBounds.begin(), kDurationBounds.end(), seconds);
    AtomicHistogram &histogram = operations()[size_t(std::min(method, Method::Other))];
    histogram.buckets[size_t(bound - kDurationBounds.begin())].fetch_add(1, std::memory_order_relaxed);
    histogram.count.fetch_add(1, std::memory_order_relaxed);
    histogram.sumNanoseconds.fetch_add(quint64(ns), std::memory_order_relaxed);
}

Histogram operation(Method method) noexcept
{
    const AtomicHistogram &histogram = operations()[size_t(std::min(method, Method::Other))];
    Histogram snapshot;
    for (size_t i = 0; i < snapshot.buckets.size(); ++i)
        snapshot.buckets[i] = histogram.buckets[i].load(std::memory_order_relaxed);
    snapshot.count = histogram.count.load(std::memory_order_relaxed);
    snapshot.sumSeconds = double(histogram.sumNanoseconds.load(std::memory_order_relaxed)) / 1e9;
    return snapshot;
}

} // namespace fmb::metrics
