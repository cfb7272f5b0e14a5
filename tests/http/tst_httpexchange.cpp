#include <memory>

#include <QTest>

#include "http/HttpExchange.h"

using fmb::HttpChannel;
using fmb::HttpExchange;

namespace {

// Records what an exchange writes; stands for a connection that can go away.
class RecordingChannel final : public HttpChannel {
public:
    [[nodiscard]] bool isOpen() const override { return open; }
    [[nodiscard]] QHostAddress peerAddress() const override
    {
        return QHostAddress(QStringLiteral("192.0.2.7"));
    }
    void write(int status, const fmb::Http::HeaderList &headers, QByteArrayView body, bool close) override
    {
        ++writes;
        lastStatus = status;
        lastHeaders = headers;
        lastBody = body.toByteArray();
        closed = close;
    }

    bool open = true;
    int writes = 0;
    int lastStatus = 0;
    fmb::Http::HeaderList lastHeaders;
    QByteArray lastBody;
    bool closed = false;
};

QByteArray header(const fmb::Http::HeaderList &headers, const QByteArray &name)
{
    for (const auto &[key, value] : headers) {
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

} // namespace

class tst_HttpExchange : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void answerWritesOnce();
    void closeIsSaidAndDone();
    void redirectIsUncached();
    void goneClientGetsNothing();
};

void tst_HttpExchange::answerWritesOnce()
{
    auto channel = std::make_shared<RecordingChannel>();
    const HttpExchange exchange(channel, false);
    QCOMPARE(exchange.peerAddress(), QHostAddress(QStringLiteral("192.0.2.7")));
    exchange.answer(201, {{"Content-Type", "application/json"}}, "{}");
    QCOMPARE(channel->writes, 1);
    QCOMPARE(channel->lastStatus, 201);
    QCOMPARE(channel->lastBody, QByteArray("{}"));
    QCOMPARE(header(channel->lastHeaders, "connection"), QByteArray());
    QVERIFY(!channel->closed);
}

void tst_HttpExchange::closeIsSaidAndDone()
{
    auto channel = std::make_shared<RecordingChannel>();
    const HttpExchange exchange(channel, true);
    exchange.answer(200, {}, "ok");
    QCOMPARE(header(channel->lastHeaders, "connection"), QByteArray("close"));
    QVERIFY(channel->closed);
}

void tst_HttpExchange::redirectIsUncached()
{
    auto channel = std::make_shared<RecordingChannel>();
    const HttpExchange exchange(channel, false);
    exchange.redirect("https://client.example/cb?code=x", {{"Set-Cookie", "a=b"}});
    QCOMPARE(channel->lastStatus, 302);
    QCOMPARE(header(channel->lastHeaders, "location"), QByteArray("https://client.example/cb?code=x"));
    QCOMPARE(header(channel->lastHeaders, "cache-control"), QByteArray("no-store"));
    QCOMPARE(header(channel->lastHeaders, "referrer-policy"), QByteArray("no-referrer"));
    QCOMPARE(header(channel->lastHeaders, "set-cookie"), QByteArray("a=b"));
    QVERIFY(channel->lastBody.isEmpty());
}

void tst_HttpExchange::goneClientGetsNothing()
{
    auto channel = std::make_shared<RecordingChannel>();
    const HttpExchange kept(channel, false); // as a handler keeps it across an upstream round trip
    channel->open = false;
    QVERIFY(!kept.isOpen());
    kept.answer(200, {}, "late");
    QCOMPARE(channel->writes, 0);
    const HttpExchange none(nullptr, false);
    QVERIFY(!none.isOpen());
    none.answer(200, {}, "nowhere"); // must not crash
}

QTEST_GUILESS_MAIN(tst_HttpExchange)
#include "tst_httpexchange.moc"
