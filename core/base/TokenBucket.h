#pragma once

#include <functional>

#include <QtGlobal>

namespace fmb {

// Rate limit for log lines a peer can cause (a child's stderr, junk on its
// stdout): a token bucket that allows `burst` at once and `perSecond`
// sustained, and counts what it refused so the caller can log the count.
// Also the per-address limit of /oauth/register, which refills at a
// fraction of a token per second. Not thread-safe; one per source.
class TokenBucket final {
public:
    using Clock = std::function<qint64()>; // milliseconds, monotonic

    TokenBucket(int burst, double perSecond, Clock clock = {});

    // True when one more line may be logged; false counts it as suppressed.
    [[nodiscard]] bool take();
    // The count of refusals since the last call, which resets it.
    [[nodiscard]] qint64 takeSuppressed();
    [[nodiscard]] qint64 suppressed() const { return m_suppressed; }
    // Milliseconds until take() would succeed; 0 when it would now.
    [[nodiscard]] qint64 msUntilNext() const;
    // Refilled to the burst: as if it had never been used.
    [[nodiscard]] bool isFull() const;

private:
    [[nodiscard]] double tokensAt(qint64 now) const;

    int m_burst;
    double m_perSecond;
    Clock m_clock;
    double m_tokens;
    qint64 m_lastRefill = 0;
    qint64 m_suppressed = 0;
};

} // namespace fmb
