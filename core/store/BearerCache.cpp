#include "BearerCache.h"

#include <algorithm>

#include <QMutexLocker>

namespace fmb {
namespace {

struct KindName {
    BearerRevocation::Kind kind;
    QLatin1String name;
};
constexpr KindName KindNames[] = {
    {BearerRevocation::Kind::Token, QLatin1String("token")},
    {BearerRevocation::Kind::Family, QLatin1String("family")},
    {BearerRevocation::Kind::Grant, QLatin1String("grant")},
    {BearerRevocation::Kind::User, QLatin1String("user")},
    {BearerRevocation::Kind::Client, QLatin1String("client")},
};

bool matches(const TokenRecord &record, const BearerRevocation &revocation)
{
    switch (revocation.kind) {
    case BearerRevocation::Kind::Token:
        return record.hash.hex() == revocation.key.toLatin1();
    case BearerRevocation::Kind::Family:
        return record.familyId == revocation.key;
    case BearerRevocation::Kind::Grant:
        return record.grantId == revocation.key;
    case BearerRevocation::Kind::User:
        return record.userLogin == revocation.key;
    case BearerRevocation::Kind::Client:
        return record.clientId == revocation.key;
    }
    return false;
}

} // namespace

QString BearerRevocation::encode() const
{
    for (const KindName &entry : KindNames) {
        if (entry.kind == kind)
            return entry.name + QLatin1Char(':') + key;
    }
    return {};
}

std::optional<BearerRevocation> BearerRevocation::decode(const QString &payload)
{
    const qsizetype colon = payload.indexOf(QLatin1Char(':'));
    if (colon <= 0 || colon + 1 >= payload.size())
        return std::nullopt;
    const QStringView name = QStringView(payload).left(colon);
    for (const KindName &entry : KindNames) {
        if (name == entry.name)
            return BearerRevocation{entry.kind, payload.mid(colon + 1)};
    }
    return std::nullopt;
}

BearerCache::BearerCache(BearerCacheLimits limits)
    : m_limits(limits)
    , m_clock([] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now().time_since_epoch());
    })
{}

void BearerCache::setClock(Clock clock)
{
    const QMutexLocker lock(&m_mutex);
    m_clock = std::move(clock);
}

const BearerCache::Entry *BearerCache::usable(const TokenHash &hash, const QDateTime &now,
                                              std::chrono::milliseconds maxAge) const
{
    const auto found = m_entries.constFind(hash.hex());
    if (found == m_entries.cend())
        return nullptr;
    if (m_clock() - found->confirmedAt >= maxAge || now >= found->record.expiresAt)
        return nullptr;
    return &*found;
}

std::optional<TokenRecord> BearerCache::fresh(const TokenHash &hash, const QDateTime &now, bool *revalidate)
{
    const QMutexLocker lock(&m_mutex);
    const Entry *entry = enabled() ? usable(hash, now, m_limits.ttl) : nullptr;
    if (!entry)
        return std::nullopt;
    if (revalidate && !entry->revalidating && m_clock() - entry->confirmedAt >= m_limits.ttl / 2) {
        m_entries[hash.hex()].revalidating = true;
        *revalidate = true;
    }
    return entry->record;
}

std::optional<TokenRecord> BearerCache::duringOutage(const TokenHash &hash, const QDateTime &now) const
{
    const QMutexLocker lock(&m_mutex);
    const Entry *entry =
        enabled() ? usable(hash, now, std::max(m_limits.ttl, m_limits.outageGrace)) : nullptr;
    return entry ? std::optional(entry->record) : std::nullopt;
}

void BearerCache::confirm(const TokenRecord &record)
{
    const QMutexLocker lock(&m_mutex);
    if (!enabled() || record.hash.isNull())
        return;
    if (!m_entries.contains(record.hash.hex()))
        makeRoom();
    m_entries.insert(record.hash.hex(), Entry{record, m_clock()});
}

void BearerCache::makeRoom()
{
    if (m_entries.size() < m_limits.maxEntries)
        return;
    // Full: first whatever the outage grace no longer covers, then the
    // entry confirmed longest ago.
    const std::chrono::milliseconds oldest = m_clock() - std::max(m_limits.ttl, m_limits.outageGrace);
    m_entries.removeIf([oldest](const auto &entry) { return entry.value().confirmedAt <= oldest; });
    if (m_entries.size() < m_limits.maxEntries)
        return;
    const auto victim =
        std::min_element(m_entries.cbegin(), m_entries.cend(),
                         [](const Entry &a, const Entry &b) { return a.confirmedAt < b.confirmedAt; });
    m_entries.erase(victim);
}

void BearerCache::evict(const TokenHash &hash)
{
    const QMutexLocker lock(&m_mutex);
    m_entries.remove(hash.hex());
}

int BearerCache::evict(const BearerRevocation &revocation)
{
    const QMutexLocker lock(&m_mutex);
    if (revocation.kind == BearerRevocation::Kind::Token)
        return int(m_entries.remove(revocation.key.toLatin1()));
    return int(m_entries.removeIf(
        [&revocation](const auto &entry) { return matches(entry.value().record, revocation); }));
}

void BearerCache::expireAll()
{
    const QMutexLocker lock(&m_mutex);
    const std::chrono::milliseconds stale = m_clock() - m_limits.ttl;
    for (Entry &entry : m_entries)
        entry.confirmedAt = std::min(entry.confirmedAt, stale);
}

void BearerCache::clear()
{
    const QMutexLocker lock(&m_mutex);
    m_entries.clear();
}

int BearerCache::size() const
{
    const QMutexLocker lock(&m_mutex);
    return int(m_entries.size());
}

} // namespace fmb
