#pragma once

#include <QByteArray>

namespace fmb {

// Server-Sent Events framing (WHATWG HTML, "Server-sent events") and HTTP/1.1
// chunked transfer coding (RFC 9112 §7.1). Pure functions.
namespace Sse {

// One event: optional id and retry fields, then the data split into one
// "data:" line per line of input (CR, LF and CRLF all end a line), then a
// blank line. Empty data still yields a "data:" line (a priming event).
[[nodiscard]] QByteArray event(QByteArrayView id, QByteArrayView data, int retryMs = -1);
// A comment line that keeps idle connections (and proxies) alive.
[[nodiscard]] QByteArray keepAlive();
// One chunk of a chunked body; empty input gives nothing (it would end the body).
[[nodiscard]] QByteArray chunk(QByteArrayView payload);
// The last chunk, which ends a chunked body.
[[nodiscard]] QByteArray lastChunk();

} // namespace Sse
} // namespace fmb
