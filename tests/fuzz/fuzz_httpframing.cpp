// The request framing of core/transport/HttpFraming (issue 11, item 4): what
// decides where one request ends and the next begins, in front of Qt's HTTP
// parser. Any bytes: parseRequestHead gives a known status with a reason, or
// a framing without one, and accepts no head with a control character, a
// bare CR, line folding or two Content-Length lines; the scanner reaches the
// same verdict whether the stream arrives at once or in random pieces. A
// request the fuzzer builds well formed (Content-Length or chunked at random
// chunk sizes, pipelined behind each other) is scanned as exactly those
// requests, with the framing it was built with.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>

#include "FuzzSupport.h"
#include "transport/HttpFraming.h"

using namespace fmb;
using Http::RequestFraming;
using Http::RequestScanner;

namespace {

struct Verdict {
    int completed = 0;
    int status = 0;
    bool midRequest = false;
    friend bool operator==(const Verdict &, const Verdict &) = default;
};

Verdict scan(const QList<QByteArrayView> &pieces)
{
    RequestScanner scanner;
    Verdict verdict;
    for (QByteArrayView piece : pieces) {
        const RequestScanner::Outcome outcome = scanner.feed(piece);
        verdict.completed += outcome.completed;
        FMB_FUZZ_CHECK((outcome.status == 0) == outcome.reason.isEmpty());
        if (outcome.status != 0) {
            verdict.status = outcome.status;
            return verdict;
        }
    }
    verdict.midRequest = scanner.midRequest();
    return verdict;
}

bool knownStatus(int status)
{
    return status == 0 || status == 400 || status == 413 || status == 431 || status == 501 || status == 505;
}

void checkHead(QByteArrayView head)
{
    const RequestFraming framing = Http::parseRequestHead(head);
    FMB_FUZZ_CHECK(knownStatus(framing.status) && framing.status != 431 && framing.status != 413);
    FMB_FUZZ_CHECK((framing.status == 0) == framing.reason.isEmpty());
    if (framing.status != 0)
        return;
    FMB_FUZZ_CHECK(framing.length >= 0);
    FMB_FUZZ_CHECK(framing.body == RequestFraming::Body::Length || framing.length == 0);
    // Up to the blank line, an accepted head holds no control bytes but line ends.
    const qsizetype crlf = head.indexOf("\n\r\n");
    const qsizetype lf = head.indexOf("\n\n");
    const qsizetype blank = crlf < 0 ? lf : lf < 0 ? crlf : std::min(crlf, lf);
    const QByteArrayView used = blank < 0 ? head : head.first(blank + 1);
    int lengths = 0;
    qsizetype start = 0;
    while (start < used.size()) {
        qsizetype end = used.indexOf('\n', start);
        if (end < 0)
            end = used.size();
        QByteArrayView line = used.sliced(start, end - start);
        start = end + 1;
        if (line.endsWith('\r'))
            line.chop(1);
        for (char c : line) {
            const auto byte = static_cast<unsigned char>(c);
            FMB_FUZZ_CHECK(byte >= 0x20 || c == '\t');
            FMB_FUZZ_CHECK(byte != 0x7f);
        }
        FMB_FUZZ_CHECK(line.isEmpty() || (line.front() != ' ' && line.front() != '\t'));
        if (line.size() >= 15 &&
            QByteArrayView(line.first(15)).compare("content-length:", Qt::CaseInsensitive) == 0)
            ++lengths;
    }
    FMB_FUZZ_CHECK(lengths <= 1);
}

// A token of tchars for a header name.
QByteArray token(FuzzedDataProvider &provider)
{
    static const char tchars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
    QByteArray out;
    const int size = provider.ConsumeIntegralInRange<int>(1, 12);
    for (int i = 0; i < size; ++i)
        out.append(tchars[provider.ConsumeIntegralInRange<int>(0, int(sizeof tchars) - 2)]);
    return out;
}

// A field value of visible ASCII, spaces and tabs inside.
QByteArray value(FuzzedDataProvider &provider)
{
    QByteArray out;
    const int size = provider.ConsumeIntegralInRange<int>(0, 24);
    for (int i = 0; i < size; ++i) {
        const char c = char(provider.ConsumeIntegralInRange<int>(0x20, 0x7e));
        out.append(c);
    }
    return out.trimmed();
}

struct Built {
    QByteArray bytes;
    RequestFraming::Body body = RequestFraming::Body::None;
    qint64 length = 0;
};

Built buildRequest(FuzzedDataProvider &provider)
{
    Built built;
    built.bytes = "POST /mcp HTTP/1.1\r\nHost: broker\r\n";
    const int headers = provider.ConsumeIntegralInRange<int>(0, 4);
    for (int i = 0; i < headers; ++i) {
        QByteArray name = token(provider);
        const QByteArray lower = name.toLower();
        if (lower == "content-length" || lower == "transfer-encoding" || lower == "host")
            name.prepend("X-");
        built.bytes += name + ":" + (provider.ConsumeBool() ? " " : "") + value(provider) + "\r\n";
    }
    const std::string payload = provider.ConsumeRandomLengthString(256);
    const QByteArrayView body(payload.data(), qsizetype(payload.size()));
    switch (provider.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
        built.bytes += "\r\n";
        break;
    case 1:
        built.body = RequestFraming::Body::Length;
        built.length = body.size();
        built.bytes += "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body.toByteArray();
        break;
    default: {
        built.body = RequestFraming::Body::Chunked;
        built.bytes += "Transfer-Encoding: chunked\r\n\r\n";
        qsizetype at = 0;
        while (at < body.size()) {
            const qsizetype size =
                std::min<qsizetype>(body.size() - at, provider.ConsumeIntegralInRange<int>(1, 64));
            built.bytes += QByteArray::number(size, 16) + (provider.ConsumeBool() ? ";x=y" : "") + "\r\n" +
                           body.sliced(at, size).toByteArray() + "\r\n";
            at += size;
        }
        built.bytes += "0\r\n" + QByteArray(provider.ConsumeBool() ? "X-Trailer: t\r\n" : "") + "\r\n";
        break;
    }
    }
    return built;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *bytes, std::size_t size)
{
    const QByteArrayView data(reinterpret_cast<const char *>(bytes), qsizetype(size));
    checkHead(data);

    // Where the reads end changes nothing.
    const std::uint32_t seed = size > 0 ? bytes[0] * 2654435761u : 0;
    const Verdict whole = scan({data});
    const Verdict pieces = scan(fuzz::chunked(data, seed));
    FMB_FUZZ_CHECK(knownStatus(whole.status));
    FMB_FUZZ_CHECK(whole == pieces);

    // Well-formed requests, pipelined, come out as exactly those requests.
    FuzzedDataProvider provider(bytes, size);
    QByteArray stream;
    const int count = provider.ConsumeIntegralInRange<int>(1, 4);
    for (int i = 0; i < count; ++i) {
        const Built built = buildRequest(provider);
        const qsizetype headEnd = built.bytes.indexOf("\r\n\r\n") + 4;
        const RequestFraming framing = Http::parseRequestHead(QByteArrayView(built.bytes).first(headEnd));
        FMB_FUZZ_CHECK(framing.status == 0);
        FMB_FUZZ_CHECK(framing.body == built.body && framing.length == built.length);
        stream += built.bytes;
    }
    const Verdict good = scan(fuzz::chunked(stream, seed ^ 0x5bd1e995u));
    FMB_FUZZ_CHECK(good.status == 0 && good.completed == count && !good.midRequest);
    return 0;
}
