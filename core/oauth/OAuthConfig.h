#pragma once

#include <chrono>

#include <QString>
#include <QStringList>

#include "HttpCaching.h"

namespace fmb {

// The authorization server's settings; the daemon fills them from BrokerConfig.
struct OAuthConfig {
    QString publicUrl; // external base URL without a trailing slash: the issuer, e.g. https://mcp.example.org
    QString resource;  // RFC 8707 / RFC 9728 resource; empty: publicUrl + "/mcp"
    std::chrono::seconds accessTokenTtl{3600};
    std::chrono::seconds refreshTokenTtl{30 * 24 * 3600};
    std::chrono::seconds codeTtl{60};
    std::chrono::seconds pendingTtl{600};         // consent page and upstream round trip, each
    std::chrono::seconds loginTtl{7 * 24 * 3600}; // the __Host-fmb_login cookie
    std::chrono::seconds purgeInterval{3600};     // TokenStore::purgeExpired; 0 = never
    // scopes_supported, the 401 challenge's scope, and what a request gets
    // that names none of them (RFC 6749 §3.3: unknown scopes are ignored).
    QStringList scopes{QStringLiteral("mcp")};
    bool allowPrivateMetadataHosts = false; // tests only: CIMD from loopback, over http
    std::chrono::milliseconds metadataTimeout{5000};
    qint64 maxMetadataBytes = 64 * 1024;
    qint64 maxRequestBytes = 64 * 1024;               // form and JSON bodies of the OAuth endpoints
    int maxPending = 10000;                           // consent pages and upstream round trips in flight
    QString upstreamName = QStringLiteral("Forgejo"); // shown on the consent page
    QString stateDir;                                 // holds login-cookie.key; empty: a key in memory
    // Issue 11: what unauthenticated callers of /oauth/register may cost.
    int registerRatePerMinute = 20;              // per client address (IPv6: per /64); 0 = no limit
    int maxPendingClients = 1000;                // registered, never authorized; 0 = no cap
    std::chrono::seconds pendingClientTtl{3600}; // then such a client is purged
    qint64 maxRegistrationBytes = 8 * 1024;      // the registration JSON
    CacheBounds metadataCache;                   // how long a fetched client metadata document is reused
};

} // namespace fmb
