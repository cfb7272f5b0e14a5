#include <QTest>

#include "ActivityHistory.h"

using namespace fmb;
using Series = ActivityHistory::Series;
using Point = ActivityHistory::Point;

// The console charts' data: sessions as sampled, rates from counter deltas,
// no rate across a daemon restart, a bounded window.
class tst_ActivityHistory : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void firstSampleHasNoRate();
    void rates();
    void restartStartsOver();
    void timeMustMoveForward();
    void breakRatesLeavesAGap();
    void keepsOnlyTheSpan();
    void clearForgetsEverything();
};

namespace {

ActivityCounters counters(quint64 requests, quint64 refreshes = 0, quint64 failures = 0, quint64 errors = 0)
{
    return ActivityCounters{requests, refreshes, failures, errors};
}

} // namespace

void tst_ActivityHistory::firstSampleHasNoRate()
{
    ActivityHistory history;
    history.add(1000, 3, counters(500));
    QCOMPARE(history.latest(Series::Sessions), std::optional<double>(3));
    QVERIFY(!history.latest(Series::RequestsPerSecond));
    QVERIFY(!history.latest(Series::ErrorsPerMinute));
}

void tst_ActivityHistory::rates()
{
    ActivityHistory history;
    history.add(10'000, 1, counters(100, 4, 1, 7));
    history.add(12'000, 2, counters(110, 5, 2, 8));
    QCOMPARE(history.latest(Series::Sessions), std::optional<double>(2));
    QCOMPARE(history.latest(Series::RequestsPerSecond), std::optional<double>(5));   // 10 in 2 s
    QCOMPARE(history.latest(Series::RefreshesPerMinute), std::optional<double>(30)); // 1 in 2 s
    // A failed refresh and a 5xx response: 2 in 2 s.
    QCOMPARE(history.latest(Series::ErrorsPerMinute), std::optional<double>(60));
    QCOMPARE(history.points(Series::RequestsPerSecond).size(), std::size_t(1));
    QCOMPARE(history.points(Series::RequestsPerSecond).front(), (Point{12'000, 5}));
    history.add(14'000, 2, counters(110, 5, 2, 8));
    QCOMPARE(history.latest(Series::RequestsPerSecond), std::optional<double>(0));
}

void tst_ActivityHistory::restartStartsOver()
{
    ActivityHistory history;
    history.add(1000, 1, counters(900, 3));
    history.add(2000, 1, counters(1000, 3));
    QCOMPARE(history.latest(Series::RequestsPerSecond), std::optional<double>(100));
    // The daemon restarted: its counters start again from zero. No rate
    // point (a negative or a guessed one would be a lie); the next one is right.
    history.add(3000, 0, counters(4, 0));
    QCOMPARE(history.points(Series::RequestsPerSecond).size(), std::size_t(1));
    QCOMPARE(history.latest(Series::Sessions), std::optional<double>(0));
    history.add(4000, 0, counters(24, 0));
    QCOMPARE(history.latest(Series::RequestsPerSecond), std::optional<double>(20));
}

void tst_ActivityHistory::timeMustMoveForward()
{
    ActivityHistory history;
    history.add(5000, 1, counters(10));
    history.add(5000, 9, counters(20));
    history.add(4000, 9, counters(30));
    QCOMPARE(history.points(Series::Sessions).size(), std::size_t(1));
    QCOMPARE(history.latest(Series::Sessions), std::optional<double>(1));
    history.add(6000, 2, counters(40));
    QCOMPARE(history.latest(Series::RequestsPerSecond), std::optional<double>(30));
}

void tst_ActivityHistory::breakRatesLeavesAGap()
{
    ActivityHistory history;
    history.add(1000, 1, counters(0));
    history.add(2000, 1, counters(10));
    history.breakRates(); // the connection was lost for a while
    history.add(60'000, 1, counters(5000));
    QCOMPARE(history.points(Series::RequestsPerSecond).size(), std::size_t(1));
    QCOMPARE(history.points(Series::Sessions).size(), std::size_t(3));
    history.add(61'000, 1, counters(5003));
    QCOMPARE(history.latest(Series::RequestsPerSecond), std::optional<double>(3));
}

void tst_ActivityHistory::keepsOnlyTheSpan()
{
    ActivityHistory history(10'000);
    for (qint64 second = 0; second <= 100; ++second)
        history.add(second * 1000, int(second), counters(quint64(second)));
    const std::deque<Point> &sessions = history.points(Series::Sessions);
    // The span, plus one point before it so the line reaches the left edge.
    QCOMPARE(sessions.size(), std::size_t(12));
    QCOMPARE(sessions.front().atMs, 89'000);
    QCOMPARE(sessions.back().atMs, 100'000);
    QCOMPARE(history.points(Series::RequestsPerSecond).size(), std::size_t(12));
}

void tst_ActivityHistory::clearForgetsEverything()
{
    ActivityHistory history;
    history.add(1000, 1, counters(0));
    history.add(2000, 1, counters(10));
    history.clear();
    for (int series = 0; series < int(Series::Count); ++series)
        QVERIFY(history.points(Series(series)).empty());
    history.add(3000, 1, counters(20));
    QVERIFY(!history.latest(Series::RequestsPerSecond)); // no rate against the forgotten sample
}

QTEST_APPLESS_MAIN(tst_ActivityHistory)
#include "tst_activityhistory.moc"
