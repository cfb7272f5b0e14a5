// The child's stdout framer (core/child/LineFramer): whatever the chunking,
// the same lines and overflows come out, in the order a one-pass model of
// MCP stdio framing predicts; no line is over the limit, and the bytes held
// for an unfinished line never are either.
#include <fuzzer/FuzzedDataProvider.h>

#include "FuzzSupport.h"
#include "child/LineFramer.h"

using fmb::LineFramer;

namespace {

// An event as text: a line as itself, an overflow as "<dropped N>".
QByteArray describe(const LineFramer::Event &event)
{
    if (event.overflowBytes > 0)
        return "<dropped " + QByteArray::number(event.overflowBytes) + '>';
    return event.line;
}

// Every newline ends a line; the limit counts its bytes up to the newline
// (a trailing '\r' included); a line over it is reported with its size;
// one trailing '\r' is cut and empty lines are skipped. An unfinished last
// line yields nothing.
QByteArrayList model(QByteArrayView stream, qint64 limit)
{
    QByteArrayList out;
    qsizetype start = 0;
    for (qsizetype newline = stream.indexOf('\n'); newline >= 0; newline = stream.indexOf('\n', start)) {
        QByteArrayView line = stream.sliced(start, newline - start);
        start = newline + 1;
        if (line.size() > limit) {
            out.append("<dropped " + QByteArray::number(line.size()) + '>');
            continue;
        }
        if (line.endsWith('\r'))
            line.chop(1);
        if (!line.isEmpty())
            out.append(line.toByteArray());
    }
    return out;
}

QByteArrayList check(const QList<LineFramer::Event> &events, qint64 limit)
{
    QByteArrayList out;
    for (const LineFramer::Event &event : events) {
        if (event.overflowBytes > 0) {
            FMB_FUZZ_CHECK(event.overflowBytes > limit);
            FMB_FUZZ_CHECK(event.line.isEmpty());
        } else {
            FMB_FUZZ_CHECK(!event.line.isEmpty());
            FMB_FUZZ_CHECK(event.line.size() <= limit);
            FMB_FUZZ_CHECK(!event.line.contains('\n'));
        }
        out.append(describe(event));
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    FuzzedDataProvider provider(data, size);
    // Small limits, so that inputs of a few hundred bytes reach the overflow paths.
    const qint64 limit = provider.ConsumeIntegralInRange<qint64>(1, 300);
    const auto seed = provider.ConsumeIntegral<std::uint32_t>();
    const std::vector<char> bytes = provider.ConsumeRemainingBytes<char>();
    const QByteArrayView stream(bytes.data(), qsizetype(bytes.size()));

    const QByteArrayList expected = model(stream, limit);

    LineFramer whole(limit);
    FMB_FUZZ_CHECK(check(whole.feed(stream), limit) == expected);
    FMB_FUZZ_CHECK(whole.buffered() <= limit);

    LineFramer pieces(limit);
    QByteArrayList got;
    for (QByteArrayView piece : fmb::fuzz::chunked(stream, seed)) {
        got += check(pieces.feed(piece), limit);
        FMB_FUZZ_CHECK(pieces.buffered() <= limit);
    }
    FMB_FUZZ_CHECK(got == expected);
    FMB_FUZZ_CHECK(pieces.buffered() == whole.buffered());
    return 0;
}
