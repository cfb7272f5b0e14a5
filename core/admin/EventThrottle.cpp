#include "EventThrottle.h"

#include <algorithm>

namespace fmb {

EventThrottle::EventThrottle(qint64 intervalMs)
    : m_intervalMs(intervalMs)
{}

bool EventThrottle::offer(const QString &key, qint64 nowMs)
{
    const auto last = m_lastSent.constFind(key);
    if (last == m_lastSent.cend() || nowMs - *last >= m_intervalMs) {
        m_lastSent.insert(key, nowMs);
        m_held.remove(key);
        return true;
    }
    m_held.insert(key);
    return false;
}

QStringList EventThrottle::takeDue(qint64 nowMs)
{
    QStringList due;
    for (const QString &key : std::as_const(m_held)) {
        if (nowMs - m_lastSent.value(key) >= m_intervalMs)
            due.append(key);
    }
    for (const QString &key : std::as_const(due)) {
        m_held.remove(key);
        m_lastSent.insert(key, nowMs);
    }
    due.sort();
    return due;
}

void EventThrottle::forget(const QString &key)
{
    m_lastSent.remove(key);
    m_held.remove(key);
}

qint64 EventThrottle::msUntilNextDue(qint64 nowMs) const
{
    qint64 next = -1;
    for (const QString &key : m_held) {
        const qint64 wait = std::max<qint64>(0, m_lastSent.value(key) + m_intervalMs - nowMs);
        if (next < 0 || wait < next)
            next = wait;
    }
    return next;
}

} // namespace fmb
