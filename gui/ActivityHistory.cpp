#include "ActivityHistory.h"

namespace fmb {

ActivityHistory::ActivityHistory(qint64 spanMs)
    : m_spanMs(spanMs)
{}

void ActivityHistory::add(qint64 atMs, int sessions, const ActivityCounters &counters)
{
    const std::deque<Point> &open = m_series[std::size_t(Series::Sessions)];
    if (!open.empty() && atMs <= open.back().atMs)
        return;
    append(Series::Sessions, atMs, sessions);

    const bool restarted = m_previous && (counters.requests < m_previous->counters.requests ||
                                          counters.refreshes < m_previous->counters.refreshes ||
                                          counters.refreshFailures < m_previous->counters.refreshFailures ||
                                          counters.errors < m_previous->counters.errors);
    if (m_previous && !restarted && atMs > m_previous->atMs) {
        const double seconds = double(atMs - m_previous->atMs) / 1000.0;
        const ActivityCounters &before = m_previous->counters;
        append(Series::RequestsPerSecond, atMs, double(counters.requests - before.requests) / seconds);
        append(Series::RefreshesPerMinute, atMs,
               double(counters.refreshes - before.refreshes) * 60.0 / seconds);
        const double errors = double(counters.errors - before.errors) +
                              double(counters.refreshFailures - before.refreshFailures);
        append(Series::ErrorsPerMinute, atMs, errors * 60.0 / seconds);
    }
    m_previous = Sample{atMs, counters};
}

void ActivityHistory::clear()
{
    m_previous.reset();
    for (std::deque<Point> &points : m_series)
        points.clear();
}

const std::deque<ActivityHistory::Point> &ActivityHistory::points(Series series) const
{
    return m_series[std::size_t(series)];
}

std::optional<double> ActivityHistory::latest(Series series) const
{
    const std::deque<Point> &points = m_series[std::size_t(series)];
    if (points.empty())
        return std::nullopt;
    return points.back().value;
}

void ActivityHistory::append(Series series, qint64 atMs, double value)
{
    std::deque<Point> &points = m_series[std::size_t(series)];
    points.push_back(Point{atMs, value});
    // Keep one point older than the span, so the line reaches the left edge.
    while (points.size() > 2 && points[1].atMs < atMs - m_spanMs)
        points.pop_front();
}

} // namespace fmb
