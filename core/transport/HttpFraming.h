#pragma once

#include <QByteArray>
#include <QByteArrayView>

namespace fmb::Http {

// How the body of a request is delimited (RFC 9112 §6.3), or why the head is
// refused. status 0 means the head is well formed; otherwise it is the status
// to answer with before closing the connection: 400 for every ambiguous or
// malformed framing, 501 for a transfer coding we do not implement, 505 for
// an HTTP version other than 1.x.
struct RequestFraming {
    enum class Body { None, Length, Chunked };
    Body body = Body::None;
    qint64 length = 0; // Body::Length: the Content-Length (saturated at the qint64 maximum)
    int status = 0;
    QByteArray reason; // for the log and the answer; never contains header values
};

// Parses one request head: the request line and the header fields, up to
// and including the blank line (CRLF, or a bare LF, ends a line). Pure; the
// rules are listed in docs/http-framing.md.
[[nodiscard]] RequestFraming parseRequestHead(QByteArrayView head);

// Follows the request framing of one connection's byte stream: the head of
// each request (checked with parseRequestHead), then its body by
// Content-Length or by the chunked coding (strict: CRLF after every size line
// and chunk), request after request. Feed it what arrives, in order.
class RequestScanner {
public:
    static constexpr qsizetype MaxHeadBytes = 64 * 1024;
    static constexpr qsizetype MaxChunkLineBytes = 4096; // a size line with extensions, or a trailer line

    struct Outcome {
        int completed = 0; // requests whose last byte was in this feed
        int status = 0;    // non-zero: refuse with this status and close; the scanner stops
        QByteArray reason;
    };

    [[nodiscard]] Outcome feed(QByteArrayView bytes);
    // Whether part of a request (a byte of its head or body) has arrived but not all of it.
    [[nodiscard]] bool midRequest() const { return m_state != State::Idle; }
    // The framing of the request being received (or of the last one).
    [[nodiscard]] const RequestFraming &framing() const { return m_framing; }

private:
    enum class State { Idle, Head, Body, ChunkSize, ChunkData, ChunkDataEnd, Trailer, Failed };
    // Consumes from bytes at pos; returns false when the request is refused (outcome set).
    bool step(QByteArrayView bytes, qsizetype &pos, Outcome &outcome);
    bool headByte(QByteArrayView bytes, qsizetype &pos, Outcome &outcome);
    bool chunkLine(QByteArrayView bytes, qsizetype &pos, Outcome &outcome);
    void finishRequest(Outcome &outcome);
    bool fail(Outcome &outcome, int status, QByteArray reason);

    State m_state = State::Idle;
    QByteArray m_line; // the head so far, or the current chunk-size or trailer line
    qint64 m_remaining = 0;
    RequestFraming m_framing;
};

} // namespace fmb::Http
