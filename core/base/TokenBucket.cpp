#include "TokenBucket.h"

#include <algorithm>
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

TokenBucket::TokenBucket(int burst, int perSecond, Clock clock)
    : m_burst(burst)
    , m_perSecond(perSecond)
    , m_clock(clock ? std::move(clock) : Clock(monotonicMs))
    , m_tokens(burst)
    , m_lastRefill(m_clock())
{}

bool TokenBucket::take()
{
    const qint64 now = m_clock();
    m_tokens = std::min<double>(m_burst, m_tokens + (now - m_lastRefill) * m_perSecond / 1000.0);
    m_lastRefill = now;
    if (m_tokens < 1.0) {
        ++m_suppressed;
        return false;
    }
    m_tokens -= 1.0;
    return true;
}

qint64 TokenBucket::takeSuppressed()
{
    return std::exchange(m_suppressed, 0);
}

} // namespace fmb
