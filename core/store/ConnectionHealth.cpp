#include "ConnectionHealth.h"

#include <algorithm>

#include "Logging.h"
#include "base/Metrics.h"

namespace fmb {

ConnectionHealth::ConnectionHealth(QString where, Reopen reopen)
    : m_where(std::move(where))
    , m_reopen(std::move(reopen))
{}

void ConnectionHealth::lost(const QString &why)
{
    if (m_down)
        return;
    m_down = true;
    m_attempts = 0;
    m_backoff = std::chrono::milliseconds(0); // the first reopen at once: a restart may be over already
    m_sinceDown.start();
    m_sinceAttempt.start();
    metrics::add(metrics::Counter::StoreConnectionsLost);
    qCWarning(lcStore,
              "lost the connection to %s: %s; cached bearer tokens stay valid, other requests "
              "get 503 until it is back",
              qPrintable(m_where), qPrintable(why));
}

Result<void> ConnectionHealth::ready()
{
    if (!m_down)
        return {};
    if (m_sinceAttempt.elapsed() < m_backoff.count())
        return unavailable();
    ++m_attempts;
    m_sinceAttempt.start();
    if (Result<void> reopened = m_reopen(); !reopened.ok()) {
        m_backoff = std::clamp(m_backoff * 2, FirstRetry, MaxRetry);
        qCDebug(lcStore, "reconnect %d to %s failed: %s; next in %lld ms", m_attempts, qPrintable(m_where),
                qPrintable(reopened.error().message), static_cast<long long>(m_backoff.count()));
        return unavailable();
    }
    m_down = false;
    metrics::add(metrics::Counter::StoreReconnects);
    qCInfo(lcStore, "reconnected to %s after %lld ms down (%d attempts)", qPrintable(m_where),
           static_cast<long long>(m_sinceDown.elapsed()), m_attempts);
    return {};
}

int ConnectionHealth::retryAfterSeconds() const
{
    if (!m_down)
        return 1;
    const qint64 left = m_backoff.count() - m_sinceAttempt.elapsed();
    return int(std::max<qint64>(1, (left + 999) / 1000));
}

Error ConnectionHealth::unavailable() const
{
    return Error{ErrorCode::Unavailable, m_where,
                 QStringLiteral("the database is unreachable; retrying in %1 s").arg(retryAfterSeconds())};
}

} // namespace fmb
