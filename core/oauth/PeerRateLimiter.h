#pragma once

#include <QHash>
#include <QString>

#include "base/TokenBucket.h"

class QHostAddress;

namespace fmb {

// A token bucket per client address, for endpoints anyone may call without
// credentials (/oauth/register). IPv6 addresses count per /64, the
// smallest block one host usually holds. Buckets that have refilled are
// dropped when the table reaches `maxPeers`; if none has, the table starts
// over (logged), so memory stays bounded whatever the number of addresses.
// Not thread-safe.
class PeerRateLimiter final {
public:
    using Clock = TokenBucket::Clock;

    // `perMinute` <= 0 turns the limit off; the burst is `perMinute` too.
    PeerRateLimiter(int perMinute, int maxPeers, Clock clock = {});

    // 0 when `peer` may go on (and is counted); else the milliseconds until
    // it may try again.
    [[nodiscard]] qint64 take(const QHostAddress &peer);
    [[nodiscard]] int trackedPeers() const { return int(m_buckets.size()); }
    [[nodiscard]] static QString keyOf(const QHostAddress &peer);

private:
    void makeRoom();

    int m_perMinute;
    int m_maxPeers;
    Clock m_clock;
    QHash<QString, TokenBucket> m_buckets;
};

} // namespace fmb
