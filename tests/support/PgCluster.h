#pragma once

#include <memory>

#include <QProcess>
#include <QString>
#include <QTemporaryDir>

#include "base/Result.h"
#include "store/PostgresTokenStore.h"

namespace fmbtest {

// A throwaway PostgreSQL cluster for tests: initdb into a temporary
// directory, one postgres server listening only on a Unix socket in that
// directory (no TCP), stopped and removed when the object goes. PostgreSQL
// refuses to run as root: under root the directory is handed to `nobody`
// and initdb and postgres drop to that user before exec. Trust
// authentication for the one role `fmb` (the socket directory is private).
// Use from one thread.
class PgCluster final {
public:
    PgCluster();
    ~PgCluster();
    PgCluster(const PgCluster &) = delete;
    PgCluster &operator=(const PgCluster &) = delete;

    // Why no cluster can run here (the Debian `postgresql` binaries or the
    // QPSQL driver are missing); empty when one can.
    [[nodiscard]] static QString unavailableReason();

    // initdb, then postgres; returns once it accepts connections.
    [[nodiscard]] fmb::Result<void> start();
    [[nodiscard]] bool isRunning() const;
    void stop();
    // The server alone, keeping the data (a database outage and its end):
    // stopServer() is a fast shutdown that disconnects every client.
    void stopServer();
    [[nodiscard]] fmb::Result<void> startServer();

    // A new empty database on the cluster, and how to reach it.
    [[nodiscard]] fmb::Result<fmb::PostgresParams> createDatabase();
    [[nodiscard]] fmb::PostgresParams params(const QString &database) const;
    // The same as a --database URL.
    [[nodiscard]] QString url(const QString &database) const;
    [[nodiscard]] QString socketDir() const;
    // The server's log so far (for failure messages).
    [[nodiscard]] QByteArray log() const { return m_log; }

private:
    [[nodiscard]] fmb::Result<void> runTool(const QString &tool, const QStringList &arguments);
    void configureAsServerUser(QProcess &process) const;

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<QProcess> m_server;
    QByteArray m_log;
    int m_databases = 0;
    int m_uid = -1; // the server user when we run as root
    int m_gid = -1;
};

} // namespace fmbtest
