#include "LineFramer.h"

namespace fmb {

LineFramer::LineFramer(qint64 maxLineBytes)
    : m_maxLineBytes(maxLineBytes)
{}

QList<LineFramer::Event> LineFramer::feed(QByteArrayView chunk)
{
    QList<Event> events;
    while (!chunk.isEmpty()) {
        const qsizetype newline = chunk.indexOf('\n');
        const QByteArrayView head = newline < 0 ? chunk : chunk.first(newline);
        chunk = newline < 0 ? QByteArrayView() : chunk.sliced(newline + 1);

        if (m_discarding) {
            m_discarded += head.size();
        } else if (m_buffer.size() + head.size() > m_maxLineBytes) {
            m_discarding = true;
            m_discarded = m_buffer.size() + head.size();
            m_buffer.clear();
            m_buffer.squeeze();
        } else {
            m_buffer.append(head);
        }
        if (newline < 0)
            break;

        if (m_discarding) {
            events.append(Event{{}, m_discarded});
            m_discarding = false;
            m_discarded = 0;
            continue;
        }
        if (m_buffer.endsWith('\r'))
            m_buffer.chop(1);
        if (!m_buffer.isEmpty())
            events.append(Event{std::exchange(m_buffer, {}), 0});
    }
    return events;
}

} // namespace fmb
