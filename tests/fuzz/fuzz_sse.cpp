// The SSE writer (core/transport/SseEncoder) and the event ids a session
// writes and reads back from Last-Event-ID (core/session/EventId). A stream
// of encoded events, keep-alives included, read by a WHATWG event-stream
// parser yields exactly the events put in: no data field splits an event,
// the data comes back with its line breaks as LF, the ids and retry fields
// as given. The chunked transfer coding decodes to the same bytes, and every
// id the broker writes parses back to the stream and sequence it names.
#include <fuzzer/FuzzedDataProvider.h>

#include <optional>

#include "FuzzSupport.h"
#include "session/EventId.h"
#include "transport/SseEncoder.h"

using namespace fmb;

namespace {

struct Event {
    QByteArray lastEventId;
    QByteArray data;
    int retryMs = -1;
    friend bool operator==(const Event &, const Event &) = default;
};

// WHATWG HTML, "Interpreting an event stream", on bytes (no UTF-8 decoding
// needed: the encoder never splits a multi-byte sequence).
QList<Event> parseEventStream(QByteArrayView stream)
{
    QList<Event> events;
    QByteArray lastEventId;
    QByteArray data;
    bool hasData = false;
    int retryMs = -1;
    qsizetype start = 0;
    while (start < stream.size()) {
        qsizetype end = start;
        while (end < stream.size() && stream[end] != '\n' && stream[end] != '\r')
            ++end;
        // A line without its terminator is not a line yet: the stream ended mid-event.
        if (end == stream.size())
            break;
        const QByteArrayView line = stream.sliced(start, end - start);
        start = end + 1;
        if (stream[end] == '\r' && start < stream.size() && stream[start] == '\n')
            ++start;

        if (line.isEmpty()) {
            if (hasData) {
                data.chop(1); // the LF after the last data line
                events.append(Event{lastEventId, data, retryMs});
            }
            data.clear();
            hasData = false;
            continue;
        }
        if (line.startsWith(':'))
            continue;
        const qsizetype colon = line.indexOf(':');
        const QByteArrayView field = colon < 0 ? line : line.first(colon);
        QByteArrayView value = colon < 0 ? QByteArrayView() : line.sliced(colon + 1);
        if (value.startsWith(' '))
            value = value.sliced(1);
        if (field == "data") {
            data.append(value).append('\n');
            hasData = true;
        } else if (field == "id") {
            if (!value.contains('\0'))
                lastEventId = value.toByteArray();
        } else if (field == "retry") {
            bool ok = !value.isEmpty();
            for (char c : value)
                ok = ok && c >= '0' && c <= '9';
            if (ok)
                retryMs = value.toInt(&ok);
        }
    }
    return events;
}

// RFC 9112 §7.1, strict: hex size, CRLF, payload, CRLF; a zero size ends it.
std::optional<QByteArray> decodeChunked(QByteArrayView body)
{
    QByteArray out;
    for (;;) {
        const qsizetype crlf = body.indexOf("\r\n");
        if (crlf <= 0)
            return std::nullopt;
        bool ok = false;
        const qsizetype size = body.first(crlf).toLongLong(&ok, 16);
        if (!ok || size < 0 || body.size() < crlf + 2 + size + 2)
            return std::nullopt;
        const QByteArrayView payload = body.sliced(crlf + 2, size);
        if (body.sliced(crlf + 2 + size, 2) != "\r\n")
            return std::nullopt;
        body = body.sliced(crlf + 2 + size + 2);
        if (size == 0)
            return body.isEmpty() ? std::optional<QByteArray>(out) : std::nullopt;
        out.append(payload);
    }
}

// What a parser makes of data: CR, LF and CRLF all end a line, and the
// encoder ends the last line itself, so a line break at the very end is not
// a line of its own.
QByteArray expectedData(QByteArrayView data)
{
    QByteArray out = data.toByteArray();
    out.replace("\r\n", "\n").replace('\r', '\n');
    if (out.endsWith('\n'))
        out.chop(1);
    return out;
}

QByteArray withoutBreaksAndNul(QByteArrayView value)
{
    QByteArray out = value.toByteArray();
    out.removeIf([](char c) { return c == '\n' || c == '\r' || c == '\0'; });
    return out;
}

void checkEventId(FuzzedDataProvider &provider)
{
    // Whatever a client sends as Last-Event-ID: if it is taken, it is taken
    // for the id the broker would write for it.
    const std::string header = provider.ConsumeRandomLengthString(40);
    const std::optional<EventId> parsed =
        EventId::parse(QByteArrayView(header.data(), qsizetype(header.size())));
    if (parsed) {
        FMB_FUZZ_CHECK(parsed->stream >= 0 && parsed->seq >= 0);
        FMB_FUZZ_CHECK(EventId::parse(parsed->toBytes()) == parsed);
    }

    // Every id the broker writes survives the event stream and parses back.
    const EventId id{provider.ConsumeIntegralInRange<int>(0, std::numeric_limits<int>::max()),
                     provider.ConsumeIntegralInRange<qint64>(0, std::numeric_limits<qint64>::max())};
    const QList<Event> events = parseEventStream(Sse::event(id.toBytes(), QByteArray()));
    FMB_FUZZ_CHECK(events.size() == 1);
    FMB_FUZZ_CHECK(EventId::parse(events.constFirst().lastEventId) == id);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *bytes, std::size_t size)
{
    FuzzedDataProvider provider(bytes, size);
    checkEventId(provider);

    QByteArray stream;
    QByteArray body;
    QList<Event> expected;
    QByteArray lastEventId;
    int retryMs = -1;
    while (provider.remaining_bytes() > 0) {
        if (provider.ConsumeIntegralInRange<int>(0, 7) == 0) {
            const QByteArray keepAlive = Sse::keepAlive();
            stream += keepAlive;
            body += Sse::chunk(keepAlive);
            continue;
        }
        const std::string id = provider.ConsumeRandomLengthString(24);
        const int retry = provider.ConsumeBool() ? provider.ConsumeIntegralInRange<int>(0, 1 << 30) : -1;
        const std::string data = provider.ConsumeRandomLengthString(512);
        const QByteArray frame = Sse::event(QByteArrayView(id.data(), qsizetype(id.size())),
                                            QByteArrayView(data.data(), qsizetype(data.size())), retry);
        // Only the blank line at its end may dispatch the event, and no CR is
        // left to end a field early.
        FMB_FUZZ_CHECK(frame.endsWith("\n\n"));
        FMB_FUZZ_CHECK(frame.indexOf("\n\n") == frame.size() - 2);
        FMB_FUZZ_CHECK(!frame.contains('\r'));
        FMB_FUZZ_CHECK(parseEventStream(frame).size() == 1);

        const QByteArray cleanId = withoutBreaksAndNul(QByteArrayView(id.data(), qsizetype(id.size())));
        if (!cleanId.isEmpty())
            lastEventId = cleanId;
        if (retry >= 0)
            retryMs = retry;
        expected.append(
            Event{lastEventId, expectedData(QByteArrayView(data.data(), qsizetype(data.size()))), retryMs});
        stream += frame;
        body += Sse::chunk(frame);
    }
    FMB_FUZZ_CHECK(parseEventStream(stream) == expected);

    FMB_FUZZ_CHECK(Sse::chunk(QByteArrayView()).isEmpty());
    body += Sse::lastChunk();
    FMB_FUZZ_CHECK(decodeChunked(body) == stream);
    return 0;
}
