#pragma once

#include <functional>

#include <QByteArray>
#include <QString>

#include "LineFramer.h"
#include "base/TokenBucket.h"

namespace fmb {

// Turns a child's stderr bytes into log lines: split, truncated, passed
// through the Redactor, and rate limited by a TokenBucket so a chatty child
// cannot flood the log. Suppressed lines are counted and reported with the
// next line that gets through.
class StderrRelay final {
public:
    using Sink = std::function<void(const QString &line)>;
    using Clock = TokenBucket::Clock;

    struct Limits {
        int burst = 50;          // lines allowed at once
        int linesPerSecond = 10; // sustained rate
        qsizetype maxLineChars = 1000;
    };

    StderrRelay(QString label, Limits limits, Sink sink, Clock clock = {});

    void feed(QByteArrayView chunk);
    // Reports a pending suppression count (call when the child exits).
    void flush();
    [[nodiscard]] qint64 suppressed() const { return m_bucket.suppressed(); }

private:
    void emitLine(const QByteArray &line);

    QString m_label;
    Limits m_limits;
    Sink m_sink;
    LineFramer m_framer;
    TokenBucket m_bucket;
};

} // namespace fmb
