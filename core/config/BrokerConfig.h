#pragma once

#include <chrono>

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

namespace fmb {

enum class AuthMode { None, OAuth };

// Everything the daemon is configured with, after the INI file, FMB_*
// environment variables and command-line flags have been merged (flag over
// env over file) and validated. Plain value; defaults are the documented ones.
struct BrokerConfig {
    // [network]
    QString listenHost = QStringLiteral("127.0.0.1");
    quint16 listenPort = 8080;                      // 0 = let the OS pick
    QStringList allowedOrigins;                     // exact "scheme://host[:port]"
    qint64 maxBodyBytes = 4 * 1024 * 1024;          // POST /mcp body limit (413 above)
    QString publicUrl;                              // external base URL, e.g. https://mcp.example.org

    // [auth]
    AuthMode authMode = AuthMode::None;

    // [child]
    QString childProgram;                           // first word of --child-command
    QStringList childArguments;                     // the rest, split like a shell would
    QList<QPair<QString, QString>> childEnv;        // --child-env NAME=VALUE, in order
    qint64 childMaxLineBytes = 16 * 1024 * 1024;    // one JSON-RPC message from the child
    std::chrono::milliseconds childStopGrace{3000}; // stdin closed -> SIGTERM -> SIGKILL, each step

    // [sessions]
    int maxSessions = 1000;
    std::chrono::seconds idleTimeout{900};
    std::chrono::seconds reapInterval{30};

    // [admin]
    QString adminSocket;                            // empty = default under the runtime dir

    // Where the file values came from, for messages ("" when no file).
    QString configFile;
};

} // namespace fmb
