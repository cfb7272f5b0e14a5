#include <algorithm>
#include <memory>
#include <vector>

#include <QElapsedTimer>
#include <QHttpServerRequest>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>

#include "base/Metrics.h"
#include "transport/GuardedTcpServer.h"
#include "transport/HttpSink.h"
#include "transport/McpHttpServer.h"

using namespace fmb;

// The listening socket's guards over real sockets: framing that could smuggle
// a request is refused with 400 (or 501/505) and the connection closed;
// connections that never send, or idle after their answer, are closed after
// their timeouts while busy ones (an answer pending, an SSE stream) are
// never cut; and the connection caps make room by closing idle connections,
// refusing with 503 only when every connection is busy.
class tst_GuardedTcpServer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void framingRefused_data();
    void framingRefused();
    void validRequestsKeepTheConnection();
    void neverSendingClosedAfterRequestTimeout();
    void partialRequestAnswered408();
    void idleKeepAliveClosed();
    void busyConnectionsNeverCut();
    void floodOfIdleConnectionsFromOneAddress();
    void floodOfIdleConnectionsFromManyAddresses();
    void refusedWith503WhenAllBusy();

private:
    std::unique_ptr<McpHttpServer> makeServer(HttpConfig config);
    quint16 m_port = 0;
    int m_hangs = 0; // requests that reached /hang
};

namespace {

constexpr int WaitMs = 5000;

std::unique_ptr<QTcpSocket> connectTo(quint16 port, const QHostAddress &from = QHostAddress())
{
    auto socket = std::make_unique<QTcpSocket>();
    if (!from.isNull())
        socket->bind(from);
    socket->connectToHost(QHostAddress::LocalHost, port);
    if (!socket->waitForConnected(WaitMs))
        return nullptr;
    return socket;
}

bool closedByPeer(QTcpSocket *socket)
{
    return socket->state() == QAbstractSocket::UnconnectedState;
}

// Everything the server sends until it closes the connection.
QByteArray readUntilClosed(QTcpSocket *socket)
{
    QByteArray all;
    (void)QTest::qWaitFor(
        [&] {
            all += socket->readAll();
            return closedByPeer(socket);
        },
        WaitMs);
    return all + socket->readAll();
}

// One complete response (head and Content-Length body), or what came within WaitMs.
QByteArray readResponse(QTcpSocket *socket)
{
    QByteArray all;
    (void)QTest::qWaitFor(
        [&] {
            all += socket->readAll();
            const qsizetype end = all.indexOf("\r\n\r\n");
            if (end < 0)
                return false;
            const qsizetype at = all.toLower().indexOf("content-length:");
            const qint64 length =
                at < 0 ? 0 : all.mid(at + 15, all.indexOf("\r\n", at) - at - 15).trimmed().toLongLong();
            return all.size() >= end + 4 + length;
        },
        WaitMs);
    return all;
}

int statusOf(const QByteArray &response)
{
    return response.startsWith("HTTP/1.1 ") ? response.mid(9, 3).toInt() : 0;
}

const QByteArray healthz = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

using Flood = std::vector<std::unique_ptr<QTcpSocket>>;

// `count` connections that never send, from 127.0.0.1, or from 127.0.0.2 and
// up when `sources` > 0; empty if one could not connect.
Flood openFlood(quint16 port, int count, int sources)
{
    Flood flood;
    for (int i = 0; i < count; ++i) {
        const QHostAddress from =
            sources > 0 ? QHostAddress(QStringLiteral("127.0.0.%1").arg(2 + i % sources)) : QHostAddress();
        flood.push_back(connectTo(port, from));
        if (!flood.back())
            return {};
    }
    return flood;
}

qsizetype stillOpen(const Flood &flood)
{
    return std::count_if(flood.cbegin(), flood.cend(),
                         [](const auto &socket) { return !closedByPeer(socket.get()); });
}

// How long GET /healthz on a fresh connection took to be answered 200, or -1.
qint64 healthzMs(quint16 port, const QHostAddress &from)
{
    QElapsedTimer clock;
    clock.start();
    auto fresh = connectTo(port, from);
    if (!fresh)
        return -1;
    fresh->write(healthz);
    return statusOf(readResponse(fresh.get())) == 200 ? clock.elapsed() : -1;
}

} // namespace

std::unique_ptr<McpHttpServer> tst_GuardedTcpServer::makeServer(HttpConfig config)
{
    auto server = std::make_unique<McpHttpServer>(
        config, OriginPolicy({}, QStringLiteral("127.0.0.1"), QString()), nullptr,
        [](const QHttpServerRequest &) -> Result<SessionOwner, fmb::AuthFailure> {
            return SessionOwner{QStringLiteral("local"), QString()};
        });
    // Never answered: a request waiting for a child.
    m_hangs = 0;
    server->addRoute(QStringLiteral("/hang"), [this](const QHttpServerRequest &, const fmb::HttpExchange &) {
        ++m_hangs;
        return true;
    });
    // An SSE stream that stays open.
    McpHttpServer *raw = server.get();
    server->addRoute(QStringLiteral("/stream"),
                     [raw](const QHttpServerRequest &, const fmb::HttpExchange &exchange) {
                         if (HttpSink *sink = raw->openSink(exchange, {}, {}))
                             sink->begin();
                         return true;
                     });
    const Result<quint16> port = server->listenOn(QHostAddress::Any, 0);
    m_port = port ? port.value() : 0;
    return server;
}

void tst_GuardedTcpServer::framingRefused_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");

    const QByteArray post = "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    QTest::newRow("Content-Length and Transfer-Encoding")
        << QByteArray(post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") << 400;
    QTest::newRow("two different Content-Length")
        << QByteArray(post + "Content-Length: 4\r\nContent-Length: 40\r\n\r\nabcd") << 400;
    QTest::newRow("Content-Length 2^64 (wrapped to 0 before)")
        << QByteArray(post + "Content-Length: 18446744073709551616\r\n\r\n" + healthz) << 413;
    QTest::newRow("Content-Length: 4 4") << QByteArray(post + "Content-Length: 4 4\r\n\r\nabcd") << 400;
    QTest::newRow("Content-Length: +4") << QByteArray(post + "Content-Length: +4\r\n\r\nabcd") << 400;
    QTest::newRow("Transfer-Encoding:<VT>chunked")
        << QByteArray(post + "Transfer-Encoding:\vchunked\r\n\r\n0\r\n\r\n") << 400;
    QTest::newRow("Transfer-Encoding: gzip, chunked")
        << QByteArray(post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") << 501;
    QTest::newRow("Transfer-Encoding: identity")
        << QByteArray(post + "Transfer-Encoding: identity\r\n\r\n") << 400;
    QTest::newRow("obs-fold") << QByteArray(post + "X-A: a\r\n b\r\n\r\n") << 400;
    QTest::newRow("space before the colon") << QByteArray(post + "Content-Length : 4\r\n\r\nabcd") << 400;
    QTest::newRow("bare CR") << QByteArray(post + "X-A: a\rContent-Length: 4\r\n\r\nabcd") << 400;
    QTest::newRow("NUL in a value") << QByteArray(post + QByteArray("X-A: a\0b\r\n\r\n", 12)) << 400;
    QTest::newRow("invalid header name") << QByteArray(post + "X@A: b\r\n\r\n") << 400;
    QTest::newRow("no Host") << QByteArray("GET /healthz HTTP/1.1\r\n\r\n") << 400;
    QTest::newRow("chunk size line with a bare LF")
        << QByteArray(post + "Transfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n") << 400;
    QTest::newRow("smuggled request behind a valid one")
        << QByteArray(post + "Content-Length: 4\r\n\r\nabcd" +
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                      "chunked\r\nContent-Length: 3\r\n\r\n")
        << 400;
}

void tst_GuardedTcpServer::framingRefused()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);

    HttpConfig config;
    config.maxBodyBytes = 1024 * 1024;
    auto server = makeServer(config);
    QVERIFY(m_port != 0);
    auto client = connectTo(m_port);
    QVERIFY(client);
    client->write(request);
    const QByteArray answer = readUntilClosed(client.get());
    QVERIFY2(closedByPeer(client.get()), "the connection stayed open");
    QCOMPARE(statusOf(answer), status);
    QVERIFY(answer.contains("Connection: close\r\n"));
    // The refused request never reached a handler: one answer only.
    QCOMPARE(answer.count("HTTP/1.1 "), 1);
}

void tst_GuardedTcpServer::validRequestsKeepTheConnection()
{
    auto server = makeServer(HttpConfig{});
    auto client = connectTo(m_port);
    QVERIFY(client);
    for (int i = 0; i < 3; ++i) {
        client->write(healthz);
        QCOMPARE(statusOf(readResponse(client.get())), 200);
    }
    client->write(
        "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    QCOMPARE(statusOf(readResponse(client.get())), 200);
    QCOMPARE(client->state(), QAbstractSocket::ConnectedState);
}

void tst_GuardedTcpServer::neverSendingClosedAfterRequestTimeout()
{
    HttpConfig config;
    config.requestTimeoutMs = 300;
    config.idleTimeoutMs = 60000;
    auto server = makeServer(config);
    QElapsedTimer clock;
    clock.start();
    auto silent = connectTo(m_port);
    QVERIFY(silent);
    QTRY_VERIFY_WITH_TIMEOUT(closedByPeer(silent.get()), WaitMs);
    QVERIFY2(clock.elapsed() >= 300, qPrintable(QString::number(clock.elapsed())));
    // Nothing owed to it: no answer, just the close.
    QVERIFY(silent->readAll().isEmpty());
}

void tst_GuardedTcpServer::partialRequestAnswered408()
{
    HttpConfig config;
    config.requestTimeoutMs = 300;
    auto server = makeServer(config);
    auto slow = connectTo(m_port);
    QVERIFY(slow);
    slow->write("GET /healthz HTTP/1.1\r\nHost: 127");
    QCOMPARE(statusOf(readUntilClosed(slow.get())), 408);
}

void tst_GuardedTcpServer::idleKeepAliveClosed()
{
    HttpConfig config;
    config.requestTimeoutMs = 60000;
    config.idleTimeoutMs = 300;
    auto server = makeServer(config);
    auto client = connectTo(m_port);
    QVERIFY(client);
    client->write(healthz);
    QCOMPARE(statusOf(readResponse(client.get())), 200);
    QElapsedTimer clock;
    clock.start();
    QTRY_VERIFY_WITH_TIMEOUT(closedByPeer(client.get()), WaitMs);
    QVERIFY2(clock.elapsed() >= 250, qPrintable(QString::number(clock.elapsed())));
}

void tst_GuardedTcpServer::busyConnectionsNeverCut()
{
    HttpConfig config;
    config.requestTimeoutMs = 200;
    config.idleTimeoutMs = 200;
    auto server = makeServer(config);
    auto waiting = connectTo(m_port);
    auto streaming = connectTo(m_port);
    auto idle = connectTo(m_port);
    QVERIFY(waiting && streaming && idle);
    waiting->write("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    streaming->write("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(streaming->bytesAvailable() > 0 && m_hangs == 1, WaitMs);
    idle->write(healthz);
    QCOMPARE(statusOf(readResponse(idle.get())), 200);
    // The idle one goes after 200 ms; by then the others are past both timeouts too.
    QTRY_VERIFY_WITH_TIMEOUT(closedByPeer(idle.get()), WaitMs);
    auto witness = connectTo(m_port); // closed after one more request timeout: a full sweep later
    QVERIFY(witness);
    QTRY_VERIFY_WITH_TIMEOUT(closedByPeer(witness.get()), WaitMs);
    QCOMPARE(waiting->state(), QAbstractSocket::ConnectedState);
    QCOMPARE(streaming->state(), QAbstractSocket::ConnectedState);
    QVERIFY(streaming->readAll().startsWith("HTTP/1.1 200 OK\r\n"));
}

void tst_GuardedTcpServer::floodOfIdleConnectionsFromOneAddress()
{
    HttpConfig config;
    config.maxConnectionsPerAddress = 4;
    config.maxConnections = 100;
    auto server = makeServer(config);
    const Flood flood = openFlood(m_port, 20, 0);
    QVERIFY(!flood.empty());
    // The oldest idle ones made room for the newer ones: at most 4 stay.
    QTRY_VERIFY_WITH_TIMEOUT(stillOpen(flood) <= 4, WaitMs);
    const qint64 ms = healthzMs(m_port, QHostAddress());
    QVERIFY2(ms >= 0 && ms < 1000, qPrintable(QString::number(ms)));
}

void tst_GuardedTcpServer::floodOfIdleConnectionsFromManyAddresses()
{
    HttpConfig config;
    config.maxConnectionsPerAddress = 0;
    config.maxConnections = 6;
    auto server = makeServer(config);
    // A client with a request under way is not touched by the flood.
    auto busy = connectTo(m_port, QHostAddress(QStringLiteral("127.0.0.9")));
    QVERIFY(busy);
    busy->write("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_COMPARE_WITH_TIMEOUT(m_hangs, 1, WaitMs);
    const Flood flood = openFlood(m_port, 24, 6);
    QVERIFY(!flood.empty());
    QTRY_VERIFY_WITH_TIMEOUT(stillOpen(flood) <= 5, WaitMs);
    const qint64 ms = healthzMs(m_port, QHostAddress(QStringLiteral("127.0.0.20")));
    QVERIFY2(ms >= 0 && ms < 1000, qPrintable(QString::number(ms)));
    QCOMPARE(busy->state(), QAbstractSocket::ConnectedState);
    QVERIFY(server->findChildren<GuardedTcpServer *>().constFirst()->connectionCount() <= 6);
}

void tst_GuardedTcpServer::refusedWith503WhenAllBusy()
{
    HttpConfig config;
    config.maxConnections = 3;
    config.retryAfterSeconds = 7;
    auto server = makeServer(config);
    std::vector<std::unique_ptr<QTcpSocket>> busy;
    for (int i = 0; i < 3; ++i) {
        busy.push_back(connectTo(m_port));
        QVERIFY(busy.back());
        busy.back()->write("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    GuardedTcpServer *guard = server->findChildren<GuardedTcpServer *>().constFirst();
    // Each request has reached its handler: the connections are busy.
    QTRY_COMPARE_WITH_TIMEOUT(m_hangs, 3, WaitMs);
    const quint64 refusedBefore = metrics::value(metrics::Counter::RefusedConnections);
    const quint64 fiveHundredsBefore = metrics::value(metrics::Counter::Responses5xx);
    auto late = connectTo(m_port);
    QVERIFY(late);
    const QByteArray answer = readUntilClosed(late.get());
    QCOMPARE(statusOf(answer), 503);
    QCOMPARE(metrics::value(metrics::Counter::RefusedConnections), refusedBefore + 1);
    QCOMPARE(metrics::value(metrics::Counter::Responses5xx), fiveHundredsBefore + 1);
    QVERIFY(answer.contains("Retry-After: 7\r\n"));
    QVERIFY(answer.contains("Connection: close\r\n"));
    QVERIFY(closedByPeer(late.get()));
    QCOMPARE(guard->refusedConnections(), quint64(1));
    for (const auto &socket : busy)
        QCOMPARE(socket->state(), QAbstractSocket::ConnectedState);
}

QTEST_GUILESS_MAIN(tst_GuardedTcpServer)
#include "tst_guardedtcpserver.moc"
