#include "FormEncoding.h"

#include <QSet>
#include <QUrl>

namespace fmb::Form {

Fields parse(QByteArrayView encoded)
{
    Fields fields;
    const QList<QByteArray> pieces = encoded.toByteArray().split('&');
    for (QByteArray piece : pieces) {
        if (piece.isEmpty())
            continue;
        piece.replace('+', ' ');
        const qsizetype equals = piece.indexOf('=');
        const QByteArray name = equals < 0 ? piece : piece.left(equals);
        const QByteArray value = equals < 0 ? QByteArray() : piece.mid(equals + 1);
        fields.emplaceBack(QString::fromUtf8(QByteArray::fromPercentEncoding(name)),
                           QString::fromUtf8(QByteArray::fromPercentEncoding(value)));
    }
    return fields;
}

QString value(const Fields &fields, QStringView name)
{
    for (const auto &[key, value] : fields) {
        if (key == name)
            return value.isNull() ? QLatin1String("") : value;
    }
    return {};
}

QStringList values(const Fields &fields, QStringView name)
{
    QStringList out;
    for (const auto &[key, value] : fields) {
        if (key == name)
            out.append(value);
    }
    return out;
}

QString repeatedParameter(const Fields &fields, const QStringList &mayRepeat)
{
    QSet<QString> seen;
    for (const auto &field : fields) {
        if (mayRepeat.contains(field.first))
            continue;
        if (seen.contains(field.first))
            return field.first;
        seen.insert(field.first);
    }
    return {};
}

QByteArray encode(const Fields &fields)
{
    QByteArray out;
    for (const auto &[name, value] : fields) {
        if (!out.isEmpty())
            out.append('&');
        out.append(QUrl::toPercentEncoding(name)).append('=').append(QUrl::toPercentEncoding(value));
    }
    return out;
}

QString appendQuery(const QString &uri, const Fields &fields)
{
    if (fields.isEmpty())
        return uri;
    QString out = uri;
    if (!out.contains(QLatin1Char('?')))
        out.append(QLatin1Char('?'));
    else if (!out.endsWith(QLatin1Char('?')) && !out.endsWith(QLatin1Char('&')))
        out.append(QLatin1Char('&'));
    out.append(QString::fromLatin1(encode(fields)));
    return out;
}

} // namespace fmb::Form

namespace fmb::Cookies {

QByteArray find(const QList<QByteArray> &cookieHeaders, QByteArrayView name)
{
    for (const QByteArray &header : cookieHeaders) {
        const QList<QByteArray> pairs = header.split(';');
        for (const QByteArray &pair : pairs) {
            const QByteArray trimmed = pair.trimmed();
            const qsizetype equals = trimmed.indexOf('=');
            if (equals <= 0)
                continue;
            if (QByteArrayView(trimmed).first(equals).trimmed() != name)
                continue;
            QByteArray value = trimmed.mid(equals + 1).trimmed();
            if (value.size() >= 2 && value.startsWith('"') && value.endsWith('"'))
                value = value.mid(1, value.size() - 2);
            return value.isNull() ? QByteArray("") : value;
        }
    }
    return {};
}

QByteArray hostCookie(QByteArrayView name, QByteArrayView value, qint64 maxAgeSeconds)
{
    // __Host- (RFC 6265bis §4.1.3.2): Secure, Path=/, no Domain. Browsers drop
    // Secure cookies set over plain http except on localhost; the broker
    // always sends them (TLS normally ends at a proxy in front of it).
    QByteArray out =
        name.toByteArray() + '=' + value.toByteArray() + "; Path=/; Secure; HttpOnly; SameSite=Lax";
    if (maxAgeSeconds >= 0)
        out.append("; Max-Age=").append(QByteArray::number(maxAgeSeconds));
    return out;
}

} // namespace fmb::Cookies
