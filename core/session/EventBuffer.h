#pragma once

#include <deque>

#include <QByteArray>
#include <QList>

namespace fmb {

// The events of one SSE stream, numbered from 1, kept for redelivery to a
// client that reconnects with Last-Event-ID (MCP 2025-11-25, "Resumability
// and Redelivery"). Bounded by count and bytes: the oldest go first. Pure.
class EventBuffer final {
public:
    struct Event {
        qint64 seq = 0;
        QByteArray data;
    };

    EventBuffer(qsizetype maxEvents, qsizetype maxBytes);

    qint64 append(QByteArray data);                     // returns the new event's seq
    [[nodiscard]] QList<Event> after(qint64 seq) const; // held events with a larger seq, in order
    [[nodiscard]] qint64 lastSeq() const { return m_lastSeq; }
    [[nodiscard]] qsizetype size() const { return qsizetype(m_events.size()); }
    [[nodiscard]] qsizetype bytes() const { return m_bytes; }
    [[nodiscard]] qint64 dropped() const { return m_dropped; }

private:
    std::deque<Event> m_events;
    qsizetype m_maxEvents;
    qsizetype m_maxBytes;
    qsizetype m_bytes = 0;
    qint64 m_lastSeq = 0;
    qint64 m_dropped = 0;
};

} // namespace fmb
