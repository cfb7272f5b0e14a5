#pragma once

#include <array>
#include <deque>
#include <optional>

#include <QList>
#include <QtGlobal>

#include "admin/AdminProtocol.h"

namespace fmb {

// The daemon's activity over the last minutes, as the console's charts draw
// it: the sessions open at each "info" answer, and rates derived from the
// counters between two answers (requests per second, successful refreshes per
// minute, errors per minute: 5xx responses and failed refreshes). Pure: the
// window feeds it, tests too.
class ActivityHistory final {
public:
    enum class Series { Sessions, RequestsPerSecond, RefreshesPerMinute, ErrorsPerMinute, Count };
    struct Point {
        qint64 atMs = 0; // wall clock
        double value = 0;
        friend bool operator==(const Point &, const Point &) = default;
    };

    explicit ActivityHistory(qint64 spanMs = DefaultSpanMs);

    // One "info" answer. A rate needs the answer before it: the first sample,
    // and the first after counters went down (the daemon restarted), add
    // no rate point. Samples that do not move forward in time are ignored.
    void add(qint64 atMs, int sessions, const ActivityCounters &counters);
    // Another broker, or a reconnect: rates must not span two daemons.
    void clear();
    // Forget the last counters, keep the points: the next sample starts a new
    // rate (after the connection was lost, the gap shows).
    void breakRates() { m_previous.reset(); }

    [[nodiscard]] const std::deque<Point> &points(Series series) const;
    [[nodiscard]] std::optional<double> latest(Series series) const;
    [[nodiscard]] qint64 spanMs() const { return m_spanMs; }

    static constexpr qint64 DefaultSpanMs = 5 * 60 * 1000;

private:
    struct Sample {
        qint64 atMs = 0;
        ActivityCounters counters;
    };
    void append(Series series, qint64 atMs, double value);

    qint64 m_spanMs;
    std::optional<Sample> m_previous;
    std::array<std::deque<Point>, std::size_t(Series::Count)> m_series;
};

} // namespace fmb
