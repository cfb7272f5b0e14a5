#include <QTest>

#include "http/HttpHeaders.h"

using namespace fmb;

class tst_HttpHeaders : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void accepts_data();
    void accepts();
    void mediaType_data();
    void mediaType();
    void hasToken_data();
    void hasToken();
    void headEnd_data();
    void headEnd();
    void contentLength_data();
    void contentLength();
    void reasonPhrase_data();
    void reasonPhrase();
    void response_data();
    void response();
    void chunkedHead();
};

void tst_HttpHeaders::accepts_data()
{
    QTest::addColumn<QByteArray>("accept");
    QTest::addColumn<QByteArray>("type");
    QTest::addColumn<bool>("expected");

    const QByteArray json = "application/json";
    const QByteArray sse = "text/event-stream";

    QTest::newRow("absent header admits everything") << QByteArray() << json << true;
    QTest::newRow("blank header admits everything") << QByteArray("   ") << sse << true;
    QTest::newRow("exact") << json << json << true;
    QTest::newRow("other type") << QByteArray("text/html") << json << false;
    QTest::newRow("MCP client: json") << QByteArray("application/json, text/event-stream") << json << true;
    QTest::newRow("MCP client: sse") << QByteArray("application/json, text/event-stream") << sse << true;
    QTest::newRow("list without the type") << QByteArray("text/html, application/xml") << json << false;
    QTest::newRow("no prefix match") << QByteArray("application/jsonp") << json << false;
    QTest::newRow("no suffix match") << QByteArray("application/json") << QByteArray("application/js")
                                     << false;
    QTest::newRow("wildcard */*") << QByteArray("*/*") << sse << true;
    QTest::newRow("type wildcard matches its family") << QByteArray("application/*") << json << true;
    QTest::newRow("type wildcard: other family") << QByteArray("text/*") << json << false;
    QTest::newRow("type wildcard for sse") << QByteArray("text/*") << sse << true;
    QTest::newRow("bare * is not a media range") << QByteArray("*") << json << false;
    QTest::newRow("case: header upper") << QByteArray("Application/JSON") << json << true;
    QTest::newRow("case: type upper") << json << QByteArray("Application/Json") << true;
    QTest::newRow("case: wildcard family") << QByteArray("TEXT/*") << sse << true;
    QTest::newRow("whitespace around ranges")
        << QByteArray("  text/html ,\tapplication/json  ") << json << true;
    QTest::newRow("other parameters ignored")
        << QByteArray("application/json; charset=utf-8") << json << true;
    QTest::newRow("q=1") << QByteArray("application/json;q=1") << json << true;
    QTest::newRow("q=0.5") << QByteArray("application/json; q=0.5") << json << true;
    QTest::newRow("q=0.001 is still accepted") << QByteArray("application/json;q=0.001") << json << true;
    QTest::newRow("q=0 refuses") << QByteArray("application/json;q=0") << json << false;
    QTest::newRow("q=0.0 refuses") << QByteArray("application/json; q=0.0") << json << false;
    QTest::newRow("q=0.000 refuses") << QByteArray("application/json;q=0.000") << json << false;
    QTest::newRow("Q=0 upper case refuses") << QByteArray("application/json;Q=0") << json << false;
    QTest::newRow("q=0 after another parameter")
        << QByteArray("application/json;charset=utf-8;q=0") << json << false;
    QTest::newRow("*/*;q=0 refuses") << QByteArray("*/*;q=0") << json << false;
    QTest::newRow("q=0 for one type, another accepted")
        << QByteArray("application/json;q=0, text/event-stream") << sse << true;
    QTest::newRow("refused exactly, also listed positively")
        << QByteArray("application/json;q=0, application/json") << json << true;
    QTest::newRow("*/*;q=0 but the type listed") << QByteArray("*/*;q=0, application/json") << json << true;
    // RFC 9110 §12.5.1: the most specific range has precedence, so "application/json;q=0"
    // refuses JSON even though "*/*" would admit it.
    QTest::newRow("specific q=0 beats */*") << QByteArray("application/json;q=0, */*") << json << false;
    QTest::newRow("specific q=0 beats type/*")
        << QByteArray("application/*, application/json;q=0") << json << false;
}

void tst_HttpHeaders::accepts()
{
    QFETCH(QByteArray, accept);
    QFETCH(QByteArray, type);
    QFETCH(bool, expected);

    QCOMPARE(Http::accepts(accept, type), expected);
}

void tst_HttpHeaders::mediaType_data()
{
    QTest::addColumn<QByteArray>("contentType");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("plain") << QByteArray("application/json") << QByteArray("application/json");
    QTest::newRow("with charset") << QByteArray("application/json; charset=utf-8")
                                  << QByteArray("application/json");
    QTest::newRow("no space before parameter")
        << QByteArray("application/json;charset=UTF-8") << QByteArray("application/json");
    QTest::newRow("several parameters")
        << QByteArray("text/plain; charset=utf-8; format=flowed") << QByteArray("text/plain");
    QTest::newRow("upper case lowered")
        << QByteArray("Application/JSON; Charset=UTF-8") << QByteArray("application/json");
    QTest::newRow("whitespace trimmed")
        << QByteArray("  application/json  ;x=y") << QByteArray("application/json");
    QTest::newRow("empty") << QByteArray() << QByteArray();
    QTest::newRow("parameters only") << QByteArray(";charset=utf-8") << QByteArray();
}

void tst_HttpHeaders::mediaType()
{
    QFETCH(QByteArray, contentType);
    QFETCH(QByteArray, expected);

    QCOMPARE(Http::mediaType(contentType), expected);
}

void tst_HttpHeaders::hasToken_data()
{
    QTest::addColumn<QByteArray>("header");
    QTest::addColumn<QByteArray>("token");
    QTest::addColumn<bool>("expected");

    QTest::newRow("single") << QByteArray("close") << QByteArray("close") << true;
    QTest::newRow("case-insensitive") << QByteArray("Close") << QByteArray("close") << true;
    QTest::newRow("in a list") << QByteArray("keep-alive, Upgrade") << QByteArray("upgrade") << true;
    QTest::newRow("first in a list") << QByteArray("keep-alive, Upgrade") << QByteArray("keep-alive") << true;
    QTest::newRow("whitespace around") << QByteArray("  close  ,  te ") << QByteArray("te") << true;
    QTest::newRow("not listed") << QByteArray("keep-alive") << QByteArray("close") << false;
    QTest::newRow("prefix is not the token") << QByteArray("closed") << QByteArray("close") << false;
    QTest::newRow("token is not a prefix") << QByteArray("close") << QByteArray("clo") << false;
    QTest::newRow("substring of an item")
        << QByteArray("keep-alive-ish") << QByteArray("keep-alive") << false;
    QTest::newRow("empty header") << QByteArray() << QByteArray("close") << false;
}

void tst_HttpHeaders::hasToken()
{
    QFETCH(QByteArray, header);
    QFETCH(QByteArray, token);
    QFETCH(bool, expected);

    QCOMPARE(Http::hasToken(header, token), expected);
}

void tst_HttpHeaders::headEnd_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<qsizetype>("end");

    QTest::newRow("incomplete") << QByteArray("POST /mcp HTTP/1.1\r\nHost: a\r\n") << qsizetype(-1);
    QTest::newRow("CRLF blank line") << QByteArray("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody") << qsizetype(27);
    QTest::newRow("bare LF blank line") << QByteArray("GET / HTTP/1.1\nHost: a\n\nbody") << qsizetype(24);
    QTest::newRow("LF LF in the body after a CRLF head")
        << QByteArray("GET / HTTP/1.1\r\n\r\nx\n\n") << qsizetype(18);
    QTest::newRow("empty") << QByteArray() << qsizetype(-1);
}

void tst_HttpHeaders::headEnd()
{
    QFETCH(QByteArray, bytes);
    QFETCH(qsizetype, end);

    QCOMPARE(Http::headEnd(bytes), end);
}

void tst_HttpHeaders::contentLength_data()
{
    QTest::addColumn<QByteArray>("head");
    QTest::addColumn<qint64>("length");

    QTest::newRow("present") << QByteArray("POST /mcp HTTP/1.1\r\nContent-Length: 8388608\r\n\r\n")
                             << qint64(8388608);
    QTest::newRow("any case, spaces")
        << QByteArray("POST / HTTP/1.1\r\ncontent-LENGTH:   42  \r\n") << qint64(42);
    QTest::newRow("absent (chunked)")
        << QByteArray("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") << qint64(-1);
    QTest::newRow("not a number") << QByteArray("POST / HTTP/1.1\r\nContent-Length: lots\r\n") << qint64(-1);
    QTest::newRow("negative") << QByteArray("POST / HTTP/1.1\r\nContent-Length: -5\r\n") << qint64(-1);
    QTest::newRow("only in the request line")
        << QByteArray("POST /Content-Length:5 HTTP/1.1\r\n\r\n") << qint64(-1);
}

void tst_HttpHeaders::contentLength()
{
    QFETCH(QByteArray, head);
    QFETCH(qint64, length);

    QCOMPARE(Http::contentLength(head), length);
}

void tst_HttpHeaders::reasonPhrase_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("phrase");

    QTest::newRow("200") << 200 << QByteArray("OK");
    QTest::newRow("202") << 202 << QByteArray("Accepted");
    QTest::newRow("400") << 400 << QByteArray("Bad Request");
    QTest::newRow("401") << 401 << QByteArray("Unauthorized");
    QTest::newRow("403") << 403 << QByteArray("Forbidden");
    QTest::newRow("404") << 404 << QByteArray("Not Found");
    QTest::newRow("405") << 405 << QByteArray("Method Not Allowed");
    QTest::newRow("406") << 406 << QByteArray("Not Acceptable");
    QTest::newRow("413") << 413 << QByteArray("Payload Too Large");
    QTest::newRow("415") << 415 << QByteArray("Unsupported Media Type");
    QTest::newRow("429") << 429 << QByteArray("Too Many Requests");
    QTest::newRow("503") << 503 << QByteArray("Service Unavailable");
    QTest::newRow("unknown status") << 418 << QByteArray("Status");
}

void tst_HttpHeaders::reasonPhrase()
{
    QFETCH(int, status);
    QFETCH(QByteArray, phrase);

    QCOMPARE(Http::reasonPhrase(status), phrase);
}

void tst_HttpHeaders::response_data()
{
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("JSON body") << 200 << QByteArray(R"({"ok":true})")
                               << QByteArray("HTTP/1.1 200 OK\r\n"
                                             "Content-Type: application/json\r\n"
                                             "Mcp-Session-Id: abc\r\n"
                                             "Content-Length: 11\r\n"
                                             "\r\n"
                                             R"({"ok":true})");
    QTest::newRow("empty body") << 202 << QByteArray()
                                << QByteArray("HTTP/1.1 202 Accepted\r\n"
                                              "Content-Type: application/json\r\n"
                                              "Mcp-Session-Id: abc\r\n"
                                              "Content-Length: 0\r\n"
                                              "\r\n");
    QTest::newRow("binary body with NUL counted") << 404 << QByteArray("a\0b\r\n", 5)
                                                  << QByteArray("HTTP/1.1 404 Not Found\r\n"
                                                                "Content-Type: application/json\r\n"
                                                                "Mcp-Session-Id: abc\r\n"
                                                                "Content-Length: 5\r\n"
                                                                "\r\n") +
                                                         QByteArray("a\0b\r\n", 5);
}

void tst_HttpHeaders::response()
{
    QFETCH(int, status);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, expected);

    // Headers go out in the order given, before Content-Length.
    const Http::HeaderList headers{{"Content-Type", "application/json"}, {"Mcp-Session-Id", "abc"}};
    QCOMPARE(Http::response(status, headers, body), expected);
}

void tst_HttpHeaders::chunkedHead()
{
    QCOMPARE(Http::chunkedHead(200, {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}}),
             QByteArray("HTTP/1.1 200 OK\r\n"
                        "Content-Type: text/event-stream\r\n"
                        "Cache-Control: no-cache\r\n"
                        "Transfer-Encoding: chunked\r\n"
                        "\r\n"));
    QCOMPARE(Http::chunkedHead(200, {}), QByteArray("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
}

QTEST_GUILESS_MAIN(tst_HttpHeaders)
#include "tst_httpheaders.moc"
