#pragma once

#include <chrono>

#include <QByteArrayView>
#include <QDateTime>

// How long a fetched response may be reused (RFC 9111 §4.2.1), for client
// ID metadata documents: the draft asks authorization servers to respect
// HTTP caching headers. Pure: no I/O.
namespace fmb {

struct CacheBounds {
    std::chrono::seconds floor{300}; // also for no-store / no-cache: an SSRF flood gets one fetch per 5 min
    std::chrono::seconds ceiling{86400}; // a document changes within a day at the latest
    std::chrono::seconds fallback{3600}; // no Cache-Control lifetime and no Expires
};

// s-maxage (the broker is a cache shared by its users), else max-age, else
// Expires minus Date (or minus `now` without a valid Date), else the
// fallback; no-store, no-cache and an Expires in the past mean "not at
// all", which the floor raises. The result is clamped to the bounds.
[[nodiscard]] std::chrono::seconds freshnessLifetime(QByteArrayView cacheControl, QByteArrayView expires,
                                                     QByteArrayView date, const QDateTime &now,
                                                     const CacheBounds &bounds = {});

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); invalid otherwise.
[[nodiscard]] QDateTime parseHttpDate(QByteArrayView text);

} // namespace fmb
