#include "TokenBucket.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <QElapsedTimer>

namespace fmb {
namespace {

qint64 monotonicMs()
{
    static QElapsedTimer timer = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return timer.elapsed();
}

} // namespace

TokenBucket::TokenBucket(int burst, double perSecond, Clock clock)
    : m_burst(burst)
    , m_perSecond(perSecond)
    , m_clock(clock ? std::move(clock) : Clock(monotonicMs))
    , m_tokens(burst)
    , m_lastRefill(m_clock())
{}

double TokenBucket::tokensAt(qint64 now) const
{
    return std::min<double>(m_burst, m_tokens + double(now - m_lastRefill) * m_perSecond / 1000.0);
}

bool TokenBucket::take()
{
    const qint64 now = m_clock();
    m_tokens = tokensAt(now);
    m_lastRefill = now;
    if (m_tokens < 1.0) {
        ++m_suppressed;
        return false;
    }
    m_tokens -= 1.0;
    return true;
}

qint64 TokenBucket::msUntilNext() const
{
    const double missing = 1.0 - tokensAt(m_clock());
    if (missing <= 0.0)
        return 0;
    if (m_perSecond <= 0.0)
        return std::numeric_limits<qint64>::max();
    // The epsilon keeps 1 / (2/60 per s) at 30000 ms, not 30001.
    return qint64(std::ceil(missing * 1000.0 / m_perSecond - 1e-6));
}

bool TokenBucket::isFull() const
{
    return tokensAt(m_clock()) >= m_burst;
}

qint64 TokenBucket::takeSuppressed()
{
    return std::exchange(m_suppressed, 0);
}

} // namespace fmb
