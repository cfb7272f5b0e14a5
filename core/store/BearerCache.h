#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QDateTime>
#include <QHash>
#include <QMutex>
#include <QString>

#include "store/StoreRecords.h"
#include "store/TokenHash.h"

namespace fmb {

// How long a bearer check may be answered from memory (issue 14).
struct BearerCacheLimits {
    // A cached access token is trusted without asking the database for this
    // long after the database last confirmed it; also the bound on how late
    // a revocation whose NOTIFY was lost reaches this broker. Zero: no cache.
    std::chrono::milliseconds ttl{5000};
    // While the database is unreachable, a cached token is still accepted
    // for this long after its last confirmation (never past its own expiry).
    // Zero: an outage refuses every bearer check the cache cannot answer fresh.
    std::chrono::milliseconds outageGrace{std::chrono::minutes(15)};
    // At most this many tokens are held; the longest unconfirmed go first.
    int maxEntries = 100000;
};

// What a revocation took away, as other brokers' caches must hear it:
// one access token, a refresh token family, a grant, a user, or a client.
// Carries hashes and record ids only, never a token.
struct BearerRevocation {
    enum class Kind { Token, Family, Grant, User, Client };
    Kind kind = Kind::Token;
    QString key; // the token hash (hex), family id, grant id, user login or client id

    // "grant:<id>" and so on: the NOTIFY payload.
    [[nodiscard]] QString encode() const;
    [[nodiscard]] static std::optional<BearerRevocation> decode(const QString &payload);
};

// Live access tokens the database confirmed, by their hash (never the
// token): lets steady-state bearer checks skip the database round trip, and
// keeps open sessions working through a database outage. Pure bookkeeping,
// no I/O; the store decides when to ask it. Thread-safe: the daemon's
// bearer guard reads it on the HTTP thread while its store fills and evicts
// it on the store thread (see StoreRunner).
class BearerCache final {
public:
    using Clock = std::function<std::chrono::milliseconds()>; // monotonic

    explicit BearerCache(BearerCacheLimits limits = {});

    [[nodiscard]] const BearerCacheLimits &limits() const { return m_limits; }
    [[nodiscard]] bool enabled() const { return m_limits.ttl.count() > 0 && m_limits.maxEntries > 0; }
    void setClock(Clock clock);

    // The record when the database confirmed it less than `ttl` ago and it
    // has not expired by `now`. `revalidate`, when given, is set once per
    // confirmation when half the TTL has passed: the caller should have the
    // database confirm it again (off the HTTP thread), so that a token in
    // use never reaches the TTL and never waits for a statement.
    [[nodiscard]] std::optional<TokenRecord> fresh(const TokenHash &hash, const QDateTime &now,
                                                   bool *revalidate = nullptr);
    // The record when it was confirmed less than `outageGrace` ago and has
    // not expired by `now`: for when the database cannot be asked.
    [[nodiscard]] std::optional<TokenRecord> duringOutage(const TokenHash &hash, const QDateTime &now) const;

    // The database just confirmed `record` (a live access token).
    void confirm(const TokenRecord &record);
    void evict(const TokenHash &hash);
    // Evicts what `revocation` names; returns how many entries went.
    int evict(const BearerRevocation &revocation);
    // After a reconnect: notifications may have been missed, so nothing is
    // fresh any more (entries stay for the outage grace).
    void expireAll();
    void clear();
    [[nodiscard]] int size() const;

private:
    struct Entry {
        TokenRecord record;
        std::chrono::milliseconds confirmedAt{0};
        bool revalidating = false; // asked for since confirmedAt
    };
    [[nodiscard]] const Entry *usable(const TokenHash &hash, const QDateTime &now,
                                      std::chrono::milliseconds maxAge) const;
    void makeRoom(); // with m_mutex held

    BearerCacheLimits m_limits;
    Clock m_clock;
    mutable QMutex m_mutex;             // guards m_clock and m_entries
    QHash<QByteArray, Entry> m_entries; // by TokenHash::hex()
};

} // namespace fmb
