#include "EventBuffer.h"

#include <algorithm>

namespace fmb {

EventBuffer::EventBuffer(qsizetype maxEvents, qsizetype maxBytes)
    : m_maxEvents(std::max<qsizetype>(1, maxEvents))
    , m_maxBytes(maxBytes)
{}

qint64 EventBuffer::append(QByteArray data)
{
    m_bytes += data.size();
    m_events.push_back(Event{++m_lastSeq, std::move(data)});
    // Keep at least the newest event, even when it alone is over the byte limit.
    while (m_events.size() > 1 && (qsizetype(m_events.size()) > m_maxEvents || m_bytes > m_maxBytes)) {
        m_bytes -= m_events.front().data.size();
        m_events.pop_front();
        ++m_dropped;
    }
    return m_lastSeq;
}

QList<EventBuffer::Event> EventBuffer::after(qint64 seq) const
{
    QList<Event> out;
    auto it = std::upper_bound(m_events.begin(), m_events.end(), seq,
                               [](qint64 value, const Event &event) { return value < event.seq; });
    for (; it != m_events.end(); ++it)
        out.append(*it);
    return out;
}

} // namespace fmb
