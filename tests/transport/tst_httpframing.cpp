#include <limits>

#include <QTest>

#include "transport/HttpFraming.h"

using namespace fmb;
using Body = Http::RequestFraming::Body;

class tst_HttpFraming : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parseRequestHead_data();
    void parseRequestHead();
    void scanner_data();
    void scanner();
    void scannerByteByByte_data();
    void scannerByteByByte();
};

namespace {

QByteArray post(const QByteArray &headers)
{
    return "POST /mcp HTTP/1.1\r\nHost: broker\r\n" + headers + "\r\n";
}

} // namespace

void tst_HttpFraming::parseRequestHead_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("body"); // Body, when status is 0
    QTest::addColumn<qint64>("length");

    const int none = int(Body::None);
    const int length = int(Body::Length);
    const int chunked = int(Body::Chunked);

    QTest::newRow("GET without a body")
        << QByteArray("GET /healthz HTTP/1.1\r\nHost: b\r\n\r\n") << 0 << none << qint64(0);
    QTest::newRow("bare LF line ends") << QByteArray("GET / HTTP/1.1\nHost: b\n\n") << 0 << none << qint64(0);
    QTest::newRow("Content-Length") << post("Content-Length: 42\r\n") << 0 << length << qint64(42);
    QTest::newRow("Content-Length: OWS around the value")
        << post("content-LENGTH:   42 \t\r\n") << 0 << length << qint64(42);
    QTest::newRow("Content-Length: 0") << post("Content-Length: 0\r\n") << 0 << length << qint64(0);
    QTest::newRow("Content-Length: leading zeros")
        << post("Content-Length: 007\r\n") << 0 << length << qint64(7);
    QTest::newRow("Content-Length: 2^64 saturates, no wrap")
        << post("Content-Length: 18446744073709551616\r\n") << 0 << length
        << std::numeric_limits<qint64>::max();
    QTest::newRow("chunked") << post("Transfer-Encoding: chunked\r\n") << 0 << chunked << qint64(0);
    QTest::newRow("chunked, any case") << post("Transfer-Encoding: ChUnKeD\r\n") << 0 << chunked << qint64(0);
    QTest::newRow("chunked, empty list elements ignored")
        << post("Transfer-Encoding: , chunked ,\r\n") << 0 << chunked << qint64(0);
    QTest::newRow("HTTP/1.0 without Host") << QByteArray("GET / HTTP/1.0\r\n\r\n") << 0 << none << qint64(0);
    QTest::newRow("obs-text in a value") << post("X-Name: caf\xc3\xa9\r\n") << 0 << none << qint64(0);

    // RFC 9112 §6.1 / §6.3: ambiguous framing.
    QTest::newRow("Content-Length and Transfer-Encoding")
        << post("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding and Content-Length")
        << post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n") << 400 << none << qint64(0);
    QTest::newRow("two different Content-Length")
        << post("Content-Length: 4\r\nContent-Length: 5\r\n") << 400 << none << qint64(0);
    QTest::newRow("two identical Content-Length (refused: documented)")
        << post("Content-Length: 4\r\nContent-Length: 4\r\n") << 400 << none << qint64(0);
    QTest::newRow("Content-Length list") << post("Content-Length: 4, 4\r\n") << 400 << none << qint64(0);
    QTest::newRow("Content-Length: 4 4") << post("Content-Length: 4 4\r\n") << 400 << none << qint64(0);
    QTest::newRow("Content-Length: +4") << post("Content-Length: +4\r\n") << 400 << none << qint64(0);
    QTest::newRow("Content-Length: -4") << post("Content-Length: -4\r\n") << 400 << none << qint64(0);
    QTest::newRow("Content-Length: empty") << post("Content-Length: \r\n") << 400 << none << qint64(0);
    QTest::newRow("Content-Length: hex") << post("Content-Length: 0x10\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: <VT>chunked")
        << post("Transfer-Encoding:\vchunked\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: chunked<VT>")
        << post("Transfer-Encoding: chunked\v\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: identity")
        << post("Transfer-Encoding: identity\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: chunked, gzip (chunked not final)")
        << post("Transfer-Encoding: chunked, gzip\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: gzip, chunked (not implemented)")
        << post("Transfer-Encoding: gzip, chunked\r\n") << 501 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: chunked twice")
        << post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: empty") << post("Transfer-Encoding: \r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: xchunked")
        << post("Transfer-Encoding: xchunked\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding: \"chunked\"")
        << post("Transfer-Encoding: \"chunked\"\r\n") << 400 << none << qint64(0);
    QTest::newRow("Transfer-Encoding in HTTP/1.0")
        << QByteArray("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") << 400 << none << qint64(0);

    // RFC 9112 §5: field syntax.
    QTest::newRow("obs-fold") << post("X-A: one\r\n two\r\n") << 400 << none << qint64(0);
    QTest::newRow("obs-fold with a tab") << post("X-A: one\r\n\ttwo\r\n") << 400 << none << qint64(0);
    QTest::newRow("space before the colon") << post("Content-Length : 4\r\n") << 400 << none << qint64(0);
    QTest::newRow("tab before the colon")
        << post("Transfer-Encoding\t: chunked\r\n") << 400 << none << qint64(0);
    QTest::newRow("bare CR in a value") << post("X-A: a\rb\r\n") << 400 << none << qint64(0);
    QTest::newRow("bare CR line end")
        << QByteArray("GET / HTTP/1.1\rHost: b\r\n\r\n") << 400 << none << qint64(0);
    QTest::newRow("NUL in a value") << post(QByteArray("X-A: a\0b\r\n", 10)) << 400 << none << qint64(0);
    QTest::newRow("DEL in a value") << post("X-A: a\x7f\r\n") << 400 << none << qint64(0);
    QTest::newRow("invalid name character") << post("X(A): b\r\n") << 400 << none << qint64(0);
    QTest::newRow("non-ASCII name") << post("X-\xc3\xa9: b\r\n") << 400 << none << qint64(0);
    QTest::newRow("empty name") << post(": b\r\n") << 400 << none << qint64(0);
    QTest::newRow("no colon") << post("X-A b\r\n") << 400 << none << qint64(0);
    QTest::newRow("two Host") << QByteArray("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") << 400 << none
                              << qint64(0);
    QTest::newRow("HTTP/1.1 without Host")
        << QByteArray("GET / HTTP/1.1\r\n\r\n") << 400 << none << qint64(0);

    // RFC 9112 §3: the request line.
    QTest::newRow("request line: two spaces")
        << QByteArray("GET  / HTTP/1.1\r\nHost: b\r\n\r\n") << 400 << none << qint64(0);
    QTest::newRow("request line: no version")
        << QByteArray("GET /\r\nHost: b\r\n\r\n") << 400 << none << qint64(0);
    QTest::newRow("request line: control in target")
        << QByteArray("GET /\x01 HTTP/1.1\r\nHost: b\r\n\r\n") << 400 << none << qint64(0);
    QTest::newRow("request line: HTTP/2.0")
        << QByteArray("GET / HTTP/2.0\r\nHost: b\r\n\r\n") << 505 << none << qint64(0);
    QTest::newRow("request line: HTTP/1.10")
        << QByteArray("GET / HTTP/1.10\r\nHost: b\r\n\r\n") << 400 << none << qint64(0);
    QTest::newRow("empty") << QByteArray() << 400 << none << qint64(0);
}

void tst_HttpFraming::parseRequestHead()
{
    QFETCH(QByteArray, head);
    QFETCH(int, status);
    QFETCH(int, body);
    QFETCH(qint64, length);

    const Http::RequestFraming framing = Http::parseRequestHead(head);
    QCOMPARE(framing.status, status);
    QCOMPARE(framing.reason.isEmpty(), status == 0);
    if (status == 0) {
        QCOMPARE(int(framing.body), body);
        QCOMPARE(framing.length, length);
    }
}

void tst_HttpFraming::scanner_data()
{
    QTest::addColumn<QByteArray>("stream");
    QTest::addColumn<int>("completed");
    QTest::addColumn<bool>("midRequest");
    QTest::addColumn<int>("status");

    const QByteArray get = "GET / HTTP/1.1\r\nHost: b\r\n\r\n";
    QTest::newRow("one GET") << get << 1 << false << 0;
    QTest::newRow("leading empty lines") << QByteArray("\r\n\r\n" + get) << 1 << false << 0;
    QTest::newRow("half a head") << get.left(10) << 0 << true << 0;
    QTest::newRow("pipelined GETs") << QByteArray(get + get + get) << 3 << false << 0;
    QTest::newRow("Content-Length body")
        << QByteArray(post("Content-Length: 4\r\n") + "abcd") << 1 << false << 0;
    QTest::newRow("Content-Length body, partly")
        << QByteArray(post("Content-Length: 4\r\n") + "ab") << 0 << true << 0;
    QTest::newRow("Content-Length body, then a smuggled head is checked")
        << QByteArray(post("Content-Length: 4\r\n") + "abcd" + "GET / HTTP/1.1\r\nHost: b\r\nX A: b\r\n\r\n")
        << 1 << false << 400;
    QTest::newRow("chunked body") << QByteArray(post("Transfer-Encoding: chunked\r\n") +
                                                "4\r\nabcd\r\nA;ext=1\r\n0123456789\r\n0\r\n\r\n")
                                  << 1 << false << 0;
    QTest::newRow("chunked body with a trailer")
        << QByteArray(post("Transfer-Encoding: chunked\r\n") + "1\r\na\r\n0\r\nX-T: v\r\n\r\n" + get) << 2
        << false << 0;
    QTest::newRow("chunked body, partly")
        << QByteArray(post("Transfer-Encoding: chunked\r\n") + "4\r\nab") << 0 << true << 0;
    QTest::newRow("chunk size line with a bare LF")
        << QByteArray(post("Transfer-Encoding: chunked\r\n") + "4\nabcd\r\n0\r\n\r\n") << 0 << false << 400;
    QTest::newRow("chunk data not followed by CRLF")
        << QByteArray(post("Transfer-Encoding: chunked\r\n") + "4\r\nabcdX\r\n0\r\n\r\n") << 0 << false
        << 400;
    QTest::newRow("chunk size not hex")
        << QByteArray(post("Transfer-Encoding: chunked\r\n") + "z\r\n") << 0 << false << 400;
    QTest::newRow("chunk size with a sign")
        << QByteArray(post("Transfer-Encoding: chunked\r\n") + "+4\r\n") << 0 << false << 400;
    QTest::newRow("chunk size overflowing 64 bits")
        << QByteArray(post("Transfer-Encoding: chunked\r\n") + "10000000000000004\r\n") << 0 << false << 400;
    QTest::newRow("head too large") << QByteArray("GET / HTTP/1.1\r\nX: " +
                                                  QByteArray(Http::RequestScanner::MaxHeadBytes, 'x'))
                                    << 0 << false << 431;
    QTest::newRow("ambiguous framing")
        << post("Content-Length: 1\r\nTransfer-Encoding: chunked\r\n") << 0 << false << 400;
}

void tst_HttpFraming::scanner()
{
    QFETCH(QByteArray, stream);
    QFETCH(int, completed);
    QFETCH(bool, midRequest);
    QFETCH(int, status);

    Http::RequestScanner scanner;
    const Http::RequestScanner::Outcome outcome = scanner.feed(stream);
    QCOMPARE(outcome.completed, completed);
    QCOMPARE(outcome.status, status);
    if (status == 0)
        QCOMPARE(scanner.midRequest(), midRequest);
}

void tst_HttpFraming::scannerByteByByte_data()
{
    scanner_data();
}

// The same stream in one-byte pieces: where a read splits it changes nothing.
void tst_HttpFraming::scannerByteByByte()
{
    QFETCH(QByteArray, stream);
    QFETCH(int, completed);
    QFETCH(bool, midRequest);
    QFETCH(int, status);

    Http::RequestScanner scanner;
    int total = 0;
    int refused = 0;
    for (qsizetype i = 0; i < stream.size() && refused == 0; ++i) {
        const Http::RequestScanner::Outcome outcome = scanner.feed(QByteArrayView(stream).sliced(i, 1));
        total += outcome.completed;
        refused = outcome.status;
    }
    QCOMPARE(total, completed);
    QCOMPARE(refused, status);
    if (status == 0)
        QCOMPARE(scanner.midRequest(), midRequest);
}

QTEST_GUILESS_MAIN(tst_HttpFraming)
#include "tst_httpframing.moc"
