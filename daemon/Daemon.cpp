#include "Daemon.h"

#include <sys/resource.h>

#include <QHostAddress>
#include <QLoggingCategory>
#include <QProcessEnvironment>
#include <QTimer>

#include "base/Redactor.h"
#include "child/ChildProcess.h"
#include "session/SessionRegistry.h"
#include "transport/Logging.h"
#include "transport/McpHttpServer.h"

namespace fmb {
namespace {

Q_LOGGING_CATEGORY(lcDaemon, "fmb.daemon", QtInfoMsg)

// Each session holds a child (3 pipes) and usually a connection or two:
// the default soft limit of 1024 descriptors would cap us near 250 sessions.
void raiseFileLimit()
{
    struct rlimit limit = {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
        return;
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
        qCInfo(lcDaemon) << "raised the open-file limit (RLIMIT_NOFILE) from" << before << "to"
                         << limit.rlim_cur;
    }
}

QProcessEnvironment childEnvironment(const BrokerConfig &config)
{
    // The broker's own settings (FMB_*) may hold secrets: children do not inherit them.
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    const QStringList keys = environment.keys();
    for (const QString &key : keys) {
        if (key.startsWith(QLatin1String("FMB_")))
            environment.remove(key);
    }
    for (const auto &[name, value] : config.childEnv)
        environment.insert(name, value);
    return environment;
}

} // namespace

Daemon::Daemon(BrokerConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_shutdownDeadline(new QTimer(this))
{
    for (const auto &pair : std::as_const(m_config.childEnv))
        Redactor::addSecret(pair.second.toUtf8());

    RegistryLimits limits;
    limits.maxSessions = m_config.maxSessions;
    limits.idleTimeout = m_config.idleTimeout;
    limits.reapInterval = m_config.reapInterval;

    ChildSpec spec;
    spec.program = m_config.childProgram;
    spec.arguments = m_config.childArguments;
    spec.environment = childEnvironment(m_config);
    spec.maxLineBytes = m_config.childMaxLineBytes;
    spec.stopGrace = m_config.childStopGrace;
    auto factory = [spec](const SessionOwner &, const QString &sessionId) -> std::unique_ptr<Backend> {
        ChildSpec forSession = spec;
        forSession.label = QStringLiteral("session %1").arg(sessionId.left(8));
        return std::make_unique<ChildProcess>(std::move(forSession));
    };
    m_registry = new SessionRegistry(limits, factory, this);
    connect(m_registry, &SessionRegistry::allStopped, this, [this] {
        qCInfo(lcDaemon) << "every child has stopped";
        Q_EMIT stopped();
    });

    HttpConfig http;
    http.maxBodyBytes = m_config.maxBodyBytes;
    OriginPolicy policy(m_config.allowedOrigins, m_config.listenHost, m_config.publicUrl);
    const Authenticator local = [](const QHttpServerRequest &) -> Result<SessionOwner> {
        return SessionOwner{QStringLiteral("local"), QString()};
    };
    m_server = new McpHttpServer(http, policy, m_registry, local, this);

    m_shutdownDeadline->setSingleShot(true);
    connect(m_shutdownDeadline, &QTimer::timeout, this, [this] {
        qCWarning(lcDaemon) << m_registry->stoppingCount()
                            << "sessions still stopping at the shutdown deadline";
        Q_EMIT stopped();
    });
}

Daemon::~Daemon() = default;

Result<void> Daemon::start()
{
    raiseFileLimit();
    const QHostAddress address = m_config.listenHost == QLatin1String("localhost")
                                     ? QHostAddress(QHostAddress::LocalHost)
                                     : QHostAddress(m_config.listenHost);
    Result<quint16> port = m_server->listenOn(address, m_config.listenPort);
    if (!port)
        return port.error();
    const QString host = address.protocol() == QAbstractSocket::IPv6Protocol
                             ? QLatin1Char('[') + address.toString() + QLatin1Char(']')
                             : address.toString();
    qCInfo(lcHttp).noquote() << QStringLiteral("listening on http://%1:%2").arg(host).arg(port.value());
    qCInfo(lcDaemon).noquote() << "auth"
                               << (m_config.authMode == AuthMode::None ? "none (local mode)" : "oauth")
                               << "; child:" << m_config.childProgram << "; max sessions"
                               << m_config.maxSessions << "; idle timeout" << m_config.idleTimeout.count()
                               << "s";
    return {};
}

void Daemon::shutdown()
{
    if (m_stopping)
        return;
    m_stopping = true;
    qCInfo(lcDaemon) << "shutting down:" << m_registry->count() << "sessions to stop";
    m_server->stopListening();
    // Each child gets the grace after stdin closes and again after SIGTERM.
    m_shutdownDeadline->start(m_config.childStopGrace * 2 + std::chrono::seconds(2));
    m_registry->shutdown();
}

} // namespace fmb
