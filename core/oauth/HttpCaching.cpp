#include "HttpCaching.h"

#include <algorithm>
#include <optional>

#include <QByteArray>
#include <QList>
#include <QLocale>

namespace fmb {
namespace {

// The value of `name=` among Cache-Control directives, when it is a
// non-negative number of seconds (quoted or not).
std::optional<qint64> directiveSeconds(const QList<QByteArray> &directives, QByteArrayView name)
{
    for (const QByteArray &directive : directives) {
        const qsizetype eq = directive.indexOf('=');
        if (eq < 0 || directive.left(eq).trimmed().toLower() != name)
            continue;
        QByteArray value = directive.mid(eq + 1).trimmed();
        if (value.size() >= 2 && value.startsWith('"') && value.endsWith('"'))
            value = value.mid(1, value.size() - 2);
        bool ok = false;
        const qint64 seconds = value.toLongLong(&ok);
        if (ok && seconds >= 0)
            return seconds;
    }
    return std::nullopt;
}

} // namespace

QDateTime parseHttpDate(QByteArrayView text)
{
    QDateTime parsed = QLocale::c().toDateTime(QString::fromLatin1(text.toByteArray().trimmed()),
                                               QStringLiteral("ddd, dd MMM yyyy HH:mm:ss 'GMT'"));
    if (!parsed.isValid())
        return {};
    parsed.setTimeSpec(Qt::UTC);
    return parsed;
}

std::chrono::seconds freshnessLifetime(QByteArrayView cacheControl, QByteArrayView expires,
                                       QByteArrayView date, const QDateTime &now, const CacheBounds &bounds)
{
    const auto clamp = [&bounds](qint64 seconds) {
        return std::clamp(std::chrono::seconds(seconds), bounds.floor, bounds.ceiling);
    };
    QList<QByteArray> directives = cacheControl.toByteArray().split(',');
    for (QByteArray &directive : directives)
        directive = directive.trimmed().toLower();
    if (directives.contains("no-store") || directives.contains("no-cache"))
        return clamp(0);
    if (const std::optional<qint64> shared = directiveSeconds(directives, "s-maxage"))
        return clamp(*shared);
    if (const std::optional<qint64> maxAge = directiveSeconds(directives, "max-age"))
        return clamp(*maxAge);
    if (!expires.isEmpty()) {
        // RFC 9111 §5.3: an invalid Expires ("0") means already expired.
        const QDateTime until = parseHttpDate(expires);
        if (!until.isValid())
            return clamp(0);
        const QDateTime served = parseHttpDate(date);
        return clamp((served.isValid() ? served : now).secsTo(until));
    }
    return clamp(bounds.fallback.count());
}

} // namespace fmb
