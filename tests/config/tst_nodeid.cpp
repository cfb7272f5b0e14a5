#include <QTest>

#include "config/NodeId.h"

using namespace fmb;

class tst_NodeId : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void defaultNodeId_data();
    void defaultNodeId();
    void valid_data();
    void valid();
};

void tst_NodeId::defaultNodeId_data()
{
    QTest::addColumn<QString>("hostName");
    QTest::addColumn<int>("port");
    QTest::addColumn<QString>("expected");
    QTest::newRow("short host name") << "web1" << 8080 << "web1-8080";
    QTest::newRow("first label of a FQDN") << "web1.eu.example.org" << 443 << "web1-443";
    QTest::newRow("odd characters become dashes") << "we b+1" << 80 << "we-b-1-80";
    QTest::newRow("no host name") << "" << 8080 << "broker-8080";
    QTest::newRow("long host name trimmed to 32 with the port")
        << QString(40, QLatin1Char('h')) << 65535 << QString(26, QLatin1Char('h')) + QStringLiteral("-65535");
}

void tst_NodeId::defaultNodeId()
{
    QFETCH(QString, hostName);
    QFETCH(int, port);
    QFETCH(QString, expected);
    const QString id = fmb::defaultNodeId(hostName, quint16(port));
    QCOMPARE(id, expected);
    QVERIFY(isValidNodeId(id));
}

void tst_NodeId::valid_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("valid");
    QTest::newRow("letters, digits, . _ -") << "Web-1.eu_2" << true;
    QTest::newRow("32 characters") << QString(32, QLatin1Char('a')) << true;
    QTest::newRow("33 characters") << QString(33, QLatin1Char('a')) << false;
    QTest::newRow("empty") << "" << false;
    QTest::newRow("colon") << "web:1" << false;
    QTest::newRow("non-ASCII digit") << QStringLiteral("web\u0661") << false;
}

void tst_NodeId::valid()
{
    QFETCH(QString, text);
    QFETCH(bool, valid);
    QCOMPARE(isValidNodeId(text), valid);
}

QTEST_GUILESS_MAIN(tst_NodeId)
#include "tst_nodeid.moc"
