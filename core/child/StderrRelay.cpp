#include "StderrRelay.h"

#include <algorithm>

#include <QElapsedTimer>

#include "base/Redactor.h"

namespace fmb {
namespace {

qint64 monotonicMs()
{
    static QElapsedTimer timer = [] {
        QElapsedTimer t;
        t.start();
        return t;
    }();
    return timer.elapsed();
}

} // namespace

StderrRelay::StderrRelay(QString label, Limits limits, Sink sink, Clock clock)
    : m_label(std::move(label))
    , m_limits(limits)
    , m_sink(std::move(sink))
    , m_clock(clock ? std::move(clock) : Clock(monotonicMs))
    , m_framer(64 * 1024)
    , m_tokens(limits.burst)
    , m_lastRefill(m_clock())
{}

bool StderrRelay::take()
{
    const qint64 now = m_clock();
    m_tokens =
        std::min<double>(m_limits.burst, m_tokens + (now - m_lastRefill) * m_limits.linesPerSecond / 1000.0);
    m_lastRefill = now;
    if (m_tokens < 1.0)
        return false;
    m_tokens -= 1.0;
    return true;
}

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
    if (!take()) {
        ++m_suppressed;
        return;
    }
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
    if (m_suppressed == 0)
        return;
    m_sink(m_label + QLatin1String(": [") + QString::number(m_suppressed) +
           QLatin1String(" stderr lines suppressed by the rate limit]"));
    m_suppressed = 0;
}

} // namespace fmb
