#include "TokenRotator.h"

#include <memory>

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
    // Another broker's refresh: called back on this thread from the store's
    // notification, never from inside one of our own calls.
    // The source may go first (siblings under one parent): the guard, not a
    // reset in our destructor, keeps the handler from calling a dead rotator.
    m_source->setTokensChangedHandler([guard = QPointer<TokenRotator>(this)](const QStringList &grantIds) {
        if (guard)
            guard->adopt(grantIds);
    });
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
    // The grant's key may have been learnt since its refresh started.
    return m_inFlightGrants.contains(grantId) || m_inFlight.contains(m_source->refreshKey(grantId));
}

void TokenRotator::onSessionCreated(Session *session)
{
    const QString grantId = session->owner().grantId;
    if (grantId.isEmpty())
        return;
    m_source->load({grantId}, [this, grantId, guard = QPointer<TokenRotator>(this),
                               created = QPointer<Session>(session)] {
        if (!guard)
            return;
        Result<QDateTime> expiry = m_source->expiryOf(grantId);
        if (created && expiry && expiry.value().isValid())
            created->setTokenExpiresMs(expiry.value().toMSecsSinceEpoch());
        // A session started on a token that is (nearly) expired gets a fresh one
        // right away rather than at the next sweep.
        if (expiry && expiry.value().isValid() &&
            expiry.value() <= QDateTime::currentDateTimeUtc().addMSecs(m_lead.count())) {
            QMetaObject::invokeMethod(
                this, [this, grantId] { refreshGrant(grantId); }, Qt::QueuedConnection);
        }
    });
}

int TokenRotator::sweep()
{
    if (!m_registry || m_sweeping)
        return 0;
    QSet<QString> grants;
    const QList<Session *> all = m_registry->sessions();
    for (Session *session : all) {
        if (!session->owner().grantId.isEmpty())
            grants.insert(session->owner().grantId);
    }
    const QStringList grantIds(grants.cbegin(), grants.cend());
    m_sweeping = true;
    auto started = std::make_shared<int>(0);
    m_source->load(grantIds, [this, grantIds, started, guard = QPointer<TokenRotator>(this)] {
        if (!guard)
            return;
        m_sweeping = false;
        *started = sweepLoaded(grantIds);
        Q_EMIT swept(*started);
    });
    return *started;
}

int TokenRotator::sweepLoaded(const QStringList &grantIds)
{
    const QDateTime horizon = QDateTime::currentDateTimeUtc().addMSecs(m_lead.count());
    int started = 0;
    for (const QString &grantId : grantIds) {
        Result<QDateTime> expiry = m_source->expiryOf(grantId);
        if (!expiry) {
            qCWarning(lcRotation).noquote() << "grant" << grantId.left(8) << ":" << expiry.error().message;
            continue;
        }
        if (!expiry.value().isValid())
            continue;
        if (expiry.value() > horizon)
            adopt({grantId}); // the bounded poll behind NOTIFY: refreshed elsewhere?
        else if (refreshGrant(grantId))
            ++started;
    }
    return started;
}

int TokenRotator::adopt(const QStringList &grantIds)
{
    if (!m_registry)
        return 0;
    int respawned = 0;
    QStringList adopted;
    for (const QString &grantId : grantIds) {
        if (isRefreshing(grantId))
            continue; // our own refresh respawns them when it lands
        Result<QDateTime> expiry = m_source->expiryOf(grantId);
        if (!expiry || !expiry.value().isValid())
            continue;
        const qint64 expiresMs = expiry.value().toMSecsSinceEpoch();
        const QList<Session *> sessions = sessionsOf({grantId});
        bool any = false;
        for (Session *session : sessions) {
            // The expiry is the tokens' version: a session started on older
            // tokens than the stored ones moves to them.
            if (session->tokenExpiresMs() >= expiresMs)
                continue;
            m_registry->respawn(session->id());
            session->setTokenExpiresMs(expiresMs);
            ++respawned;
            any = true;
        }
        if (any)
            adopted.append(grantId);
    }
    if (respawned > 0) {
        qCInfo(lcRotation).noquote() << "adopted upstream tokens refreshed by another broker;" << respawned
                                     << "sessions respawning";
        Q_EMIT tokensAdopted(adopted, respawned);
    }
    return respawned;
}

bool TokenRotator::refreshGrant(const QString &grantId)
{
    const QString key = m_source->refreshKey(grantId);
    if (m_inFlight.contains(key))
        return false;
    m_inFlight.insert(key);
    m_inFlightGrants.insert(grantId);
    qCInfo(lcRotation).noquote() << "refreshing the upstream token of grant" << grantId.left(8);
    const QDateTime dueBefore = QDateTime::currentDateTimeUtc().addMSecs(m_lead.count());
    m_source->refresh(grantId, dueBefore,
                      [this, grantId, key, guard = QPointer<TokenRotator>(this)](
                          Result<TokenSource::Refreshed, TokenSource::RefreshFailure> result) {
                          if (!guard)
                              return;
                          m_inFlight.remove(key);
                          m_inFlightGrants.remove(grantId);
                          if (result)
                              onRefreshed(grantId, result.value());
                          else
                              onFailed(grantId, result.error());
                      });
    return true;
}

void TokenRotator::onFailed(const QString &grantId, const TokenSource::RefreshFailure &failure)
{
    const Error &error = failure.error;
    if (failure.busy()) {
        // Another broker holds the refresh lock: its tokens come to us as an
        // announcement, or at the next sweep.
        qCInfo(lcRotation).noquote() << "grant" << grantId.left(8)
                                     << "is being refreshed by another broker; adopting its tokens";
        return;
    }
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
    const int evicted = m_registry
                            ? m_registry->evictGrants(dead, QStringLiteral("upstream token refresh failed"),
                                                      EndCause::RefreshFailed)
                            : 0;
    qCWarning(lcRotation).noquote() << "refresh of grant" << grantId.left(8) << "refused:" << error.message
                                    << "; evicting" << evicted << "sessions";
    metrics::add(metrics::Counter::RefreshesRefused);
    Q_EMIT grantFailed(grantId, error.message);
}

void TokenRotator::onRefreshed(const QString &grantId, const TokenSource::Refreshed &refreshed)
{
    if (refreshed.adopted) {
        // Another broker refreshed between our look at the expiry and the lock.
        qCInfo(lcRotation).noquote() << "grant" << grantId.left(8)
                                     << "was refreshed by another broker; adopting its tokens";
        adopt(refreshed.grantIds);
        return;
    }
    const qint64 expiresMs = refreshed.expiry.isValid() ? refreshed.expiry.toMSecsSinceEpoch() : 0;
    const QList<Session *> sessions = sessionsOf(refreshed.grantIds);
    for (Session *session : sessions) {
        m_registry->respawn(session->id());
        session->setTokenExpiresMs(expiresMs);
    }
    qCInfo(lcRotation).noquote() << "grant" << grantId.left(8) << "refreshed;" << sessions.size()
                                 << "sessions respawning";
    metrics::add(metrics::Counter::RefreshesSucceeded);
    Q_EMIT grantRefreshed(grantId, int(sessions.size()));
}

} // namespace fmb
