#pragma once

#include <functional>

#include <QByteArray>
#include <QString>

#include "LineFramer.h"

namespace fmb {

// Turns a child's stderr bytes into log lines: split, truncated, passed
// through the Redactor, and rate limited by a token bucket so a chatty child
// cannot flood the log. Suppressed lines are counted and reported with the
// next line that gets through.
class StderrRelay final {
public:
    using Sink = std::function<void(const QString &line)>;
    using Clock = std::function<qint64()>; // milliseconds, monotonic

    struct Limits {
        int burst = 50;          // lines allowed at once
        int linesPerSecond = 10; // sustained rate
        qsizetype maxLineChars = 1000;
    };

    StderrRelay(QString label, Limits limits, Sink sink, Clock clock = {});

    void feed(QByteArrayView chunk);
    // Reports a pending suppression count (call when the child exits).
    void flush();
    [[nodiscard]] qint64 suppressed() const { return m_suppressed; }

private:
    void emitLine(const QByteArray &line);
    [[nodiscard]] bool take();

    QString m_label;
    Limits m_limits;
    Sink m_sink;
    Clock m_clock;
    LineFramer m_framer;
    double m_tokens;
    qint64 m_lastRefill = 0;
    qint64 m_suppressed = 0;
};

} // namespace fmb
