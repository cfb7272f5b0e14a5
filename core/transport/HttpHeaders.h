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

} // namespace fmb::Http
