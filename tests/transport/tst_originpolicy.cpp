#include <QTest>

#include "transport/OriginPolicy.h"

using namespace fmb;

class tst_OriginPolicy : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void hostAllowed_data();
    void hostAllowed();
    void originAllowed_data();
    void originAllowed();
};

void tst_OriginPolicy::hostAllowed_data()
{
    QTest::addColumn<QStringList>("allowedOrigins");
    QTest::addColumn<QString>("listen");
    QTest::addColumn<QString>("publicUrl");
    QTest::addColumn<QByteArray>("host");
    QTest::addColumn<bool>("expected");

    const QString v4 = QStringLiteral("127.0.0.1");
    const QString v6 = QStringLiteral("::1");
    const QString any4 = QStringLiteral("0.0.0.0");
    const QString any6 = QStringLiteral("::");
    const QString lan = QStringLiteral("192.168.1.10");
    const QString lan6 = QStringLiteral("fd00::10");
    const QString pub = QStringLiteral("https://mcp.example.com/mcp");
    const QString pubPort = QStringLiteral("http://mcp.example.com:9000/mcp");

    // Loopback listener, no public URL: loopback names on any port, nothing else.
    QTest::newRow("loopback: localhost")
        << QStringList() << v4 << QString() << QByteArray("localhost") << true;
    QTest::newRow("loopback: localhost:8080")
        << QStringList() << v4 << QString() << QByteArray("localhost:8080") << true;
    QTest::newRow("loopback: LOCALHOST:8080")
        << QStringList() << v4 << QString() << QByteArray("LOCALHOST:8080") << true;
    QTest::newRow("loopback: 127.0.0.1:8080")
        << QStringList() << v4 << QString() << QByteArray("127.0.0.1:8080") << true;
    QTest::newRow("loopback: 127.0.0.1")
        << QStringList() << v4 << QString() << QByteArray("127.0.0.1") << true;
    QTest::newRow("loopback: 127.1.2.3:80")
        << QStringList() << v4 << QString() << QByteArray("127.1.2.3:80") << true;
    QTest::newRow("loopback: [::1]:8080")
        << QStringList() << v4 << QString() << QByteArray("[::1]:8080") << true;
    QTest::newRow("loopback: [::1]") << QStringList() << v4 << QString() << QByteArray("[::1]") << true;
    QTest::newRow("loopback: app.localhost:3000")
        << QStringList() << v4 << QString() << QByteArray("app.localhost:3000") << true;
    QTest::newRow("loopback: surrounding spaces")
        << QStringList() << v4 << QString() << QByteArray("  localhost:8080 ") << true;
    QTest::newRow("loopback: evil.example.com")
        << QStringList() << v4 << QString() << QByteArray("evil.example.com") << false;
    QTest::newRow("loopback: evil.example.com:8080")
        << QStringList() << v4 << QString() << QByteArray("evil.example.com:8080") << false;
    QTest::newRow("loopback: localhost.evil.example.com")
        << QStringList() << v4 << QString() << QByteArray("localhost.evil.example.com:8080") << false;
    QTest::newRow("loopback: 127.0.0.1.evil.example.com")
        << QStringList() << v4 << QString() << QByteArray("127.0.0.1.evil.example.com") << false;
    QTest::newRow("loopback: evil-localhost")
        << QStringList() << v4 << QString() << QByteArray("evillocalhost") << false;
    QTest::newRow("loopback: LAN address")
        << QStringList() << v4 << QString() << QByteArray("192.168.1.10:8080") << false;
    QTest::newRow("loopback: 0.0.0.0")
        << QStringList() << v4 << QString() << QByteArray("0.0.0.0:8080") << false;
    QTest::newRow("loopback: [fe80::1] link-local")
        << QStringList() << v4 << QString() << QByteArray("[fe80::1]:8080") << false;
    QTest::newRow("loopback: unclosed bracket")
        << QStringList() << v4 << QString() << QByteArray("[::1:8080") << false;
    QTest::newRow("loopback: empty Host") << QStringList() << v4 << QString() << QByteArray() << false;
    QTest::newRow("loopback: port only") << QStringList() << v4 << QString() << QByteArray(":8080") << false;
    QTest::newRow("IPv6 loopback listener: localhost")
        << QStringList() << v6 << QString() << QByteArray("localhost:8080") << true;
    QTest::newRow("IPv6 loopback listener: evil")
        << QStringList() << v6 << QString() << QByteArray("evil.example.com") << false;
    QTest::newRow("localhost listener: 127.0.0.1")
        << QStringList() << QStringLiteral("localhost") << QString() << QByteArray("127.0.0.1:8080") << true;

    // Allowed origins say nothing about Host.
    QTest::newRow("loopback + origins: origin host is not a Host")
        << QStringList{QStringLiteral("https://app.example.com")} << v4 << QString()
        << QByteArray("app.example.com") << false;

    // Loopback listener behind a public URL: its host too.
    QTest::newRow("loopback + public URL: public host")
        << QStringList() << v4 << pub << QByteArray("mcp.example.com") << true;
    QTest::newRow("loopback + public URL: public host:443")
        << QStringList() << v4 << pub << QByteArray("mcp.example.com:443") << true;
    QTest::newRow("loopback + public URL: case")
        << QStringList() << v4 << pub << QByteArray("MCP.Example.COM") << true;
    QTest::newRow("loopback + public URL: still localhost")
        << QStringList() << v4 << pub << QByteArray("localhost:8080") << true;
    QTest::newRow("loopback + public URL: evil")
        << QStringList() << v4 << pub << QByteArray("evil.example.com") << false;
    QTest::newRow("loopback + public URL: subdomain")
        << QStringList() << v4 << pub << QByteArray("x.mcp.example.com") << false;
    QTest::newRow("public URL with port: host on any port")
        << QStringList() << v4 << pubPort << QByteArray("mcp.example.com:9000") << true;

    QTest::newRow("IPv6 public URL: its host")
        << QStringList() << any4 << QStringLiteral("https://[2001:db8::5]:8443/mcp")
        << QByteArray("[2001:db8::5]:8443") << true;
    // A specific non-loopback listener: its own address only.
    QTest::newRow("LAN listener: its address")
        << QStringList() << lan << QString() << QByteArray("192.168.1.10:8080") << true;
    QTest::newRow("LAN listener: localhost refused")
        << QStringList() << lan << QString() << QByteArray("localhost:8080") << false;
    QTest::newRow("LAN listener: evil")
        << QStringList() << lan << QString() << QByteArray("evil.example.com") << false;
    QTest::newRow("LAN listener + public URL: public host")
        << QStringList() << lan << pub << QByteArray("mcp.example.com") << true;
    QTest::newRow("LAN listener + public URL: its address")
        << QStringList() << lan << pub << QByteArray("192.168.1.10") << true;
    QTest::newRow("IPv6 LAN listener: bracketed")
        << QStringList() << lan6 << QString() << QByteArray("[fd00::10]:8080") << true;
    QTest::newRow("IPv6 LAN listener: other")
        << QStringList() << lan6 << QString() << QByteArray("[fd00::11]:8080") << false;

    // Wildcard listener.
    QTest::newRow("wildcard, no public URL: anything")
        << QStringList() << any4 << QString() << QByteArray("evil.example.com") << true;
    QTest::newRow("IPv6 wildcard, no public URL: anything")
        << QStringList() << any6 << QString() << QByteArray("whatever:1") << true;
    QTest::newRow("wildcard + public URL: public host")
        << QStringList() << any4 << pub << QByteArray("mcp.example.com:443") << true;
    QTest::newRow("wildcard + public URL: evil")
        << QStringList() << any4 << pub << QByteArray("evil.example.com") << false;
    QTest::newRow("wildcard + public URL: localhost")
        << QStringList() << any6 << pub << QByteArray("localhost:8080") << false;
    QTest::newRow("wildcard + public URL: 0.0.0.0")
        << QStringList() << any4 << pub << QByteArray("0.0.0.0") << false;
}

void tst_OriginPolicy::hostAllowed()
{
    QFETCH(QStringList, allowedOrigins);
    QFETCH(QString, listen);
    QFETCH(QString, publicUrl);
    QFETCH(QByteArray, host);
    QFETCH(bool, expected);

    const OriginPolicy policy(allowedOrigins, listen, publicUrl);
    // The constructor stores the public URL's QUrl::host(), which has no IPv6 brackets,
    // while hostAllowed() looks the Host header up with its brackets kept.
    QCOMPARE(policy.hostAllowed(host), expected);
}

void tst_OriginPolicy::originAllowed_data()
{
    QTest::addColumn<QStringList>("allowedOrigins");
    QTest::addColumn<QString>("listen");
    QTest::addColumn<QString>("publicUrl");
    QTest::addColumn<QByteArray>("origin");
    QTest::addColumn<bool>("expected");

    const QString v4 = QStringLiteral("127.0.0.1");
    const QString any4 = QStringLiteral("0.0.0.0");
    const QString lan = QStringLiteral("192.168.1.10");
    const QStringList app{QStringLiteral("https://app.example.com"),
                          QStringLiteral("http://tool.example.org:8080")};
    const QString pub = QStringLiteral("https://mcp.example.com/mcp");

    // Absent: not a browser.
    QTest::newRow("absent on loopback") << QStringList() << v4 << QString() << QByteArray() << true;
    QTest::newRow("absent on wildcard") << QStringList() << any4 << QString() << QByteArray() << true;
    QTest::newRow("blank") << QStringList() << lan << QString() << QByteArray("  ") << true;

    // "null" (sandboxed frames, file://) and garbage are never allowed.
    QTest::newRow("null on loopback") << QStringList() << v4 << QString() << QByteArray("null") << false;
    QTest::newRow("null on wildcard") << QStringList() << any4 << QString() << QByteArray("null") << false;
    QTest::newRow("null even when listed")
        << QStringList{QStringLiteral("null")} << v4 << QString() << QByteArray("null") << false;
    QTest::newRow("garbage") << QStringList() << v4 << QString() << QByteArray("not a url") << false;
    QTest::newRow("file URL") << QStringList() << v4 << QString() << QByteArray("file://") << false;

    // Loopback listener: loopback origins, any port.
    QTest::newRow("loopback: http://localhost:3000")
        << QStringList() << v4 << QString() << QByteArray("http://localhost:3000") << true;
    QTest::newRow("loopback: http://127.0.0.1:6274")
        << QStringList() << v4 << QString() << QByteArray("http://127.0.0.1:6274") << true;
    QTest::newRow("loopback: http://[::1]:3000")
        << QStringList() << v4 << QString() << QByteArray("http://[::1]:3000") << true;
    QTest::newRow("IPv6 loopback listener: http://[::1]:3000")
        << QStringList() << QStringLiteral("::1") << QString() << QByteArray("http://[::1]:3000") << true;
    QTest::newRow("loopback: https://localhost")
        << QStringList() << v4 << QString() << QByteArray("https://localhost") << true;
    QTest::newRow("loopback: https://evil.example.com")
        << QStringList() << v4 << QString() << QByteArray("https://evil.example.com") << false;
    QTest::newRow("loopback: localhost.evil.example.com")
        << QStringList() << v4 << QString() << QByteArray("http://localhost.evil.example.com") << false;

    // Listed origins: scheme, host and port must match; default ports and case normalised.
    QTest::newRow("listed: exact") << app << v4 << QString() << QByteArray("https://app.example.com") << true;
    QTest::newRow("listed: default port spelled out")
        << app << v4 << QString() << QByteArray("https://app.example.com:443") << true;
    QTest::newRow("listed: host case")
        << app << v4 << QString() << QByteArray("https://APP.example.com") << true;
    QTest::newRow("listed: trailing slash")
        << app << v4 << QString() << QByteArray("https://app.example.com/") << true;
    QTest::newRow("listed: other scheme")
        << app << v4 << QString() << QByteArray("http://app.example.com") << false;
    QTest::newRow("listed: other port")
        << app << v4 << QString() << QByteArray("https://app.example.com:8443") << false;
    QTest::newRow("listed: explicit port")
        << app << v4 << QString() << QByteArray("http://tool.example.org:8080") << true;
    QTest::newRow("listed: explicit port missing")
        << app << v4 << QString() << QByteArray("http://tool.example.org") << false;
    QTest::newRow("listed: subdomain")
        << app << v4 << QString() << QByteArray("https://x.app.example.com") << false;
    QTest::newRow("listed: IPv6 literal") << QStringList{QStringLiteral("http://[fd00::1]:8080")} << any4
                                          << QString() << QByteArray("http://[fd00::1]:8080") << true;
    QTest::newRow("listed: other IPv6 literal")
        << QStringList{QStringLiteral("http://[fd00::1]:8080")} << any4 << QString()
        << QByteArray("http://[fd00::2]:8080") << false;
    QTest::newRow("listed on wildcard")
        << app << any4 << QString() << QByteArray("https://app.example.com") << true;

    // The public URL's origin.
    QTest::newRow("public URL origin")
        << QStringList() << any4 << pub << QByteArray("https://mcp.example.com") << true;
    QTest::newRow("public URL origin, port 443")
        << QStringList() << lan << pub << QByteArray("https://mcp.example.com:443") << true;
    QTest::newRow("public URL: http refused")
        << QStringList() << any4 << pub << QByteArray("http://mcp.example.com") << false;
    QTest::newRow("public URL: evil")
        << QStringList() << any4 << pub << QByteArray("https://evil.example.com") << false;

    // Loopback origins only count on a loopback listener.
    QTest::newRow("wildcard: localhost refused")
        << QStringList() << any4 << QString() << QByteArray("http://localhost:3000") << false;
    QTest::newRow("LAN: 127.0.0.1 refused")
        << QStringList() << lan << pub << QByteArray("http://127.0.0.1:8080") << false;
}

void tst_OriginPolicy::originAllowed()
{
    QFETCH(QStringList, allowedOrigins);
    QFETCH(QString, listen);
    QFETCH(QString, publicUrl);
    QFETCH(QByteArray, origin);
    QFETCH(bool, expected);

    const OriginPolicy policy(allowedOrigins, listen, publicUrl);
    // normaliseOrigin() writes url.host() without the IPv6 brackets ("http://::1:3000"),
    // so originAllowed() cannot parse its own result back to find the loopback host.
    QCOMPARE(policy.originAllowed(origin), expected);
}

QTEST_GUILESS_MAIN(tst_OriginPolicy)
#include "tst_originpolicy.moc"
