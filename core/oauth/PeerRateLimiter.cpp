#include "PeerRateLimiter.h"

#include <QHostAddress>

#include "Logging.h"

namespace fmb {

PeerRateLimiter::PeerRateLimiter(int perMinute, int maxPeers, Clock clock)
    : m_perMinute(perMinute)
    , m_maxPeers(std::max(1, maxPeers))
    , m_clock(std::move(clock))
{}

QString PeerRateLimiter::keyOf(const QHostAddress &peer)
{
    bool mapped = false;
    const quint32 v4 = peer.toIPv4Address(&mapped);
    if (mapped)
        return QHostAddress(v4).toString();
    if (peer.protocol() != QAbstractSocket::IPv6Protocol)
        return peer.toString();
    Q_IPV6ADDR bytes = peer.toIPv6Address();
    for (int i = 8; i < 16; ++i)
        bytes[i] = 0;
    return QHostAddress(bytes).toString() + QStringLiteral("/64");
}

qint64 PeerRateLimiter::take(const QHostAddress &peer)
{
    if (m_perMinute <= 0)
        return 0;
    const QString key = keyOf(peer);
    auto bucket = m_buckets.find(key);
    if (bucket == m_buckets.end()) {
        if (m_buckets.size() >= m_maxPeers)
            makeRoom();
        bucket = m_buckets.insert(key, TokenBucket(m_perMinute, m_perMinute / 60.0, m_clock));
    }
    if (bucket->take())
        return 0;
    return std::max<qint64>(1, bucket->msUntilNext());
}

void PeerRateLimiter::makeRoom()
{
    for (auto it = m_buckets.begin(); it != m_buckets.end();)
        it = it->isFull() ? m_buckets.erase(it) : std::next(it);
    if (m_buckets.size() >= m_maxPeers) {
        qCWarning(lcOAuth).noquote() << m_buckets.size()
                                     << "client addresses are rate limited at once, the most the table holds;"
                                     << "forgetting them all";
        m_buckets.clear();
    }
}

} // namespace fmb
