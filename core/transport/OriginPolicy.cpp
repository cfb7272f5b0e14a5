#include "OriginPolicy.h"

#include "base/HostNames.h"

#include <QHostAddress>
#include <QUrl>

namespace fmb {
namespace {

bool isLoopbackName(const QString &host)
{
    // RFC 6761 §6.3: *.localhost names are loopback too.
    return host.endsWith(QLatin1String(".localhost")) || isLoopbackHost(host);
}

// QUrl::host() gives IPv6 literals without brackets; Host headers and
// origins carry them.
QString bracketed(const QString &host)
{
    return host.contains(QLatin1Char(':')) ? QLatin1Char('[') + host + QLatin1Char(']') : host;
}

// "scheme://host:port" with the default port filled in, or empty if unusable.
QString normaliseOrigin(const QString &text)
{
    const QUrl url(text);
    if (!url.isValid() || url.host().isEmpty())
        return {};
    const QString scheme = url.scheme().toLower();
    const int defaultPort = scheme == QLatin1String("https") ? 443 : 80;
    return scheme + QLatin1String("://") + bracketed(url.host().toLower()) + QLatin1Char(':') +
           QString::number(url.port(defaultPort));
}

// Splits a Host header value into its host part (brackets kept off for IPv6).
QString hostPart(const QString &hostHeader)
{
    if (hostHeader.startsWith(QLatin1Char('['))) {
        const qsizetype close = hostHeader.indexOf(QLatin1Char(']'));
        return close < 0 ? QString() : hostHeader.left(close + 1);
    }
    const qsizetype colon = hostHeader.lastIndexOf(QLatin1Char(':'));
    return colon < 0 ? hostHeader : hostHeader.left(colon);
}

} // namespace

OriginPolicy::OriginPolicy(const QStringList &allowedOrigins, const QString &listenHost,
                           const QString &publicUrl)
{
    for (const QString &origin : allowedOrigins) {
        const QString normal = normaliseOrigin(origin);
        if (!normal.isEmpty())
            m_origins.insert(normal);
    }
    m_loopback = isLoopbackName(listenHost.toLower());
    if (!publicUrl.isEmpty()) {
        const QUrl url(publicUrl);
        const QString normal = normaliseOrigin(publicUrl);
        if (!normal.isEmpty())
            m_origins.insert(normal);
        m_hosts.insert(bracketed(url.host().toLower()));
    }
    const QHostAddress listen(listenHost);
    const bool wildcard =
        listen == QHostAddress::Any || listen == QHostAddress::AnyIPv4 || listen == QHostAddress::AnyIPv6;
    if (!m_loopback) {
        if (publicUrl.isEmpty() && wildcard)
            m_anyHost = true;
        if (!wildcard) {
            m_hosts.insert(listen.protocol() == QAbstractSocket::IPv6Protocol
                               ? QLatin1Char('[') + listenHost.toLower() + QLatin1Char(']')
                               : listenHost.toLower());
        }
    }
}

bool OriginPolicy::hostAllowed(QByteArrayView host) const
{
    if (m_anyHost)
        return true;
    const QString name = hostPart(QString::fromLatin1(host).trimmed().toLower());
    if (name.isEmpty())
        return false;
    if (m_loopback && isLoopbackName(name))
        return true;
    return m_hosts.contains(name);
}

bool OriginPolicy::originAllowed(QByteArrayView origin) const
{
    if (origin.trimmed().isEmpty())
        return true;
    const QString normal = normaliseOrigin(QString::fromLatin1(origin).trimmed());
    if (normal.isEmpty())
        return false; // "null", garbage
    if (m_origins.contains(normal))
        return true;
    return m_loopback && isLoopbackName(QUrl(normal).host());
}

} // namespace fmb
