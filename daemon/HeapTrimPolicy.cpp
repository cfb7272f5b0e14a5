#include "HeapTrimPolicy.h"

#include <algorithm>

#include <QLoggingCategory>
#include <QTimer>

#include "base/HeapTrim.h"
#include "session/Logging.h"
#include "session/SessionRegistry.h"

namespace fmb {

HeapTrimPolicy::HeapTrimPolicy(SessionRegistry *registry, Limits limits, QObject *parent)
    : QObject(parent)
    , m_registry(registry)
    , m_limits(limits)
    , m_timer(new QTimer(this))
{
    m_timer->setSingleShot(true);
    m_timer->setInterval(m_limits.delay);
    connect(m_timer, &QTimer::timeout, this, &HeapTrimPolicy::trim);
    connect(registry, &SessionRegistry::sessionCreated, this,
            [this] { m_highWater = std::max(m_highWater, live()); });
    connect(registry, &SessionRegistry::sessionFinished, this, &HeapTrimPolicy::onSessionFinished);
}

HeapTrimPolicy::~HeapTrimPolicy() = default;

int HeapTrimPolicy::live() const
{
    return m_registry ? m_registry->count() + m_registry->stoppingCount() : 0;
}

void HeapTrimPolicy::onSessionFinished()
{
    // Every end of the wave restarts the delay: one trim, once it has settled.
    if (m_limits.afterEnded > 0 && m_highWater - live() >= m_limits.afterEnded)
        m_timer->start();
}

void HeapTrimPolicy::trim()
{
    const int now = live();
    const HeapTrim trim = trimHeap();
    qCInfo(lcSession).noquote() << QStringLiteral(
                                       "returned freed memory to the system after %1 sessions ended "
                                       "(%2 live; RSS %3 KiB -> %4 KiB)")
                                       .arg(m_highWater - now)
                                       .arg(now)
                                       .arg(trim.rssBeforeKiB)
                                       .arg(trim.rssAfterKiB);
    m_highWater = now;
}

} // namespace fmb
