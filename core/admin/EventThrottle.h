#pragma once

#include <QHash>
#include <QSet>
#include <QString>
#include <QStringList>

namespace fmb {

// At most one event per key per interval: the first goes out at once, later
// ones within the interval are folded into one that takeDue() releases when the
// interval has passed. Pure: the caller passes a monotonic clock in ms.
class EventThrottle final {
public:
    explicit EventThrottle(qint64 intervalMs);

    // True: send now (remembered as sent). False: held for takeDue().
    [[nodiscard]] bool offer(const QString &key, qint64 nowMs);
    // The held keys whose interval has passed, now counted as sent.
    [[nodiscard]] QStringList takeDue(qint64 nowMs);
    // Drops everything about key (the session ended).
    void forget(const QString &key);
    [[nodiscard]] bool hasHeld() const { return !m_held.isEmpty(); }
    // Milliseconds until the next held key is due; -1 when none is held.
    [[nodiscard]] qint64 msUntilNextDue(qint64 nowMs) const;

private:
    qint64 m_intervalMs;
    QHash<QString, qint64> m_lastSent;
    QSet<QString> m_held;
};

} // namespace fmb
