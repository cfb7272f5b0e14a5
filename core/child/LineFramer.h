#pragma once

#include <QByteArray>
#include <QList>

namespace fmb {

// Splits a byte stream into newline-terminated lines (MCP stdio framing).
// A line longer than the limit is dropped whole: its bytes are discarded up to
// the next newline and reported once as an overflow. Pure; no I/O.
class LineFramer final {
public:
    struct Event {
        QByteArray line;          // without the newline and a trailing '\r'
        qint64 overflowBytes = 0; // > 0: a line of (at least) this size was dropped
    };

    explicit LineFramer(qint64 maxLineBytes);

    // Feeds a chunk; returns the complete lines (and overflows) it finished.
    // Empty lines are skipped.
    [[nodiscard]] QList<Event> feed(QByteArrayView chunk);

    // Bytes held for an unfinished line (bounded by the limit).
    [[nodiscard]] qsizetype buffered() const { return m_buffer.size(); }

private:
    qint64 m_maxLineBytes;
    QByteArray m_buffer;
    bool m_discarding = false;
    qint64 m_discarded = 0;
};

} // namespace fmb
