#include <QTest>

#include "transport/SseEncoder.h"

using namespace fmb;

namespace {

struct ParsedEvent {
    QByteArray id;
    bool hasId = false;
    QByteArray data;
    int retry = -1;
    int events = 0; // how many events the bytes dispatched
};

// The event stream interpretation of WHATWG HTML "Server-sent events" (9.2.6),
// enough to read back what the encoder wrote as a browser would.
ParsedEvent parse(const QByteArray &stream)
{
    ParsedEvent out;
    QByteArrayList dataLines;
    bool sawData = false;
    qsizetype start = 0;
    while (start < stream.size()) {
        qsizetype end = start;
        while (end < stream.size() && stream[end] != '\n' && stream[end] != '\r')
            ++end;
        if (end >= stream.size())
            break; // an unterminated line is not processed
        const QByteArray line = stream.mid(start, end - start);
        start = end + 1;
        if (stream[end] == '\r' && start < stream.size() && stream[start] == '\n')
            ++start;

        if (line.isEmpty()) {
            if (sawData) {
                out.data = dataLines.join('\n');
                ++out.events;
            }
            dataLines.clear();
            sawData = false;
            continue;
        }
        if (line.startsWith(':'))
            continue;
        const qsizetype colon = line.indexOf(':');
        const QByteArray field = colon < 0 ? line : line.left(colon);
        QByteArray value = colon < 0 ? QByteArray() : line.mid(colon + 1);
        if (value.startsWith(' '))
            value.remove(0, 1);
        if (field == "data") {
            dataLines.append(value);
            sawData = true;
        } else if (field == "id") {
            out.id = value;
            out.hasId = true;
        } else if (field == "retry") {
            out.retry = value.toInt();
        }
    }
    return out;
}

} // namespace

class tst_SseEncoder : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void event_data();
    void event();
    void roundTrip_data();
    void roundTrip();
    void keepAlive();
    void chunk_data();
    void chunk();
    void lastChunk();
    void chunkedStreamDecodes();
};

void tst_SseEncoder::event_data()
{
    QTest::addColumn<QByteArray>("id");
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<int>("retryMs");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("data only") << QByteArray() << QByteArray(R"({"jsonrpc":"2.0"})") << -1
                               << QByteArray("data: {\"jsonrpc\":\"2.0\"}\n\n");
    QTest::newRow("with id") << QByteArray("17") << QByteArray("x") << -1
                             << QByteArray("id: 17\ndata: x\n\n");
    QTest::newRow("with id and retry") << QByteArray("s1-17") << QByteArray("x") << 3000
                                       << QByteArray("id: s1-17\nretry: 3000\ndata: x\n\n");
    QTest::newRow("retry without id")
        << QByteArray() << QByteArray("x") << 500 << QByteArray("retry: 500\ndata: x\n\n");
    QTest::newRow("retry 0 is written")
        << QByteArray() << QByteArray("x") << 0 << QByteArray("retry: 0\ndata: x\n\n");
    QTest::newRow("multi-line: LF") << QByteArray() << QByteArray("a\nb\nc") << -1
                                    << QByteArray("data: a\ndata: b\ndata: c\n\n");
    QTest::newRow("multi-line: CR") << QByteArray() << QByteArray("a\rb") << -1
                                    << QByteArray("data: a\ndata: b\n\n");
    QTest::newRow("multi-line: CRLF is one line end")
        << QByteArray() << QByteArray("a\r\nb") << -1 << QByteArray("data: a\ndata: b\n\n");
    QTest::newRow("multi-line: LF CR is two line ends")
        << QByteArray() << QByteArray("a\n\rb") << -1 << QByteArray("data: a\ndata: \ndata: b\n\n");
    QTest::newRow("multi-line: blank line inside")
        << QByteArray() << QByteArray("a\n\nb") << -1 << QByteArray("data: a\ndata: \ndata: b\n\n");
    QTest::newRow("multi-line: mixed endings") << QByteArray() << QByteArray("a\rb\nc\r\nd") << -1
                                               << QByteArray("data: a\ndata: b\ndata: c\ndata: d\n\n");
    QTest::newRow("trailing LF ends the last line")
        << QByteArray() << QByteArray("a\n") << -1 << QByteArray("data: a\n\n");
    QTest::newRow("trailing CRLF ends the last line")
        << QByteArray() << QByteArray("a\r\n") << -1 << QByteArray("data: a\n\n");
    QTest::newRow("empty data: priming event")
        << QByteArray("0") << QByteArray() << -1 << QByteArray("id: 0\ndata: \n\n");
    QTest::newRow("empty data with retry")
        << QByteArray("s-1") << QByteArray() << 1000 << QByteArray("id: s-1\nretry: 1000\ndata: \n\n");
    QTest::newRow("data with a colon and leading space")
        << QByteArray() << QByteArray(" a: b") << -1 << QByteArray("data:  a: b\n\n");
    QTest::newRow("id: LF removed") << QByteArray("1\n2") << QByteArray("x") << -1
                                    << QByteArray("id: 12\ndata: x\n\n");
    QTest::newRow("id: CR and CRLF removed")
        << QByteArray("a\rb\r\nc") << QByteArray("x") << -1 << QByteArray("id: abc\ndata: x\n\n");
    QTest::newRow("id: NUL removed") << QByteArray("a\0b", 3) << QByteArray("x") << -1
                                     << QByteArray("id: ab\ndata: x\n\n");
    QTest::newRow("id: injected field cannot escape")
        << QByteArray("1\ndata: evil\n\nid: 2") << QByteArray("x") << -1
        << QByteArray("id: 1data: evilid: 2\ndata: x\n\n");
}

void tst_SseEncoder::event()
{
    QFETCH(QByteArray, id);
    QFETCH(QByteArray, data);
    QFETCH(int, retryMs);
    QFETCH(QByteArray, expected);

    QCOMPARE(Sse::event(id, data, retryMs), expected);
}

void tst_SseEncoder::roundTrip_data()
{
    QTest::addColumn<QByteArray>("id");
    QTest::addColumn<QByteArray>("data");
    QTest::addColumn<QByteArray>("received"); // what a browser's EventSource sees as data

    QTest::newRow("JSON") << QByteArray("s1-5") << QByteArray(R"({"jsonrpc":"2.0","id":1,"result":{}})")
                          << QByteArray(R"({"jsonrpc":"2.0","id":1,"result":{}})");
    QTest::newRow("LF lines") << QByteArray("1") << QByteArray("a\nb") << QByteArray("a\nb");
    QTest::newRow("CR lines arrive as LF") << QByteArray("1") << QByteArray("a\rb") << QByteArray("a\nb");
    QTest::newRow("CRLF lines arrive as LF")
        << QByteArray("1") << QByteArray("a\r\nb\r\nc") << QByteArray("a\nb\nc");
    QTest::newRow("blank line inside survives")
        << QByteArray("1") << QByteArray("a\n\nb") << QByteArray("a\n\nb");
    QTest::newRow("leading space survives") << QByteArray("1") << QByteArray("  x") << QByteArray("  x");
    QTest::newRow("empty data") << QByteArray("1") << QByteArray() << QByteArray();
    QTest::newRow("a field-like line stays data")
        << QByteArray("1") << QByteArray("x\nid: 99\n\nevent: y") << QByteArray("x\nid: 99\n\nevent: y");
}

void tst_SseEncoder::roundTrip()
{
    QFETCH(QByteArray, id);
    QFETCH(QByteArray, data);
    QFETCH(QByteArray, received);

    const ParsedEvent parsed = parse(Sse::event(id, data, 2500));
    QCOMPARE(parsed.events, 1);
    QVERIFY(parsed.hasId);
    QCOMPARE(parsed.id, id);
    QCOMPARE(parsed.retry, 2500);
    QCOMPARE(parsed.data, received);
}

void tst_SseEncoder::keepAlive()
{
    QCOMPARE(Sse::keepAlive(), QByteArray(":\n\n"));
    const ParsedEvent parsed = parse(Sse::keepAlive());
    QCOMPARE(parsed.events, 0); // a comment dispatches nothing
}

void tst_SseEncoder::chunk_data()
{
    QTest::addColumn<QByteArray>("payload");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("empty gives nothing") << QByteArray() << QByteArray();
    QTest::newRow("one byte") << QByteArray("x") << QByteArray("1\r\nx\r\n");
    QTest::newRow("size in hex") << QByteArray(10, 'a') << QByteArray("a\r\naaaaaaaaaa\r\n");
    QTest::newRow("16 bytes is 10") << QByteArray(16, 'b')
                                    << QByteArray("10\r\n" + QByteArray(16, 'b') + "\r\n");
    QTest::newRow("255 bytes is ff, lowercase")
        << QByteArray(255, 'c') << QByteArray("ff\r\n" + QByteArray(255, 'c') + "\r\n");
    QTest::newRow("65536 bytes is 10000")
        << QByteArray(65536, 'd') << QByteArray("10000\r\n" + QByteArray(65536, 'd') + "\r\n");
    QTest::newRow("payload with CRLF and NUL")
        << QByteArray("a\r\n\0b", 5) << QByteArray("5\r\n" + QByteArray("a\r\n\0b", 5) + "\r\n");
}

void tst_SseEncoder::chunk()
{
    QFETCH(QByteArray, payload);
    QFETCH(QByteArray, expected);

    QCOMPARE(Sse::chunk(payload), expected);
}

void tst_SseEncoder::lastChunk()
{
    QCOMPARE(Sse::lastChunk(), QByteArray("0\r\n\r\n"));
}

void tst_SseEncoder::chunkedStreamDecodes()
{
    // Several events as chunks, then the last chunk: a chunked decoder (RFC 9112 §7.1.3)
    // gets the events back byte for byte and sees the end.
    const QByteArrayList events{Sse::event("1", "{\"a\":1}"), Sse::keepAlive(), Sse::event("2", "x\ny", 100),
                                QByteArray(300, 'z')};
    QByteArray wire;
    for (const QByteArray &event : events)
        wire += Sse::chunk(event);
    wire += Sse::chunk(QByteArray()); // must not end the body early
    wire += Sse::lastChunk();

    QByteArray body;
    bool ended = false;
    qsizetype pos = 0;
    while (pos < wire.size()) {
        const qsizetype lineEnd = wire.indexOf("\r\n", pos);
        QVERIFY(lineEnd > pos);
        bool ok = false;
        const qsizetype size = wire.mid(pos, lineEnd - pos).toLongLong(&ok, 16);
        QVERIFY(ok);
        pos = lineEnd + 2;
        if (size == 0) {
            QCOMPARE(wire.mid(pos), QByteArray("\r\n"));
            ended = true;
            break;
        }
        body += wire.mid(pos, size);
        pos += size;
        QCOMPARE(wire.mid(pos, 2), QByteArray("\r\n"));
        pos += 2;
    }
    QVERIFY(ended);
    QCOMPARE(body, events.join());
}

QTEST_GUILESS_MAIN(tst_SseEncoder)
#include "tst_sseencoder.moc"
