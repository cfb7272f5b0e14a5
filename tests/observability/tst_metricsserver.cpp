#include <QTest>

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTcpServer>

#include "base/Metrics.h"
#include "observability/MetricsServer.h"

using namespace fmb;

class tst_MetricsServer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void getMetrics();
    void otherMethodIs405();
    void otherPathIs404();
    void scrapesAreNotCountedAsResponses();
    void busyPortIsAnError();

private:
    struct Reply {
        int status = 0;
        QByteArray body;
        QByteArray contentType;
        QByteArray allow;
    };
    Reply request(const QByteArray &verb, const QString &path);

    MetricsServer *m_server = nullptr;
    QNetworkAccessManager *m_network = nullptr;
    quint16 m_port = 0;
    int m_renders = 0;
};

void tst_MetricsServer::init()
{
    m_renders = 0;
    m_server = new MetricsServer(
        [this]() -> QByteArray { return QByteArray("# scrape ") + QByteArray::number(++m_renders) + '\n'; },
        this);
    Result<quint16> port = m_server->listen(QHostAddress::LocalHost, 0);
    QVERIFY2(port, port ? "" : qPrintable(port.error().message));
    m_port = port.value();
    m_network = new QNetworkAccessManager(this);
}

void tst_MetricsServer::cleanup()
{
    delete m_network;
    delete m_server;
}

tst_MetricsServer::Reply tst_MetricsServer::request(const QByteArray &verb, const QString &path)
{
    QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(path)));
    QNetworkReply *reply = m_network->sendCustomRequest(request, verb);
    QSignalSpy finished(reply, &QNetworkReply::finished);
    [&] { QVERIFY(finished.wait(10000)); }();
    Reply result;
    result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.body = reply->readAll();
    result.contentType = reply->rawHeader("Content-Type");
    result.allow = reply->rawHeader("Allow");
    reply->deleteLater();
    return result;
}

void tst_MetricsServer::getMetrics()
{
    Reply first = request("GET", QStringLiteral("/metrics"));
    QCOMPARE(first.status, 200);
    QCOMPARE(first.contentType, QByteArray("text/plain; version=0.0.4; charset=utf-8"));
    QCOMPARE(first.body, QByteArray("# scrape 1\n"));
    // Rendered per scrape, on a kept-alive connection too.
    Reply second = request("GET", QStringLiteral("/metrics"));
    QCOMPARE(second.status, 200);
    QCOMPARE(second.body, QByteArray("# scrape 2\n"));
    QCOMPARE(m_server->scrapes(), quint64(2));
}

void tst_MetricsServer::otherMethodIs405()
{
    Reply reply = request("POST", QStringLiteral("/metrics"));
    QCOMPARE(reply.status, 405);
    QCOMPARE(reply.allow, QByteArray("GET"));
    QCOMPARE(m_renders, 0);
}

void tst_MetricsServer::otherPathIs404()
{
    QCOMPARE(request("GET", QStringLiteral("/")).status, 404);
    QCOMPARE(request("GET", QStringLiteral("/mcp")).status, 404);
    QCOMPARE(request("GET", QStringLiteral("/metrics/x")).status, 404);
    QCOMPARE(m_renders, 0);
}

void tst_MetricsServer::scrapesAreNotCountedAsResponses()
{
    const quint64 before = metrics::value(metrics::Counter::Responses2xx);
    QCOMPARE(request("GET", QStringLiteral("/metrics")).status, 200);
    QCOMPARE(metrics::value(metrics::Counter::Responses2xx), before);
}

void tst_MetricsServer::busyPortIsAnError()
{
    MetricsServer second([] { return QByteArray(); });
    Result<quint16> port = second.listen(QHostAddress::LocalHost, m_port);
    QVERIFY(!port);
    QVERIFY2(port.error().message.contains(
                 QStringLiteral("cannot listen for metrics on 127.0.0.1:%1").arg(m_port)),
             qPrintable(port.error().message));
}

QTEST_MAIN(tst_MetricsServer)
#include "tst_metricsserver.moc"
