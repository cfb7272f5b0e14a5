#include <memory>

#include <QCoreApplication>
#include <QHttpServerRequest>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>

#include "RawHttpClient.h"
#include "transport/HttpSink.h"
#include "transport/McpHttpServer.h"
#include "transport/SseEncoder.h"

using namespace fmb;
using fmb::test::RawHttpClient;
using fmb::test::RawResponse;

// HttpSink on real connections: what a session's answer looks like on the
// wire (a JSON answer, or an SSE stream with chunked coding), keep-alive
// comments on idle streams, "Connection: close" honoured, and the two ways a
// client goes away (stops reading; leaves before its answer). The routes
// below stand for the session: they open a sink on the exchange, and the
// test writes to it as a session would.
class tst_HttpSink : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void jsonAnswerNamesTheSessionOnlyOnSuccess();
    void sseHeadChunksAndLastChunk();
    void keepAliveOnIdleStream();
    void connectionCloseHonoured();
    void readerThatStopsReadingIsDropped();
    void clientGoneBeforeTheAnswer();
    void tellsTheServerOnceEach();

private:
    McpHttpServer *server() const { return m_server.get(); }

    std::unique_ptr<McpHttpServer> m_server;
    quint16 m_port = 0;
    QPointer<HttpSink> m_sink; // the sink the last /sse or /hold request opened
};

namespace {

constexpr int KeepAliveMs = 50;
const QByteArray SessionId = "0123456789abcdef";
const QByteArray Body = R"({"jsonrpc":"2.0","id":1,"result":{}})";

// ?failed: the answer of an initialize whose backend failed.
AnswerKind answerParameter(const QHttpServerRequest &request)
{
    return request.url().query() == QLatin1String("failed") ? AnswerKind::InitializeFailed
                                                            : AnswerKind::Answered;
}

} // namespace

void tst_HttpSink::init()
{
    HttpConfig config;
    config.keepAliveMs = KeepAliveMs;
    m_server = std::make_unique<McpHttpServer>(
        config, OriginPolicy({}, QStringLiteral("127.0.0.1"), QString()), nullptr,
        [](const QHttpServerRequest &) -> Result<SessionOwner, AuthFailure> {
            return SessionOwner{QStringLiteral("local"), QString()};
        });
    // A whole JSON answer (a failed initialize's with ?failed).
    m_server->addRoute(QStringLiteral("/json"),
                       [this](const QHttpServerRequest &request, const HttpExchange &exchange) {
                           if (HttpSink *sink = server()->openSink(exchange, {{"X-Test", "json"}}, SessionId))
                               sink->sendJson(answerParameter(request), Body);
                           return true;
                       });
    // A stream with one event; the test goes on writing to m_sink.
    m_server->addRoute(QStringLiteral("/sse"),
                       [this](const QHttpServerRequest &, const HttpExchange &exchange) {
                           m_sink = server()->openSink(exchange, {{"X-Test", "sse"}}, SessionId);
                           if (m_sink)
                               m_sink->sendEvent("e1", Body);
                           return true;
                       });
    // A sink nothing is written to yet (a POST waiting for its child).
    m_server->addRoute(QStringLiteral("/hold"),
                       [this](const QHttpServerRequest &, const HttpExchange &exchange) {
                           m_sink = server()->openSink(exchange, {}, {});
                           return true;
                       });
    const Result<quint16> port = m_server->listenOn(QHostAddress::LocalHost, 0);
    QVERIFY(port.ok());
    m_port = port.value();
}

void tst_HttpSink::cleanup()
{
    m_server.reset();
}

void tst_HttpSink::jsonAnswerNamesTheSessionOnlyOnSuccess()
{
    RawHttpClient client(m_port);
    const RawResponse ok = client.exchange("POST", "/json", {});
    QCOMPARE(ok.status, 200);
    QCOMPARE(ok.header("content-type"), QByteArray("application/json"));
    QCOMPARE(ok.header("x-test"), QByteArray("json"));
    QCOMPARE(ok.header("mcp-session-id"), SessionId);
    QCOMPARE(ok.body, Body);
    QVERIFY(!ok.hasHeader("connection"));

    // Same connection (kept alive): a failure does not name the session.
    const RawResponse failed = client.exchange("POST", "/json?failed", {});
    QCOMPARE(failed.status, 502);
    QCOMPARE(failed.header("x-test"), QByteArray("json"));
    QVERIFY(!failed.hasHeader("mcp-session-id"));
    QCOMPARE(failed.body, Body);
    QVERIFY(client.connected());
    QCOMPARE(server()->openStreams(), 0); // a JSON answer is no stream
}

void tst_HttpSink::sseHeadChunksAndLastChunk()
{
    RawHttpClient client(m_port);
    const RawResponse head = client.exchange("GET", "/sse", {});
    QCOMPARE(head.status, 200);
    QCOMPARE(head.header("content-type"), QByteArray("text/event-stream"));
    QCOMPARE(head.header("transfer-encoding"), QByteArray("chunked"));
    QCOMPARE(head.header("cache-control"), QByteArray("no-cache, no-transform"));
    QCOMPARE(head.header("x-accel-buffering"), QByteArray("no"));
    QCOMPARE(head.header("x-test"), QByteArray("sse"));
    QCOMPARE(head.header("mcp-session-id"), SessionId); // a stream is a success
    QVERIFY(!head.hasHeader("content-length"));
    QVERIFY(m_sink);
    QVERIFY(m_sink->streaming());
    QCOMPARE(server()->openStreams(), 1);

    const QByteArray first = Sse::chunk(Sse::event("e1", Body));
    QCOMPARE(client.readStream(first), first);
    m_sink->sendEvent("e2", "two");
    const QByteArray second = Sse::chunk(Sse::event("e2", "two"));
    QCOMPARE(client.readStream(second), second);

    m_sink->end();
    QCOMPARE(client.readStream(Sse::lastChunk()), Sse::lastChunk());
    QCOMPARE(server()->openStreams(), 0);
    QTRY_VERIFY(m_sink.isNull()); // done: it deleted itself

    // The connection is kept alive for the next request.
    QVERIFY(client.connected());
    QCOMPARE(client.exchange("POST", "/json", {}).status, 200);
}

void tst_HttpSink::keepAliveOnIdleStream()
{
    RawHttpClient client(m_port);
    QCOMPARE(client.exchange("GET", "/sse", {}).status, 200);
    const QByteArray comment = Sse::chunk(Sse::keepAlive());
    const QByteArray twice = comment + comment; // more than one interval
    const QByteArray stream = client.readStream(twice);
    QVERIFY2(stream.contains(twice), stream.constData());
    QVERIFY(client.connected());

    // Once the stream ends, the timer has nothing to keep alive.
    m_sink->end();
    QCOMPARE(server()->openStreams(), 0);
}

void tst_HttpSink::connectionCloseHonoured()
{
    RawHttpClient json(m_port);
    const RawResponse answer = json.exchange("POST", "/json", {"Connection: close"});
    QCOMPARE(answer.status, 200);
    QCOMPARE(answer.header("connection"), QByteArray("close"));
    QCOMPARE(answer.body, Body);
    QVERIFY(json.waitClosed());

    RawHttpClient sse(m_port);
    const RawResponse head = sse.exchange("GET", "/sse", {"Connection: close"});
    QCOMPARE(head.status, 200);
    QCOMPARE(head.header("connection"), QByteArray("close"));
    QVERIFY(m_sink);
    m_sink->end();
    QVERIFY(sse.readStream(Sse::lastChunk()).endsWith(Sse::lastChunk()));
    QVERIFY(sse.waitClosed());
}

void tst_HttpSink::readerThatStopsReadingIsDropped()
{
    RawHttpClient client(m_port);
    QCOMPARE(client.exchange("GET", "/sse", {}).status, 200);
    QVERIFY(m_sink);
    // The client stops reading: its socket buffers no more than this, then
    // the kernel's buffers fill up and the server's output queues.
    client.socket()->setReadBufferSize(4096);
    const QByteArray event(64 * 1024, 'x');
    int sent = 0;
    while (m_sink && m_sink->isOpen() && sent < 1000) {
        m_sink->sendEvent(QByteArray::number(++sent), event);
        QCoreApplication::processEvents();
    }
    // Dropped past the cap (8 MiB unsent), well before 1000 events (64 MiB).
    QVERIFY2(sent < 1000, qPrintable(QString::number(sent)));
    QVERIFY(sent * event.size() > 8 * 1024 * 1024);
    QTRY_VERIFY(m_sink.isNull() || !m_sink->isOpen());
    QTRY_COMPARE(server()->openStreams(), 0);
    client.socket()->setReadBufferSize(0); // reading again, it sees the connection gone
    QVERIFY(client.waitClosed());
}

void tst_HttpSink::clientGoneBeforeTheAnswer()
{
    {
        RawHttpClient client(m_port);
        client.send("POST", "/hold", {});
        QTRY_VERIFY(m_sink);
        QVERIFY(m_sink->isOpen());
    } // the client leaves before its answer
    QTRY_VERIFY(m_sink.isNull() || !m_sink->isOpen());
    if (m_sink)
        m_sink->sendJson(AnswerKind::Answered, Body); // too late: nothing is written, nothing breaks
    QTRY_VERIFY(m_sink.isNull());                     // it died with its connection
    QCOMPARE(server()->openStreams(), 0);
}

void tst_HttpSink::tellsTheServerOnceEach()
{
    RawHttpClient client(m_port);
    client.send("POST", "/hold", {});
    QTRY_VERIFY(m_sink);
    QSignalSpy started(m_sink.data(), &HttpSink::streamingStarted);
    QSignalSpy finished(m_sink.data(), &HttpSink::finished);
    m_sink->sendEvent("e1", Body);
    m_sink->sendEvent("e2", Body); // the same stream: started once
    QCOMPARE(started.count(), 1);
    QCOMPARE(started.first().first().value<HttpSink *>(), m_sink.data());
    QCOMPARE(server()->openStreams(), 1);
    m_sink->end();
    QCOMPARE(finished.count(), 1);
    QCOMPARE(server()->openStreams(), 0);
    QTRY_VERIFY(m_sink.isNull()); // and not again when it goes away
    QCOMPARE(finished.count(), 1);
}

QTEST_GUILESS_MAIN(tst_HttpSink)
#include "tst_httpsink.moc"
