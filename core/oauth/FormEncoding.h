#pragma once

#include <utility>

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

// application/x-www-form-urlencoded bodies and query strings, and cookies.
// Pure: no I/O.
namespace fmb::Form {

using Fields = QList<std::pair<QString, QString>>;

// Splits on '&', then on the first '='; '+' is a space, then percent-decoding
// (WHATWG URL "application/x-www-form-urlencoded parsing"). Empty pieces are
// skipped. Works for query strings too (QUrl::query(QUrl::FullyEncoded)).
[[nodiscard]] Fields parse(QByteArrayView encoded);

// The first value of `name`, or a null QString when absent.
[[nodiscard]] QString value(const Fields &fields, QStringView name);
[[nodiscard]] QStringList values(const Fields &fields, QStringView name);

// The first parameter that is sent more than once and is not in `mayRepeat`
// (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more
// than once"); empty when there is none.
[[nodiscard]] QString repeatedParameter(const Fields &fields, const QStringList &mayRepeat = {});

// Percent-encodes every byte but the RFC 3986 unreserved ones (so '+' and ' '
// both survive any decoder), name=value joined with '&'.
[[nodiscard]] QByteArray encode(const Fields &fields);

// `uri` with `fields` appended to its query (keeps a query it already has).
// The URI must have no fragment (redirect URIs never do: RFC 6749 §3.1.2).
[[nodiscard]] QString appendQuery(const QString &uri, const Fields &fields);

} // namespace fmb::Form

namespace fmb::Cookies {

// The value of cookie `name` in the Cookie request headers (RFC 6265 §5.4
// syntax: "a=b; c=d"); null when absent. With duplicates the first wins.
[[nodiscard]] QByteArray find(const QList<QByteArray> &cookieHeaders, QByteArrayView name);

// A Set-Cookie value for a __Host- cookie: Secure; Path=/; HttpOnly;
// SameSite=Lax, with Max-Age when maxAgeSeconds >= 0 (0 deletes it). The
// value must already be cookie-safe (base64url, hex).
[[nodiscard]] QByteArray hostCookie(QByteArrayView name, QByteArrayView value, qint64 maxAgeSeconds);

} // namespace fmb::Cookies
