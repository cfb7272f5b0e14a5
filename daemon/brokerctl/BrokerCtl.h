#pragma once

#include <chrono>

#include <QObject>
#include <QStringList>

#include "admin/AdminProtocol.h"
#include "admin/AdminTarget.h"
#include "base/Result.h"

class QTimer;

namespace fmb {

class AdminClient;
class AdminFleet;

// forgejo-mcp-brokerctl's exit statuses (documented in --help).
namespace CtlExit {
constexpr int Ok = 0;
constexpr int Failed = 1;      // the broker answered with an error, evict found nothing, revoke declined
constexpr int Usage = 2;       // bad arguments
constexpr int Unreachable = 3; // no broker, socket not permitted, ssh failed, timeout
// migrate-store only:
constexpr int TargetNotEmpty = 4; // the target database holds data and --force was not given
constexpr int SourceInUse = 5;    // a running broker has the source database open
} // namespace CtlExit

struct CtlOptions {
    bool help = false;
    bool version = false;
    AdminTarget target;         // the first of targets
    QList<AdminTarget> targets; // every --admin-socket, then every --ssh (issue 14)
    QString command;            // list, info, evict, revoke, watch, brokers, migrate-store
    QStringList ids;
    QString user;
    bool all = false;
    bool yes = false;         // revoke: do not ask
    bool interactive = false; // stdin and stderr are a terminal (main sets it): revoke may ask
    bool json = false;
    bool verbose = false;
    std::chrono::milliseconds timeout{15000};
    // migrate-store
    QString from;           // sqlite:PATH
    QString to;             // postgresql://USER@HOST:PORT/DB
    QString toPasswordFile; // the target's password (never printed)
    bool force = false;     // empty a target that holds data first
};

// args: the full argv. InvalidArgument with a message for people.
[[nodiscard]] Result<CtlOptions> parseCtlArguments(const QStringList &args);
[[nodiscard]] QString ctlHelpText();

// Runs one command against the broker and reports through finished(exit status).
// Output goes to stdout, problems to stderr.
class BrokerCtl final : public QObject {
    Q_OBJECT
public:
    explicit BrokerCtl(CtlOptions options, QObject *parent = nullptr);
    ~BrokerCtl() override;

    // Asynchronous; finished() follows once.
    void start();

Q_SIGNALS:
    void finished(int exitStatus);

private:
    void onConnected();
    void runList();
    void runInfo();
    void runEvict();
    void runRevoke();
    void confirmRevoke();
    void runWatch();
    // Several targets (and brokers with any): one AdminFleet.
    [[nodiscard]] bool usesFleet() const;
    void onFleetSettled();
    void runFleetList();
    void runFleetEvict();
    void runBrokers();
    void finishFleet(const QStringList &problems, int status);
    // Prints what evict did (json: the result as sent); the exit status.
    [[nodiscard]] int reportEvict(const EvictOutcome &outcome, const QJsonValue &json) const;
    void fail(int exitStatus, const QString &message);
    void done(int exitStatus);

    CtlOptions m_options;
    AdminClient *m_client = nullptr; // child
    AdminFleet *m_fleet = nullptr;   // child; only when usesFleet()
    QTimer *m_timeout = nullptr;     // child
    bool m_done = false;
};

} // namespace fmb
