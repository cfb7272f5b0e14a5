#pragma once

#include <initializer_list>
#include <utility>

#include <QByteArray>
#include <QList>

namespace fmb::Http {

using HeaderList = QList<std::pair<QByteArray, QByteArray>>;

// The reason phrase for a status code ("Not Found").
[[nodiscard]] QByteArray reasonPhrase(int status);

// A complete HTTP/1.1 response with Content-Length, ready for one socket write.
[[nodiscard]] QByteArray response(int status, const HeaderList &headers, QByteArrayView body);

// The status line and headers of a chunked response (the body follows as chunks).
[[nodiscard]] QByteArray chunkedHead(int status, const HeaderList &headers);

// The media type of a Content-Type value, lowercased, without parameters.
[[nodiscard]] QByteArray mediaType(QByteArrayView contentType);

// Whether an Accept value admits `type` (exact, "type/*" or "*/*", q > 0).
// An absent Accept header admits everything (RFC 9110 §12.5.1).
[[nodiscard]] bool accepts(QByteArrayView accept, QByteArrayView type);

// Whether a comma-separated header (Connection) lists a token, ignoring case.
[[nodiscard]] bool hasToken(QByteArrayView header, QByteArrayView token);

// Where a request head ends: the index just past its blank line (CRLF CRLF,
// or a bare LF LF), or -1 while it has not arrived.
[[nodiscard]] qsizetype headEnd(QByteArrayView bytes);

// The Content-Length of a request head; -1 when it has none or the value is
// not a number.
[[nodiscard]] qint64 contentLength(QByteArrayView head);

} // namespace fmb::Http
