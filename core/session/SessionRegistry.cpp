#include "SessionRegistry.h"

#include <utility>

#include <QCoreApplication>
#include <QRandomGenerator>
#include <QTimer>

#include "Logging.h"
#include "base/Metrics.h"

namespace fmb {

namespace {

metrics::Counter endedCounter(EndCause cause)
{
    switch (cause) {
    case EndCause::ChildExit:
        return metrics::Counter::SessionsEndedChildExit;
    case EndCause::Client:
        return metrics::Counter::SessionsEndedClient;
    case EndCause::Idle:
        return metrics::Counter::SessionsEndedIdle;
    case EndCause::Operator:
        return metrics::Counter::SessionsEndedOperator;
    case EndCause::Revoked:
        return metrics::Counter::SessionsEndedRevoked;
    case EndCause::RefreshFailed:
        return metrics::Counter::SessionsEndedRefreshFailed;
    case EndCause::Shutdown:
        return metrics::Counter::SessionsEndedShutdown;
    }
    return metrics::Counter::SessionsEndedChildExit;
}

// Takes the answer to the broker's own initialize of a user child: the
// session keeps the result (Session::initializeResult), nobody else waits.
class BrokerSink final : public StreamSink {
public:
    using StreamSink::StreamSink;
    void sendJson(AnswerKind, const QByteArray &) override { m_open = false; }
    void begin() override {}
    void sendEvent(const QByteArray &, const QByteArray &, int) override {}
    void end() override { m_open = false; }
    [[nodiscard]] bool isOpen() const override { return m_open; }

private:
    bool m_open = true;
};

} // namespace

SessionRegistry::SessionRegistry(RegistryLimits limits, BackendFactory factory, QObject *parent)
    : QObject(parent)
    , m_limits(limits)
    , m_factory(std::move(factory))
    , m_reaper(new QTimer(this))
{
    m_reaper->setInterval(m_limits.reapInterval);
    connect(m_reaper, &QTimer::timeout, this, &SessionRegistry::reapIdle);
    m_reaper->start();
}

SessionRegistry::~SessionRegistry() = default;

void SessionRegistry::setLimits(RegistryLimits limits)
{
    limits.fileCeiling = m_limits.fileCeiling;
    m_limits = limits;
    if (m_reaper->interval() != int(m_limits.reapInterval.count()))
        m_reaper->setInterval(m_limits.reapInterval); // restarts the timer when running
}

QString SessionRegistry::newId() const
{
    // 192 bits from the system CSPRNG (getrandom), as 48 hex digits.
    quint32 words[6];
    QRandomGenerator::system()->fillRange(words);
    static_assert(sizeof(words) * 2 == RandomIdHexDigits);
    const QString random =
        QString::fromLatin1(QByteArray(reinterpret_cast<const char *>(words), sizeof(words)).toHex());
    return m_nodeId.isEmpty() ? random : m_nodeId + QLatin1Char('-') + random;
}

Result<Session *> SessionRegistry::create(const SessionOwner &owner, SessionKind kind)
{
    if (m_shuttingDown)
        return Error{ErrorCode::Unavailable, QString(), QStringLiteral("the broker is shutting down")};
    if (count() >= m_limits.maxSessions) {
        return Error{
            ErrorCode::LimitReached, QStringLiteral("max_sessions"),
            QStringLiteral("session limit reached (%1 of max_sessions %1)").arg(m_limits.maxSessions)};
    }
    if (m_limits.fileCeiling > 0 && count() + stoppingCount() >= m_limits.fileCeiling) {
        // Past this, spawning fails with EMFILE: refuse cleanly instead (503, not 502).
        return Error{ErrorCode::LimitReached, QStringLiteral("open_files"),
                     QStringLiteral("session limit reached (%1 open, %2 stopping; the open-file limit "
                                    "has room for %3)")
                         .arg(count())
                         .arg(stoppingCount())
                         .arg(m_limits.fileCeiling)};
    }
    if (m_limits.maxSessionsPerOwner > 0 && countFor(owner.user) >= m_limits.maxSessionsPerOwner) {
        return Error{ErrorCode::LimitReached, QStringLiteral("max_sessions_per_user"),
                     QStringLiteral("%1 has %2 sessions, the limit per user")
                         .arg(owner.user)
                         .arg(m_limits.maxSessionsPerOwner)};
    }
    QString id = newId();
    while (m_sessions.contains(id))
        id = newId();
    std::unique_ptr<Backend> backend = m_factory(owner, id);
    if (!backend)
        return Error{ErrorCode::Unavailable, id, QStringLiteral("no backend could be made for this session")};

    auto *session = new Session(id, owner, m_limits.streams, this);
    session->setKind(kind);
    m_sessions.insert(id, session);
    ++m_perOwner[owner.user];
    connect(session, &Session::ended, this,
            [this, session](const QString &, const QString &reason) { onEnded(session, reason); });
    connect(session, &Session::finished, this, [this, session] { onFinished(session); });
    session->start(std::move(backend));
    metrics::add(metrics::Counter::SessionsStarted);
    qCInfo(lcSession).noquote() << "session" << shortSessionId(id) << "created for" << owner.user << "("
                                << count() << "open)";
    Q_EMIT sessionCreated(session);
    return session;
}

QJsonObject SessionRegistry::userChildInitialize(const QJsonValue &id)
{
    QString version = QCoreApplication::applicationVersion();
    if (version.isEmpty())
        version = QStringLiteral("0");
    const QJsonObject params{
        {QStringLiteral("protocolVersion"), QStringLiteral("2025-11-25")},
        {QStringLiteral("capabilities"), QJsonObject{{QStringLiteral("sampling"), QJsonObject()},
                                                     {QStringLiteral("elicitation"), QJsonObject()},
                                                     {QStringLiteral("roots"), QJsonObject()}}},
        {QStringLiteral("clientInfo"),
         QJsonObject{{QStringLiteral("name"), QStringLiteral("forgejo-mcp-broker")},
                     {QStringLiteral("version"), version}}},
    };
    return QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                       {QStringLiteral("id"), id},
                       {QStringLiteral("method"), QStringLiteral("initialize")},
                       {QStringLiteral("params"), params}};
}

Result<Session *> SessionRegistry::userChild(const SessionOwner &owner)
{
    if (Session *running = m_userChildren.value(owner.user))
        return running;
    Result<Session *> created = create(owner, SessionKind::UserChild);
    if (!created)
        return created;
    Session *session = created.value();
    m_userChildren.insert(owner.user, session);
    // The handshake as a client of the server's revision makes it: initialized
    // only after the answer to initialize (2025-11-25 lifecycle). An SDK server
    // handles a notification that comes sooner before it knows the client's
    // capabilities, and server-everything then registers no sampling or
    // elicitation tools. Client requests wait for ready() (transport), so
    // initialized, connected first, reaches the server before them.
    (void)session->post({classify(userChildInitialize(QStringLiteral("fmb-init")))}, false,
                        new BrokerSink(session));
    connect(
        session, &Session::ready, session,
        [session] {
            (void)session->post({classify(QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                                                      {QStringLiteral("method"),
                                                       QStringLiteral("notifications/initialized")}})},
                                false, nullptr);
        },
        Qt::SingleShotConnection);
    qCInfo(lcSession).noquote() << "user child" << session->id().left(8) << "started for" << owner.user;
    return session;
}

Session *SessionRegistry::find(const QString &id) const
{
    return m_sessions.value(id);
}

QList<Session *> SessionRegistry::sessions() const
{
    return m_sessions.values();
}

bool SessionRegistry::evict(const QString &id, const QString &reason, EndCause cause)
{
    Session *session = m_sessions.value(id);
    if (!session)
        return false;
    stopSession(session, reason, cause);
    return true;
}

void SessionRegistry::stopSession(Session *session, const QString &reason, EndCause cause)
{
    // stop() ends the session at once: onEnded() runs inside it.
    const EndCause outer = std::exchange(m_endingCause, cause);
    session->stop(reason);
    m_endingCause = outer;
}

int SessionRegistry::evictOwner(const QString &user, const QString &reason)
{
    return evictWhere([&user](const Session &session) { return session.owner().user == user; }, reason,
                      EndCause::Operator);
}

int SessionRegistry::evictGrants(const QStringList &grantIds, const QString &reason, EndCause cause)
{
    return evictWhere(
        [&grantIds](const Session &session) {
            const QString &grantId = session.owner().grantId;
            return !grantId.isEmpty() && grantIds.contains(grantId);
        },
        reason, cause);
}

int SessionRegistry::evictWhere(const std::function<bool(const Session &)> &matches, const QString &reason,
                                EndCause cause)
{
    // Collected first: stop() ends the session, which takes it out of m_sessions.
    QList<Session *> victims;
    for (Session *session : std::as_const(m_sessions)) {
        if (matches(*session))
            victims.append(session);
    }
    for (Session *session : std::as_const(victims))
        stopSession(session, reason, cause);
    return int(victims.size());
}

int SessionRegistry::evictAll(const QString &reason, EndCause cause)
{
    const QList<Session *> victims = m_sessions.values();
    for (Session *session : victims)
        stopSession(session, reason, cause);
    return int(victims.size());
}

int SessionRegistry::reapIdle()
{
    const qint64 limit = m_limits.idleTimeout.count();
    QList<Session *> idle;
    for (Session *session : std::as_const(m_sessions)) {
        if (session->idleMs() > limit)
            idle.append(session);
    }
    for (Session *session : std::as_const(idle)) {
        qCInfo(lcSession).noquote() << "session" << shortSessionId(session->id()) << "idle for"
                                    << session->idleMs() / 1000 << "s; evicting";
        stopSession(session, QStringLiteral("idle timeout"), EndCause::Idle);
    }
    return int(idle.size());
}

bool SessionRegistry::respawn(const QString &id)
{
    Session *session = m_sessions.value(id);
    if (!session)
        return false;
    std::unique_ptr<Backend> backend = m_factory(session->owner(), id);
    if (!backend)
        return false;
    session->respawn(std::move(backend));
    return true;
}

void SessionRegistry::onEnded(Session *session, const QString &reason)
{
    if (m_sessions.remove(session->id()) == 0)
        return;
    const QString user = session->owner().user;
    if (m_userChildren.value(user) == session)
        m_userChildren.remove(user);
    if (--m_perOwner[user] <= 0)
        m_perOwner.remove(user);
    m_stopping.insert(session, true);
    metrics::add(endedCounter(m_endingCause));
    qCInfo(lcSession).noquote() << "session" << shortSessionId(session->id()) << "ended:" << reason << "("
                                << count() << "open)";
    Q_EMIT sessionEnded(session->id(), reason);
}

void SessionRegistry::onFinished(Session *session)
{
    m_stopping.remove(session);
    session->deleteLater();
    Q_EMIT sessionFinished(session->id());
    if (m_shuttingDown && m_sessions.isEmpty() && m_stopping.isEmpty())
        Q_EMIT allStopped();
}

void SessionRegistry::shutdown()
{
    m_shuttingDown = true;
    m_reaper->stop();
    evictAll(QStringLiteral("broker shutting down"), EndCause::Shutdown);
    if (m_sessions.isEmpty() && m_stopping.isEmpty())
        QMetaObject::invokeMethod(this, &SessionRegistry::allStopped, Qt::QueuedConnection);
}

} // namespace fmb
