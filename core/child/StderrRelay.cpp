#include "StderrRelay.h"

#include "base/Redactor.h"

namespace fmb {

StderrRelay::StderrRelay(QString label, Limits limits, Sink sink, Clock clock)
    : m_label(std::move(label))
    , m_limits(limits)
    , m_sink(std::move(sink))
    , m_framer(64 * 1024)
    , m_bucket(limits.burst, limits.linesPerSecond, std::move(clock))
{}

void StderrRelay::feed(QByteArrayView chunk)
{
    const QList<LineFramer::Event> events = m_framer.feed(chunk);
    for (const LineFramer::Event &event : events) {
        if (event.overflowBytes > 0)
            emitLine(QByteArray("[a stderr line of ") + QByteArray::number(event.overflowBytes) +
                     " bytes was dropped]");
        else
            emitLine(event.line);
    }
}

void StderrRelay::emitLine(const QByteArray &line)
{
    if (!m_bucket.take())
        return;
    flush();
    QString text = QString::fromUtf8(Redactor::redact(line));
    if (text.size() > m_limits.maxLineChars) {
        text.truncate(m_limits.maxLineChars);
        text += QStringLiteral("… [truncated]");
    }
    m_sink(m_label + QLatin1String(": ") + text);
}

void StderrRelay::flush()
{
    const qint64 suppressed = m_bucket.takeSuppressed();
    if (suppressed == 0)
        return;
    m_sink(m_label + QLatin1String(": [") + QString::number(suppressed) +
           QLatin1String(" stderr lines suppressed by the rate limit]"));
}

} // namespace fmb
