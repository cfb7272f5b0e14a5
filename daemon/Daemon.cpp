#include "Daemon.h"

#include <algorithm>

#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QDateTime>
#include <QFileInfo>
#include <QHostAddress>
#include <QLoggingCategory>
#include <QProcessEnvironment>
#include <QStandardPaths>
#include <QSysInfo>
#include <QTimer>

#include "AuditTrail.h"
#include "HeapTrimPolicy.h"
#include "OAuthMode.h"
#include "admin/AdminPaths.h"
#include "admin/AdminServer.h"
#include "base/FileLimit.h"
#include "base/Redactor.h"
#include "base/SystemdNotifier.h"
#include "child/ChildEnvironment.h"
#include "child/ChildProcess.h"
#include "config/ConfigDiff.h"
#include "config/NodeId.h"
#include "observability/BrokerMetrics.h"
#include "observability/MetricsServer.h"
#include "session/SessionRegistry.h"
#include "store/BrokerDirectory.h"
#include "transport/Logging.h"
#include "transport/McpHttpServer.h"

namespace fmb {
namespace {

// A listen host as the config holds it (an address, or "localhost") as the address to bind.
QHostAddress listenAddress(const QString &host)
{
    return host == QLatin1String("localhost") ? QHostAddress(QHostAddress::LocalHost) : QHostAddress(host);
}

QString urlOf(const QHostAddress &address, quint16 port)
{
    const QString host = address.protocol() == QAbstractSocket::IPv6Protocol
                             ? QLatin1Char('[') + address.toString() + QLatin1Char(']')
                             : address.toString();
    return QStringLiteral("http://%1:%2").arg(host).arg(port);
}

Q_LOGGING_CATEGORY(lcDaemon, "fmb.daemon", QtInfoMsg)

// Each session holds a child's descriptors, and usually a connection or two:
// the default soft limit of 1024 would cap us near 250 sessions. Raises the
// limit and returns it.
quint64 raiseOpenFileLimit()
{
    const FileLimitChange files = raiseFileLimit();
    QString change = QStringLiteral("open-file limit (RLIMIT_NOFILE) at start %1 (hard %2), now %3 (hard %4)")
                         .arg(files.softBefore)
                         .arg(files.hardBefore)
                         .arg(files.softAfter)
                         .arg(files.hardAfter);
    if (!files.hardRaiseFailure.isEmpty())
        change += QStringLiteral("; raising the hard limit: %1").arg(files.hardRaiseFailure);
    qCInfo(lcDaemon).noquote() << change;
    return files.softAfter;
}

// Pipes unless max_sessions fits only with the socket's one descriptor less
// (docs/benchmarks.md, "Three descriptors per session").
ChildStdioKind chooseChildStdio(ChildStdioChoice choice, quint64 fileLimit, int maxSessions)
{
    switch (choice) {
    case ChildStdioChoice::Pipes:
        return ChildStdioKind::Pipes;
    case ChildStdioChoice::Socket:
        return ChildStdioKind::Socket;
    case ChildStdioChoice::Auto:
        break;
    }
    const int withPipes = sessionCeiling(fileLimit, ChildProcess::descriptors(ChildStdioKind::Pipes));
    return maxSessions <= withPipes ? ChildStdioKind::Pipes : ChildStdioKind::Socket;
}

// The child command's own directories: the program's, and those of its
// arguments that name existing absolute paths (a script, its folder). A
// script inside a node_modules tree gets the whole tree: Node reads the
// package's package.json and its dependencies beside it.
QList<SandboxPath> childCommandPaths(const BrokerConfig &config)
{
    const QString origin = QStringLiteral("child_command");
    QList<SandboxPath> paths;
    const QString program = QStandardPaths::findExecutable(config.childProgram);
    if (!program.isEmpty())
        paths.append(
            {QFileInfo(QFileInfo(program).canonicalFilePath()).absolutePath(), SandboxAccess::Read, origin});
    for (const QString &argument : config.childArguments) {
        const QFileInfo info(argument);
        if (!argument.startsWith(QLatin1Char('/')) || !info.exists())
            continue;
        QString directory =
            info.isDir() ? info.canonicalFilePath() : QFileInfo(info.canonicalFilePath()).absolutePath();
        const QLatin1String modules("/node_modules/");
        if (const qsizetype at = QString(directory + QLatin1Char('/')).indexOf(modules); at >= 0)
            directory = directory.left(at + modules.size() - 1);
        paths.append({directory, SandboxAccess::Read, origin});
    }
    return paths;
}

// The settings SIGHUP applies, each with how it is taken over. They are
// read on each use (a cap at the next session or connection, a timeout at the
// next request or sweep), so changing them disturbs nothing that runs. The
// rest wait for a restart: the listen address and admin socket are bound
// sockets; child settings are baked into the factory and the sandbox, built
// once around the state directory; OAuth settings live in the store, the
// authorization server and the rotator; the event loop is chosen before the
// application exists.
struct Reloadable {
    const char *key;
    void (*take)(BrokerConfig &running, const BrokerConfig &next);
};

constexpr Reloadable ReloadableSettings[] = {
    {"max_sessions", [](BrokerConfig &to, const BrokerConfig &from) { to.maxSessions = from.maxSessions; }},
    {"max_sessions_per_user",
     [](BrokerConfig &to, const BrokerConfig &from) { to.maxSessionsPerUser = from.maxSessionsPerUser; }},
    {"idle_timeout", [](BrokerConfig &to, const BrokerConfig &from) { to.idleTimeout = from.idleTimeout; }},
    {"reap_interval",
     [](BrokerConfig &to, const BrokerConfig &from) { to.reapInterval = from.reapInterval; }},
    {"max_batch_messages",
     [](BrokerConfig &to, const BrokerConfig &from) { to.maxBatchMessages = from.maxBatchMessages; }},
    {"max_pending_requests",
     [](BrokerConfig &to, const BrokerConfig &from) { to.maxPendingRequests = from.maxPendingRequests; }},
    {"max_subscriptions_per_session",
     [](BrokerConfig &to, const BrokerConfig &from) {
         to.maxSubscriptionsPerSession = from.maxSubscriptionsPerSession;
     }},
    {"allowed_origins",
     [](BrokerConfig &to, const BrokerConfig &from) { to.allowedOrigins = from.allowedOrigins; }},
    {"max_body_bytes",
     [](BrokerConfig &to, const BrokerConfig &from) { to.maxBodyBytes = from.maxBodyBytes; }},
    {"request_timeout",
     [](BrokerConfig &to, const BrokerConfig &from) { to.requestTimeout = from.requestTimeout; }},
    {"keepalive_timeout",
     [](BrokerConfig &to, const BrokerConfig &from) { to.keepAliveTimeout = from.keepAliveTimeout; }},
    {"max_connections",
     [](BrokerConfig &to, const BrokerConfig &from) { to.maxConnections = from.maxConnections; }},
    {"max_connections_per_address",
     [](BrokerConfig &to, const BrokerConfig &from) {
         to.maxConnectionsPerAddress = from.maxConnectionsPerAddress;
     }},
    {"log_rules", [](BrokerConfig &to, const BrokerConfig &from) { to.logRules = from.logRules; }},
};

// log_rules through QLoggingCategory's API: above a QT_LOGGING_CONF file and
// qtlogging.ini, below QT_LOGGING_RULES. No rules: the API adds none.
void applyLogRules(const QStringList &rules)
{
    QLoggingCategory::setFilterRules(rules.join(QLatin1Char('\n')));
}

const Reloadable *reloadable(const QString &key)
{
    for (const Reloadable &setting : ReloadableSettings) {
        if (key == QLatin1String(setting.key))
            return &setting;
    }
    return nullptr;
}

// The directory's rows as the admin protocol lists them.
QList<BrokerStatus> brokerStatuses(const QList<BrokerRecord> &records)
{
    QList<BrokerStatus> brokers;
    for (const BrokerRecord &record : records) {
        BrokerStatus status;
        status.nodeId = record.nodeId;
        status.host = record.host;
        status.pid = record.pid;
        status.listenUrl = record.listenUrl;
        status.startedMs = record.startedMs;
        status.heartbeatMs = record.heartbeatMs;
        status.heartbeatAgeMs = record.heartbeatAgeMs;
        status.staleAfterMs = record.staleAfterMs();
        status.stale = record.isStale();
        status.stoppedMs = record.stoppedMs;
        status.sessions = record.sessions;
        status.userChildren = record.userChildren;
        brokers.append(status);
    }
    return brokers;
}

} // namespace

Daemon::Daemon(BrokerConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_shutdownDeadline(new QTimer(this))
    , m_systemd(new SystemdNotifier(QProcessEnvironment::systemEnvironment(), this))
    , m_statusDelay(new QTimer(this))
{
    for (const auto &pair : std::as_const(m_config.childEnv))
        Redactor::addSecret(pair.second.toUtf8());
    if (!m_config.logRules.isEmpty())
        applyLogRules(m_config.logRules);

    ChildSpec spec;
    spec.program = m_config.childProgram;
    spec.arguments = m_config.childArguments;
    // The broker's own settings (FMB_*) and whatever else it runs with may
    // hold secrets: children start from an allow-list (issue 11).
    spec.environment =
        childEnvironment(QProcessEnvironment::systemEnvironment(), m_config.childPassEnv, m_config.childEnv);
    spec.maxLineBytes = m_config.childMaxLineBytes;
    spec.stopGrace = m_config.childStopGrace;
    auto factory = [this, spec](const SessionOwner &owner,
                                const QString &sessionId) -> std::unique_ptr<Backend> {
        ChildSpec forSession = spec;
        forSession.stdio = m_childStdio; // chosen in start(), from the open-file limit
        forSession.sandbox = m_sandbox;  // made in start(); null when off or unavailable
        forSession.label = QStringLiteral("session %1").arg(shortSessionId(sessionId));
        if (m_oauth) {
            // The user's current Forgejo token (also what a respawn after a
            // refresh picks up), read on the store thread: the child forks
            // once it arrives (issue 14).
            forSession.environmentProvider =
                [this, owner, session = shortSessionId(sessionId)](QObject *context, EnvironmentAnswer done) {
                    m_oauth->childEnvironment(
                        owner, context,
                        [session, done = std::move(done)](Result<QList<QPair<QString, QString>>> extra) {
                            if (!extra)
                                qCWarning(lcDaemon).noquote() << "no upstream token for session" << session
                                                              << ":" << extra.error().message;
                            done(std::move(extra));
                        });
                };
        }
        return std::make_unique<ChildProcess>(std::move(forSession));
    };
    m_registry = new SessionRegistry(registryLimits(), factory, this);
    new HeapTrimPolicy(m_registry, HeapTrimPolicy::Limits{}, this);
    connect(m_registry, &SessionRegistry::allStopped, this, [this] {
        qCInfo(lcDaemon) << "every child has stopped";
        Q_EMIT stopped();
    });

    OriginPolicy policy(m_config.allowedOrigins, m_config.listenHost, m_config.publicUrl);
    const Authenticator authenticator = [this](const QHttpServerRequest &request) -> AuthVerdict {
        if (m_oauth)
            return m_oauth->authenticate(request);
        return SessionOwner{QStringLiteral("local"), QString()};
    };
    m_server = new McpHttpServer(httpConfig(), policy, m_registry, authenticator, this);

    AdminServerConfig admin;
    // QLocalServer takes a name without a slash as one in the temp dir.
    admin.socketPath = m_config.adminSocket.isEmpty() ? defaultAdminSocketPath()
                                                      : QFileInfo(m_config.adminSocket).absoluteFilePath();
    admin.privateDirectory = m_config.adminSocket.isEmpty();
    m_admin = new AdminServer(admin, m_registry, this);

    // Sessions come and go by the hundred a second under load: systemd hears
    // the count at most once a second, not once a request.
    m_statusDelay->setSingleShot(true);
    m_statusDelay->setInterval(std::chrono::seconds(1));
    connect(m_statusDelay, &QTimer::timeout, this, [this] {
        if (!m_stopping)
            m_systemd->setStatus(statusText());
    });
    const auto statusChanged = [this] {
        if (m_systemd->enabled() && !m_statusDelay->isActive())
            m_statusDelay->start();
    };
    connect(m_registry, &SessionRegistry::sessionCreated, this, statusChanged);
    connect(m_registry, &SessionRegistry::sessionEnded, this, statusChanged);

    m_shutdownDeadline->setSingleShot(true);
    connect(m_shutdownDeadline, &QTimer::timeout, this, [this] {
        qCWarning(lcDaemon) << m_registry->stoppingCount()
                            << "sessions still stopping at the shutdown deadline";
        Q_EMIT stopped();
    });
}

Daemon::~Daemon() = default;

RegistryLimits Daemon::registryLimits() const
{
    RegistryLimits limits;
    limits.maxSessions = m_config.maxSessions;
    limits.idleTimeout = m_config.idleTimeout;
    limits.reapInterval = m_config.reapInterval;
    limits.streams.maxPendingRequests = m_config.maxPendingRequests;
    limits.streams.maxSubscriptions = m_config.maxSubscriptionsPerSession;
    if (m_config.authMode == AuthMode::OAuth)
        limits.maxSessionsPerOwner = m_config.maxSessionsPerUser;
    return limits;
}

// Without maxConnections: that needs the open-file limit (maxConnections()).
HttpConfig Daemon::httpConfig() const
{
    HttpConfig http;
    http.maxBodyBytes = m_config.maxBodyBytes;
    http.requestTimeoutMs = int(m_config.requestTimeout.count());
    http.idleTimeoutMs = int(m_config.keepAliveTimeout.count());
    http.maxConnectionsPerAddress = m_config.maxConnectionsPerAddress;
    http.maxBatchMessages = m_config.maxBatchMessages;
    http.parking = ParkingLimits{int(m_config.inputRequiredTtl.count()), m_config.maxParkedCallsPerUser};
    http.maxListenersPerUser = m_config.maxListenersPerUser;
    return http;
}

int Daemon::maxConnections() const
{
    // docs/limits.md, "connection flood": connections get the open-file share kept for them.
    const int connectionRoom = connectionCeiling(m_fileLimit);
    return m_config.maxConnections == 0 ? connectionRoom : std::min(m_config.maxConnections, connectionRoom);
}

Result<void> Daemon::start()
{
    m_fileLimit = raiseOpenFileLimit();
    const quint64 fileLimit = m_fileLimit;
    m_childStdio = chooseChildStdio(m_config.childStdio, fileLimit, m_config.maxSessions);
    const int perSession = ChildProcess::descriptors(m_childStdio);
    const int ceiling = sessionCeiling(fileLimit, perSession);
    qCInfo(lcDaemon).noquote() << QStringLiteral(
                                      "children's stdin and stdout: %1 (%2 descriptors per session "
                                      "with stderr and the pidfd); the open-file limit of %3 has "
                                      "room for %4 sessions (and a reserve)")
                                      .arg(m_childStdio == ChildStdioKind::Socket
                                               ? QStringLiteral("one socket")
                                               : QStringLiteral("pipes"))
                                      .arg(perSession)
                                      .arg(fileLimit)
                                      .arg(ceiling);
    m_registry->setFileCeiling(ceiling);
    if (m_config.maxSessions > ceiling) {
        qCWarning(lcDaemon).noquote()
            << QStringLiteral("max_sessions %1 is more than the open-file limit has room for: sessions "
                              "beyond %2 get 503 (raise the limit: ulimit -n, or LimitNOFILE= in the "
                              "systemd unit)")
                   .arg(m_config.maxSessions)
                   .arg(ceiling);
    }
    if (!m_config.auditLog.isEmpty() && m_config.auditLog != QLatin1String("off")) {
        auto log = std::make_unique<AuditLog>(m_config.auditLog);
        if (Result<void> opened = log->open(); !opened)
            return opened.error();
        m_audit = new AuditTrail(std::move(log), m_registry, m_admin, this);
        qCInfo(lcDaemon).noquote() << "audit trail to"
                                   << (m_config.auditLog == QLatin1String("-") ? QStringLiteral("journal")
                                                                               : m_config.auditLog);
    }
    if (m_config.authMode == AuthMode::OAuth) {
        m_oauth = new OAuthMode(m_config, m_registry, this);
        Result<void> opened = m_oauth->open();
        if (!opened)
            return opened.error();
        m_server->addRoutes(m_oauth->routes());
        if (m_audit)
            m_audit->watchAuthorization(m_oauth->authorization());
        m_admin->setUserRevoker([this](const QString &user, const AdminServer::RevokeReply &reply) {
            m_oauth->revokeUser(user, [reply](const Result<UserRevocation> &taken) {
                if (!taken) {
                    reply(taken.error());
                    return;
                }
                RevokeOutcome outcome;
                outcome.grants = taken.value().grants;
                outcome.brokerTokens = taken.value().brokerTokens;
                outcome.upstreamTokens = taken.value().upstreamTokens;
                reply(outcome);
            });
        });
    }
    // After the state directory exists: the sandbox is built around it.
    if (Result<void> sandbox = prepareSandbox(); !sandbox)
        return sandbox.error();
    // The admin socket first: a start that fails there must fail before
    // "listening on" tells anyone that the broker serves.
    Result<void> admin = m_admin->listen();
    if (!admin) {
        if (!m_config.adminSocket.isEmpty())
            return admin.error();
        qCWarning(lcDaemon).noquote()
            << admin.error().message << "; running without an admin socket (pass --admin-socket PATH)";
    }
    const QHostAddress address = listenAddress(m_config.listenHost);
    const int connectionRoom = connectionCeiling(fileLimit);
    const int maxConnections = this->maxConnections();
    if (m_config.maxConnections > connectionRoom)
        qCWarning(lcDaemon).noquote()
            << QStringLiteral("max_connections %1 is more than the open-file limit of %2 has room for: "
                              "capped at %3 (raise the limit: ulimit -n, or LimitNOFILE=)")
                   .arg(m_config.maxConnections)
                   .arg(fileLimit)
                   .arg(connectionRoom);
    qCInfo(lcDaemon).noquote() << QStringLiteral("at most %1 client connections, %2 from one address")
                                      .arg(maxConnections)
                                      .arg(m_config.maxConnectionsPerAddress);
    m_server->setMaxConnections(maxConnections);
    Result<quint16> port = m_server->listenOn(address, m_config.listenPort);
    if (!port) {
        m_admin->stopListening();
        return port.error();
    }
    const QString listenUrl = urlOf(address, port.value());
    m_listenUrl = listenUrl;
    // Known now: the default takes the port actually bound (--listen :0).
    m_nodeId = m_config.nodeId.isEmpty() ? defaultNodeId(QSysInfo::machineHostName(), port.value())
                                         : m_config.nodeId;
    m_registry->setNodeId(m_nodeId);
    m_server->setNodeId(m_nodeId);
    if (m_audit)
        m_audit->setNode(m_nodeId);
    if (!m_config.metricsHost.isEmpty()) {
        // Before "listening on": whoever waits for that line may scrape at once.
        if (Result<void> metrics = startMetrics(); !metrics) {
            m_server->stopListening();
            m_admin->stopListening();
            return metrics.error();
        }
    }

    DaemonInfo info;
    info.version = QStringLiteral(FMB_VERSION);
    info.nodeId = m_nodeId;
    info.startedMs = QDateTime::currentMSecsSinceEpoch();
    info.listenUrl = listenUrl;
    info.authMode = m_config.authMode == AuthMode::None ? QStringLiteral("none") : QStringLiteral("oauth");
    info.refreshLeadSeconds = int(m_config.refreshLead.count());
    m_admin->setDaemonInfo(info);
    startBrokerDirectory();
    qCInfo(lcHttp).noquote() << QStringLiteral("listening on %1").arg(listenUrl);
    qCInfo(lcDaemon).noquote() << "node id" << m_nodeId;
    qCInfo(lcDaemon).noquote() << "auth"
                               << (m_config.authMode == AuthMode::None ? "none (local mode)" : "oauth")
                               << "; child:" << m_config.childProgram << "; max sessions"
                               << m_config.maxSessions << "; idle timeout" << m_config.idleTimeout.count()
                               << "s; event loop"
                               << QCoreApplication::eventDispatcher()->metaObject()->className();
    // Only now: /mcp listens, the admin socket is up (or knowingly absent)
    // and the store is open, so a unit ordered After= this one finds it serving.
    m_systemd->ready(statusText());
    return {};
}

void Daemon::startBrokerDirectory()
{
    if (!m_oauth || !m_oauth->clusterDatabase())
        return;
    BrokerDirectoryConfig config;
    config.params = *m_oauth->clusterDatabase();
    config.nodeId = m_nodeId;
    config.host = QSysInfo::machineHostName();
    config.listenUrl = m_listenUrl;
    auto *directory = new BrokerDirectory(config, this);
    directory->setLoadProvider([registry = QPointer<SessionRegistry>(m_registry)] {
        BrokerLoad load;
        if (!registry)
            return load;
        const QList<Session *> sessions = registry->sessions();
        for (const Session *session : sessions)
            ++(session->kind() == SessionKind::UserChild ? load.userChildren : load.sessions);
        return load;
    });
    if (Result<void> opened = directory->open(); !opened) {
        // The store works without it: only the admin socket's view of the
        // other brokers is missing ("brokers" then lists this one).
        qCWarning(lcDaemon).noquote()
            << opened.error().message << "; the admin socket lists this broker only";
        delete directory;
        return;
    }
    m_directory = directory;
    // The directory answers on its own thread's schedule; the reply comes
    // back here, and only while m_admin (the context) lives.
    m_admin->setBrokerLister([this](AdminServer::BrokerReply reply) {
        if (!m_directory) {
            reply(Error{ErrorCode::Unavailable, m_nodeId, QStringLiteral("the broker directory is closed")});
            return;
        }
        m_directory->brokers(m_admin, [reply = std::move(reply)](Result<QList<BrokerRecord>> records) {
            if (!records) {
                reply(records.error());
                return;
            }
            reply(brokerStatuses(records.value()));
        });
    });
}

Result<void> Daemon::startMetrics()
{
    const QHostAddress address = listenAddress(m_config.metricsHost);
    const double startedSeconds = double(QDateTime::currentMSecsSinceEpoch()) / 1000.0;
    m_metrics = new MetricsServer(
        [this, startedSeconds] {
            return renderMetrics(readGauges(*m_registry, startedSeconds), QStringLiteral(FMB_VERSION),
                                 m_nodeId);
        },
        this);
    Result<quint16> port = m_metrics->listen(address, m_config.metricsPort);
    if (!port)
        return port.error();
    if (!address.isLoopback())
        qCWarning(lcDaemon).noquote() << "metrics_listen" << address.toString()
                                      << "is not a loopback address: /metrics is not authenticated, so "
                                         "only the scraper should reach it";
    qCInfo(lcDaemon).noquote() << QStringLiteral("metrics on %1/metrics").arg(urlOf(address, port.value()));
    return {};
}

QString Daemon::statusText() const
{
    const int sessions = m_registry->count();
    return QStringLiteral("serving on %1; %2 %3 open")
        .arg(m_listenUrl)
        .arg(sessions)
        .arg(sessions == 1 ? QStringLiteral("session") : QStringLiteral("sessions"));
}

void Daemon::reload(const Result<BrokerConfig> &next)
{
    if (m_stopping)
        return;
    m_systemd->reloading(QStringLiteral("reloading the configuration"));
    if (m_audit)
        m_audit->reopen(); // logrotate's postrotate sends SIGHUP
    if (!next) {
        qCWarning(lcDaemon).noquote() << "reload (SIGHUP): the configuration has an error, the running one "
                                         "stays:"
                                      << next.error().message;
        m_systemd->ready(statusText());
        return;
    }
    QStringList applied;
    QStringList needRestart;
    for (const ConfigChange &change : configChanges(m_config, next.value())) {
        if (const Reloadable *setting = reloadable(change.key)) {
            setting->take(m_config, next.value());
            applied.append(QStringLiteral("%1 %2 -> %3").arg(change.key, change.before, change.after));
        } else {
            needRestart.append(change.key); // named only: child_env's values are secrets
        }
    }
    if (!applied.isEmpty()) {
        applyLogRules(m_config.logRules);
        m_registry->setLimits(registryLimits());
        HttpConfig http = httpConfig();
        http.maxConnections = maxConnections();
        m_server->reconfigure(http,
                              OriginPolicy(m_config.allowedOrigins, m_config.listenHost, m_config.publicUrl));
        qCInfo(lcDaemon).noquote() << "reload (SIGHUP): applied" << applied.join(QLatin1String(", "));
    }
    if (!needRestart.isEmpty())
        qCWarning(lcDaemon).noquote() << "reload (SIGHUP): changed, but applied only after a restart:"
                                      << needRestart.join(QLatin1String(", "));
    if (applied.isEmpty() && needRestart.isEmpty())
        qCInfo(lcDaemon) << "reload (SIGHUP): no setting changed";
    m_systemd->ready(statusText());
}

Result<void> Daemon::prepareSandbox()
{
    if (m_config.childSandbox == ChildSandboxMode::Off) {
        qCWarning(lcDaemon) << "child_sandbox off: children can read everything the broker can, the "
                               "state directory and its keys included";
        return {};
    }
    QString why;
    const int abi = ChildSandbox::landlockAbi(&why);
    if (abi < 1) {
        if (m_config.childSandbox == ChildSandboxMode::Require)
            return Error{ErrorCode::Unavailable, QStringLiteral("child_sandbox"),
                         QStringLiteral("child_sandbox: \"require\", but %1").arg(why)};
        qCWarning(lcDaemon).noquote() << "children run without a Landlock sandbox:" << why
                                      << "(child_sandbox auto; \"require\" refuses to start)";
        return {};
    }
    QList<SandboxPath> allowed = defaultSandboxPaths() + childCommandPaths(m_config);
    for (const QString &path : std::as_const(m_config.childAllowRead))
        allowed.append({path, SandboxAccess::Read, QStringLiteral("child_allow_read")});
    for (const QString &path : std::as_const(m_config.childAllowWrite))
        allowed.append({path, SandboxAccess::Write, QStringLiteral("child_allow_write")});
    const QList<ProtectedPath> protectedPaths{
        {m_config.stateDir, QStringLiteral("state_dir")},
        {m_config.forgejoClientSecretFile, QStringLiteral("forgejo_client_secret_file")},
        {m_config.configFile, QStringLiteral("config")},
    };
    Result<SandboxPlan> plan = planSandbox(allowed, protectedPaths);
    if (!plan)
        return plan.error();
    for (const QString &note : std::as_const(plan.value().notes))
        qCInfo(lcDaemon).noquote() << note;
    Result<std::shared_ptr<const ChildSandbox>> sandbox = ChildSandbox::create(plan.value());
    if (!sandbox)
        return sandbox.error();
    m_sandbox = sandbox.value();
    QStringList denied;
    for (const ProtectedPath &path : protectedPaths) {
        if (!path.path.isEmpty())
            denied.append(path.what);
    }
    qCInfo(lcDaemon).noquote() << QStringLiteral("children run in a Landlock sandbox (ABI %1): %2 rules; "
                                                 "denied: %3")
                                      .arg(abi)
                                      .arg(plan.value().rules.size())
                                      .arg(denied.isEmpty() ? QStringLiteral("everything not allowed")
                                                            : denied.join(QLatin1String(", ")));
    return {};
}

void Daemon::shutdown()
{
    if (m_stopping)
        return;
    m_stopping = true;
    qCInfo(lcDaemon) << "shutting down:" << m_registry->count() << "sessions to stop";
    m_systemd->stopping(QStringLiteral("stopping %1 sessions").arg(m_registry->count()));
    m_server->stopListening();
    m_admin->stopListening(); // connected admin clients still see the sessions end
    if (m_directory)
        m_directory->stop(); // the others list us as stopped, not stale; ~BrokerDirectory waits for it
    // Each child gets the grace after stdin closes and again after SIGTERM.
    m_shutdownDeadline->start(m_config.childStopGrace * 2 + std::chrono::seconds(2));
    m_registry->shutdown();
}

} // namespace fmb
