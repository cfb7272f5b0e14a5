#pragma once

#include <chrono>

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

namespace fmb {

enum class AuthMode { None, OAuth };

// Which event dispatcher runs the daemon's main thread: our epoll one, or the one
// Qt picks (glib on Debian), kept as a fall-back.
enum class EventLoop { Epoll, Qt };

// How a child's stdin and stdout are connected: two pipes (4 descriptors per
// session, the fastest), one socket (3 descriptors), or whichever lets
// max_sessions fit under the open-file limit, pipes first.
enum class ChildStdioChoice { Auto, Pipes, Socket };

// Whether children run in a Landlock sandbox: when the kernel has it (and a
// warning once when not), always (refuse to start without it), or never.
enum class ChildSandboxMode { Auto, Require, Off };

// Everything the daemon is configured with, after the INI file, FMB_*
// environment variables and command-line flags have been merged (flag over
// env over file) and validated. Plain value; defaults are the documented ones.
struct BrokerConfig {
    // [network]
    QString listenHost = QStringLiteral("127.0.0.1");
    quint16 listenPort = 8080; // 0 = let the OS pick
    QString metricsHost;       // empty: no /metrics listener
    quint16 metricsPort = 0;
    QStringList allowedOrigins;            // exact "scheme://host[:port]"
    qint64 maxBodyBytes = 4 * 1024 * 1024; // POST /mcp body limit (413 above)
    QString publicUrl;                     // external base URL, e.g. https://mcp.example.org
    // Connections (GuardedTcpServer): a whole request within requestTimeout
    // (the first from accept); an idle kept-alive one closed after keepAliveTimeout.
    std::chrono::milliseconds requestTimeout{30000};
    std::chrono::milliseconds keepAliveTimeout{90000};
    int maxConnections = 0;             // 0 = auto: an eighth of the open-file limit
    int maxConnectionsPerAddress = 256; // 0 = no per-address cap
    // 2026-07-28 calls parked for their client's input (multi round-trip requests).
    std::chrono::milliseconds inputRequiredTtl{120000};
    int maxParkedCallsPerUser = 16;
    int maxListenersPerUser = 16; // open 2026-07-28 subscriptions/listen streams

    // [auth]
    AuthMode authMode = AuthMode::OAuth;

    // [child]
    QString childProgram;                           // first word of --child-command
    QStringList childArguments;                     // the rest, split like a shell would
    QList<QPair<QString, QString>> childEnv;        // --child-env NAME=VALUE, in order
    qint64 childMaxLineBytes = 16 * 1024 * 1024;    // one JSON-RPC message from the child
    std::chrono::milliseconds childStopGrace{3000}; // stdin closed -> SIGTERM -> SIGKILL, each step
    ChildStdioChoice childStdio = ChildStdioChoice::Auto;
    QStringList childPassEnv; // --child-pass-env NAME: kept from our environment
    ChildSandboxMode childSandbox = ChildSandboxMode::Auto; // --child-sandbox
    QStringList childAllowRead;                             // --child-allow-read PATH: read + execute
    QStringList childAllowWrite;                            // --child-allow-write PATH: read, write, execute

    // [sessions]
    int maxSessions = 1000;
    std::chrono::seconds idleTimeout{900};
    std::chrono::seconds reapInterval{30};
    int maxBatchMessages = 1000;           // messages in one POSTed batch (issue 11)
    int maxPendingRequests = 1000;         // per session, awaiting their answer
    int maxSubscriptionsPerSession = 1000; // distinct resources/subscribe URIs

    // [oauth] (auth = oauth): the broker is the OAuth 2.1 authorization server
    // for MCP clients and an OAuth2 client of Forgejo.
    QString forgejoUrl; // https://forge.example.org (child gets FORGEJO_URL)
    QString forgejoClientId;
    QString forgejoClientSecretFile; // read at start; the secret is never logged
    QString stateDir;                // SQLite store + keys; empty = default (see --help)
    QString database;                // sqlite:PATH or postgresql://...; empty = SQLite in stateDir (issue 14)
    QString databasePasswordFile;    // PostgreSQL password, read at start, never logged
    QString nodeId;                  // unique per broker; empty = host name and listen port (issue 14)
    QString secretKeyFile;           // upstream-token key shared by a cluster; empty = the one in stateDir
    QString upstreamAuthorizeUrl;    // empty = <forgejo>/login/oauth/authorize
    QString upstreamTokenUrl;        // empty = <forgejo>/login/oauth/access_token
    QString upstreamUserUrl;         // empty = <forgejo>/api/v1/user
    QString tokenEnv = QStringLiteral("FORGEJO_ACCESS_TOKEN"); // child variable holding the token
    int maxSessionsPerUser = 20;                               // 0 = only the global cap
    std::chrono::seconds rotateInterval{60};              // how often expiring upstream tokens are looked for
    std::chrono::seconds refreshLead{300};                // refresh this long before the upstream expiry
    std::chrono::seconds accessTokenTtl{3600};            // broker access tokens
    std::chrono::seconds refreshTokenTtl{30 * 24 * 3600}; // broker refresh tokens
    bool metadataAllowPrivateHosts = false;               // CIMD fetches from loopback/private hosts (tests)
    int registerRate = 20;                                // /oauth/register per address a minute; 0 = off
    int maxPendingClients = 1000;                         // registered, never authorized; 0 = no cap
    std::chrono::seconds pendingClientTtl{3600};          // then such a client is purged
    qint64 maxRegistrationBytes = 8 * 1024;               // the /oauth/register body

    // Bearer checks answered from memory, and accepted while the database is away (issue 14).
    std::chrono::milliseconds bearerCacheTtl{5000};
    std::chrono::milliseconds bearerOutageGrace{900000};

    // [admin]
    QString adminSocket; // empty = default under the runtime dir
    QString
        auditLog; // empty or "off" = none; "journal" or "-" = the fmb.audit category; else a file (issue 15)

    // [process]
    EventLoop eventLoop = EventLoop::Epoll;
    QStringList logRules;     // Qt logging rules ("fmb.http.debug=true"); applied on SIGHUP too
    bool checkConfig = false; // --check-config: validate, print the verdict, exit 0 or 2

    // Where the file values came from, for messages ("" when no file).
    QString configFile;
};

} // namespace fmb
