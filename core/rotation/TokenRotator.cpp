#include "TokenRotator.h"

#include <QDateTime>
#include <QTimer>

#include "Logging.h"
#include "TokenSource.h"
#include "base/Metrics.h"
#include "session/SessionRegistry.h"

namespace fmb {

TokenRotator::TokenRotator(SessionRegistry *registry, TokenSource *source, std::chrono::milliseconds interval,
                           std::chrono::milliseconds lead, QObject *parent)
    : QObject(parent)
    , m_registry(registry)
    , m_source(source)
    , m_lead(lead)
    , m_timer(new QTimer(this))
{
    m_timer->setInterval(interval);
    connect(m_timer, &QTimer::timeout, this, &TokenRotator::sweep);
    m_timer->start();
    connect(registry, &SessionRegistry::sessionCreated, this, &TokenRotator::onSessionCreated);
}

TokenRotator::~TokenRotator() = default;

QList<Session *> TokenRotator::sessionsOf(const QStringList &grantIds) const
{
    QList<Session *> out;
    if (!m_registry)
        return out;
    const QList<Session *> all = m_registry->sessions();
    for (Session *session : all) {
        if (!session->owner().grantId.isEmpty() && grantIds.contains(session->owner().grantId))
            out.append(session);
    }
    return out;
}

bool TokenRotator::isRefreshing(const QString &grantId) const
{
    return m_inFlight.contains(m_source->refreshKey(grantId));
}

void TokenRotator::onSessionCreated(Session *session)
{
    const QString grantId = session->owner().grantId;
    if (grantId.isEmpty())
        return;
    Result<QDateTime> expiry = m_source->expiryOf(grantId);
    if (expiry && expiry.value().isValid())
        session->setTokenExpiresMs(expiry.value().toMSecsSinceEpoch());
    // A session started on a token that is (nearly) expired gets a fresh one
    // right away rather than at the next sweep.
    if (expiry && expiry.value().isValid() &&
        expiry.value() <= QDateTime::currentDateTimeUtc().addMSecs(m_lead.count())) {
        QMetaObject::invokeMethod(
            this, [this, grantId] { refreshGrant(grantId); }, Qt::QueuedConnection);
    }
}

int TokenRotator::sweep()
{
    if (!m_registry)
        return 0;
    QSet<QString> grants;
    const QList<Session *> all = m_registry->sessions();
    for (Session *session : all) {
        if (!session->owner().grantId.isEmpty())
            grants.insert(session->owner().grantId);
    }
    const QDateTime horizon = QDateTime::currentDateTimeUtc().addMSecs(m_lead.count());
    int started = 0;
    for (const QString &grantId : std::as_const(grants)) {
        Result<QDateTime> expiry = m_source->expiryOf(grantId);
        if (!expiry) {
            qCWarning(lcRotation).noquote() << "grant" << grantId.left(8) << ":" << expiry.error().message;
            continue;
        }
        if (expiry.value().isValid() && expiry.value() <= horizon && refreshGrant(grantId))
            ++started;
    }
    return started;
}

bool TokenRotator::refreshGrant(const QString &grantId)
{
    const QString key = m_source->refreshKey(grantId);
    if (m_inFlight.contains(key))
        return false;
    m_inFlight.insert(key);
    qCInfo(lcRotation).noquote() << "refreshing the upstream token of grant" << grantId.left(8);
    m_source->refresh(grantId, [this, grantId, key, guard = QPointer<TokenRotator>(this)](
                                   Result<TokenSource::Refreshed, TokenSource::RefreshFailure> result) {
        if (!guard)
            return;
        m_inFlight.remove(key);
        if (!result) {
            const TokenSource::RefreshFailure &failure = result.error();
            const Error &error = failure.error;
            if (!failure.refused()) {
                // Forgejo unreachable: the token may still be good; the next sweep tries again.
                qCWarning(lcRotation).noquote()
                    << "refresh of grant" << grantId.left(8) << "failed for now:" << error.message;
                metrics::add(metrics::Counter::RefreshesUnavailable);
                Q_EMIT grantFailed(grantId, error.message);
                return;
            }
            // The source revoked the grants that shared the dead token; their
            // sessions go now, so each client's next request gets a clean 401.
            QStringList dead = failure.revokedGrantIds;
            if (!dead.contains(grantId))
                dead.append(grantId);
            const int evicted =
                m_registry ? m_registry->evictGrants(dead, QStringLiteral("upstream token refresh failed"),
                                                     EndCause::RefreshFailed)
                           : 0;
            qCWarning(lcRotation).noquote()
                << "refresh of grant" << grantId.left(8) << "refused:" << error.message << "; evicting"
                << evicted << "sessions";
            metrics::add(metrics::Counter::RefreshesRefused);
            Q_EMIT grantFailed(grantId, error.message);
            return;
        }
        const qint64 expiresMs =
            result.value().expiry.isValid() ? result.value().expiry.toMSecsSinceEpoch() : 0;
        const QList<Session *> sessions = sessionsOf(result.value().grantIds);
        for (Session *session : sessions) {
            m_registry->respawn(session->id());
            session->setTokenExpiresMs(expiresMs);
        }
        qCInfo(lcRotation).noquote() << "grant" << grantId.left(8) << "refreshed;" << sessions.size()
                                     << "sessions respawning";
        metrics::add(metrics::Counter::RefreshesSucceeded);
        Q_EMIT grantRefreshed(grantId, int(sessions.size()));
    });
    return true;
}

} // namespace fmb
