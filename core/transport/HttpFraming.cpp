#include "HttpFraming.h"

#include <algorithm>
#include <limits>

namespace fmb::Http {
namespace {

// RFC 9110 §5.6.2: tchar.
bool isTchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool isToken(QByteArrayView text)
{
    if (text.isEmpty())
        return false;
    for (char c : text) {
        if (!isTchar(c))
            return false;
    }
    return true;
}

bool isOws(char c)
{
    return c == ' ' || c == '\t';
}

QByteArrayView trimOws(QByteArrayView text)
{
    while (!text.isEmpty() && isOws(text.front()))
        text = text.sliced(1);
    while (!text.isEmpty() && isOws(text.back()))
        text.chop(1);
    return text;
}

// A control character other than HTAB (RFC 9110 §5.5: CR, LF and NUL are
// never valid in a field value; the other CTLs are refused too).
bool hasControl(QByteArrayView text)
{
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((byte < 0x20 && c != '\t') || byte == 0x7f)
            return true;
    }
    return false;
}

bool isDigits(QByteArrayView text)
{
    if (text.isEmpty())
        return false;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
    }
    return true;
}

qint64 saturatingDecimal(QByteArrayView digits)
{
    constexpr qint64 max = std::numeric_limits<qint64>::max();
    qint64 value = 0;
    for (char c : digits) {
        const int digit = c - '0';
        if (value > (max - digit) / 10)
            return max;
        value = value * 10 + digit;
    }
    return value;
}

int hexDigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

RequestFraming refused(int status, QByteArray reason)
{
    RequestFraming framing;
    framing.status = status;
    framing.reason = std::move(reason);
    return framing;
}

// RFC 9112 §3: method SP request-target SP HTTP-version. Sets http10 for HTTP/1.0.
RequestFraming checkRequestLine(QByteArrayView line, bool &http10)
{
    const qsizetype first = line.indexOf(' ');
    const qsizetype second = first < 0 ? -1 : line.indexOf(' ', first + 1);
    if (first < 0 || second < 0 || line.indexOf(' ', second + 1) >= 0)
        return refused(400, "malformed request line");
    if (!isToken(line.first(first)))
        return refused(400, "malformed request method");
    const QByteArrayView target = line.sliced(first + 1, second - first - 1);
    if (target.isEmpty())
        return refused(400, "empty request target");
    for (char c : target) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte >= 0x7f)
            return refused(400, "invalid character in the request target");
    }
    const QByteArrayView version = line.sliced(second + 1);
    if (version.size() != 8 || !version.startsWith("HTTP/") || version[6] != '.' || version[5] < '0' ||
        version[5] > '9' || version[7] < '0' || version[7] > '9')
        return refused(400, "malformed HTTP version");
    if (version[5] != '1')
        return refused(505, "HTTP version not supported");
    http10 = version[7] == '0';
    return {};
}

// RFC 9112 §6.1 and §6.3: chunked must be the final coding, and is the only one we implement.
RequestFraming checkTransferEncoding(QByteArrayView codings)
{
    int count = 0;
    int chunked = 0;
    bool lastChunked = false;
    qsizetype start = 0;
    while (start <= codings.size()) {
        qsizetype comma = codings.indexOf(',', start);
        if (comma < 0)
            comma = codings.size();
        const QByteArrayView element = trimOws(codings.sliced(start, comma - start));
        start = comma + 1;
        if (element.isEmpty())
            continue; // RFC 9110 §5.6.1: empty list elements do not count
        if (!isToken(element))
            return refused(400, "malformed Transfer-Encoding");
        ++count;
        lastChunked = element.compare("chunked", Qt::CaseInsensitive) == 0;
        chunked += lastChunked ? 1 : 0;
    }
    if (count == 0)
        return refused(400, "empty Transfer-Encoding");
    if (!lastChunked)
        return refused(400, "chunked is not the final transfer coding");
    if (chunked > 1)
        return refused(400, "chunked applied more than once");
    if (count > 1)
        return refused(501, "transfer coding other than chunked not implemented");
    RequestFraming framing;
    framing.body = RequestFraming::Body::Chunked;
    return framing;
}

} // namespace

RequestFraming parseRequestHead(QByteArrayView head)
{
    bool requestLine = true;
    bool http10 = false;
    int hosts = 0;
    bool hasLength = false;
    qint64 length = 0;
    bool hasCoding = false;
    QByteArray codings;
    qsizetype start = 0;
    while (start < head.size()) {
        qsizetype end = head.indexOf('\n', start);
        if (end < 0)
            end = head.size();
        QByteArrayView line = head.sliced(start, end - start);
        start = end + 1;
        if (line.endsWith('\r'))
            line.chop(1);
        if (line.contains('\r'))
            return refused(400, "bare CR in the request head");
        if (requestLine) {
            RequestFraming checked = checkRequestLine(line, http10);
            if (checked.status != 0)
                return checked;
            requestLine = false;
            continue;
        }
        if (line.isEmpty())
            break; // the blank line: the head ends
        if (isOws(line.front()))
            return refused(400, "obsolete line folding");
        const qsizetype colon = line.indexOf(':');
        if (colon < 0)
            return refused(400, "header line without a colon");
        const QByteArrayView name = line.first(colon);
        if (!name.isEmpty() && isOws(name.back()))
            return refused(400, "whitespace between a header name and its colon");
        if (!isToken(name))
            return refused(400, "invalid header name");
        const QByteArrayView value = trimOws(line.sliced(colon + 1));
        if (hasControl(value))
            return refused(400, "control character in a header value");
        if (name.compare("content-length", Qt::CaseInsensitive) == 0) {
            // Duplicates are refused even when identical (RFC 9110 §8.6 allows either).
            if (hasLength)
                return refused(400, "more than one Content-Length");
            if (!isDigits(value))
                return refused(400, "Content-Length is not a number");
            hasLength = true;
            length = saturatingDecimal(value);
        } else if (name.compare("transfer-encoding", Qt::CaseInsensitive) == 0) {
            if (hasCoding)
                codings.append(',');
            codings.append(value.data(), value.size());
            hasCoding = true;
        } else if (name.compare("host", Qt::CaseInsensitive) == 0) {
            ++hosts;
        }
    }
    if (requestLine)
        return refused(400, "empty request");
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in 1.0.
    if (hosts > 1 || (hosts == 0 && !http10))
        return refused(400, hosts > 1 ? QByteArray("more than one Host") : QByteArray("no Host"));
    if (hasCoding) {
        // §6.1: both framings at once is how requests are smuggled; and an
        // HTTP/1.0 message with Transfer-Encoding is faulty.
        if (hasLength)
            return refused(400, "both Transfer-Encoding and Content-Length");
        if (http10)
            return refused(400, "Transfer-Encoding in an HTTP/1.0 request");
        return checkTransferEncoding(codings);
    }
    RequestFraming framing;
    if (hasLength) {
        framing.body = RequestFraming::Body::Length;
        framing.length = length;
    }
    return framing;
}

RequestScanner::Outcome RequestScanner::feed(QByteArrayView bytes)
{
    Outcome outcome;
    qsizetype pos = 0;
    while (pos < bytes.size() && m_state != State::Failed) {
        if (!step(bytes, pos, outcome))
            break;
    }
    return outcome;
}

bool RequestScanner::step(QByteArrayView bytes, qsizetype &pos, Outcome &outcome)
{
    switch (m_state) {
    case State::Idle:
        // RFC 9112 §2.2: empty lines before a request line are ignored.
        if (bytes[pos] == '\r' || bytes[pos] == '\n') {
            ++pos;
            return true;
        }
        m_state = State::Head;
        m_line.clear();
        m_framing = {};
        return headByte(bytes, pos, outcome);
    case State::Head:
        return headByte(bytes, pos, outcome);
    case State::Body: {
        const qint64 taken = std::min<qint64>(m_remaining, bytes.size() - pos);
        pos += taken;
        m_remaining -= taken;
        if (m_remaining == 0)
            finishRequest(outcome);
        return true;
    }
    case State::ChunkSize:
    case State::Trailer:
        return chunkLine(bytes, pos, outcome);
    case State::ChunkData: {
        const qint64 taken = std::min<qint64>(m_remaining, bytes.size() - pos);
        pos += taken;
        m_remaining -= taken;
        if (m_remaining == 0) {
            m_state = State::ChunkDataEnd;
            m_line.clear();
        }
        return true;
    }
    case State::ChunkDataEnd: {
        const char expected = m_line.isEmpty() ? '\r' : '\n';
        if (bytes[pos] != expected)
            return fail(outcome, 400, "chunk data not followed by CRLF");
        ++pos;
        m_line.append(expected);
        if (m_line.size() == 2) {
            m_state = State::ChunkSize;
            m_line.clear();
        }
        return true;
    }
    case State::Failed:
        return false;
    }
    return false;
}

bool RequestScanner::headByte(QByteArrayView bytes, qsizetype &pos, Outcome &outcome)
{
    const qsizetype newline = bytes.indexOf('\n', pos);
    const qsizetype end = newline < 0 ? bytes.size() : newline + 1;
    if (m_line.size() + (end - pos) > MaxHeadBytes + 2)
        return fail(outcome, 431, "request head too large");
    m_line.append(bytes.data() + pos, end - pos);
    pos = end;
    if (newline < 0 || !(m_line.endsWith("\n\n") || m_line.endsWith("\n\r\n")))
        return true;
    m_framing = parseRequestHead(m_line);
    m_line.clear();
    if (m_framing.status != 0)
        return fail(outcome, m_framing.status, m_framing.reason);
    switch (m_framing.body) {
    case RequestFraming::Body::None:
        finishRequest(outcome);
        break;
    case RequestFraming::Body::Length:
        m_remaining = m_framing.length;
        if (m_remaining == 0)
            finishRequest(outcome);
        else
            m_state = State::Body;
        break;
    case RequestFraming::Body::Chunked:
        m_state = State::ChunkSize;
        break;
    }
    return true;
}

// RFC 9112 §7.1: chunk-size [chunk-ext] CRLF, and the trailer section's field
// lines up to an empty line. Lines end in CRLF here, not a bare LF: a
// proxy that reads them differently would see other chunk boundaries.
bool RequestScanner::chunkLine(QByteArrayView bytes, qsizetype &pos, Outcome &outcome)
{
    const qsizetype newline = bytes.indexOf('\n', pos);
    const qsizetype end = newline < 0 ? bytes.size() : newline + 1;
    if (m_line.size() + (end - pos) > MaxChunkLineBytes)
        return fail(outcome, 400, "chunk line too long");
    m_line.append(bytes.data() + pos, end - pos);
    pos = end;
    if (newline < 0)
        return true;
    if (!m_line.endsWith("\r\n"))
        return fail(outcome, 400, "chunk line not ended by CRLF");
    const QByteArrayView line = QByteArrayView(m_line).chopped(2);
    if (line.contains('\r') || hasControl(line))
        return fail(outcome, 400, "control character in a chunk line");
    if (m_state == State::Trailer) {
        if (line.isEmpty()) {
            finishRequest(outcome);
        } else if (isOws(line.front()) || !isToken(line.first(std::max<qsizetype>(0, line.indexOf(':'))))) {
            return fail(outcome, 400, "malformed trailer field");
        }
        m_line.clear();
        return true;
    }
    qint64 size = 0;
    qsizetype digits = 0;
    while (digits < line.size() && hexDigit(line[digits]) >= 0) {
        if (digits == 15)
            return fail(outcome, 400, "chunk size too large");
        size = size * 16 + hexDigit(line[digits]);
        ++digits;
    }
    if (digits == 0)
        return fail(outcome, 400, "malformed chunk size");
    const QByteArrayView rest = trimOws(line.sliced(digits));
    if (!rest.isEmpty() && !rest.startsWith(';'))
        return fail(outcome, 400, "malformed chunk size");
    m_line.clear();
    if (size == 0) {
        m_state = State::Trailer;
    } else {
        m_state = State::ChunkData;
        m_remaining = size;
    }
    return true;
}

void RequestScanner::finishRequest(Outcome &outcome)
{
    ++outcome.completed;
    m_state = State::Idle;
    m_line.clear();
}

bool RequestScanner::fail(Outcome &outcome, int status, QByteArray reason)
{
    m_state = State::Failed;
    m_line.clear();
    outcome.status = status;
    outcome.reason = std::move(reason);
    return false;
}

} // namespace fmb::Http
