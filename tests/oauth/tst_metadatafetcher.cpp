#include <memory>
#include <optional>

#include <QHostAddress>
#include <QTest>

#include "OAuthTestSupport.h"
#include "oauth/MetadataFetcher.h"

using fmb::ErrorCode;
using fmb::MetadataFetchConfig;
using fmb::MetadataFetcher;
using fmb::Result;

class tst_MetadataFetcher : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void isPublicAddress_data();
    void isPublicAddress();
    void fetch_data();
    void fetch();
    void timeLimit();
    void answersAfterReturning();
};

void tst_MetadataFetcher::isPublicAddress_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<bool>("isPublic");

    QTest::newRow("public IPv4") << QStringLiteral("93.184.216.34") << true;
    QTest::newRow("public IPv6") << QStringLiteral("2606:2800:220:1:248:1893:25c8:1946") << true;
    QTest::newRow("loopback") << QStringLiteral("127.0.0.1") << false;
    QTest::newRow("loopback, other address") << QStringLiteral("127.8.9.10") << false;
    QTest::newRow("IPv6 loopback") << QStringLiteral("::1") << false;
    QTest::newRow("unspecified") << QStringLiteral("0.0.0.0") << false;
    QTest::newRow("IPv6 unspecified") << QStringLiteral("::") << false;
    QTest::newRow("RFC 1918 10/8") << QStringLiteral("10.1.2.3") << false;
    QTest::newRow("RFC 1918 172.16/12") << QStringLiteral("172.31.255.1") << false;
    QTest::newRow("just outside 172.16/12") << QStringLiteral("172.32.0.1") << true;
    QTest::newRow("RFC 1918 192.168/16") << QStringLiteral("192.168.0.1") << false;
    QTest::newRow("CGNAT") << QStringLiteral("100.64.0.1") << false;
    QTest::newRow("link-local (cloud metadata)") << QStringLiteral("169.254.169.254") << false;
    QTest::newRow("multicast") << QStringLiteral("224.0.0.1") << false;
    QTest::newRow("broadcast") << QStringLiteral("255.255.255.255") << false;
    QTest::newRow("IPv6 unique local") << QStringLiteral("fd00::1") << false;
    QTest::newRow("IPv6 link-local") << QStringLiteral("fe80::1") << false;
    QTest::newRow("IPv4-mapped loopback") << QStringLiteral("::ffff:127.0.0.1") << false;
    QTest::newRow("IPv4-mapped private") << QStringLiteral("::ffff:10.0.0.1") << false;
    QTest::newRow("IPv4-mapped public") << QStringLiteral("::ffff:93.184.216.34") << true;
    QTest::newRow("NAT64 prefix") << QStringLiteral("64:ff9b::7f00:1") << false;
}

void tst_MetadataFetcher::isPublicAddress()
{
    QFETCH(QString, address);
    QFETCH(bool, isPublic);
    QCOMPARE(MetadataFetcher::isPublicAddress(QHostAddress(address)), isPublic);
}

void tst_MetadataFetcher::fetch_data()
{
    QTest::addColumn<bool>("allowPrivate");
    QTest::addColumn<int>("status");
    QTest::addColumn<int>("size");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<fmb::ErrorCode>("code");

    QTest::newRow("loopback refused") << false << 200 << 100 << false << ErrorCode::InvalidArgument;
    QTest::newRow("loopback allowed for tests") << true << 200 << 100 << true << ErrorCode::Internal;
    QTest::newRow("exactly 64 KiB") << true << 200 << 64 * 1024 << true << ErrorCode::Internal;
    QTest::newRow("one byte over 64 KiB")
        << true << 200 << 64 * 1024 + 1 << false << ErrorCode::InvalidArgument;
    QTest::newRow("HTTP 404") << true << 404 << 10 << false << ErrorCode::InvalidArgument;
    QTest::newRow("a redirect is not followed") << true << 302 << 0 << false << ErrorCode::InvalidArgument;
}

void tst_MetadataFetcher::fetch()
{
    QFETCH(bool, allowPrivate);
    QFETCH(int, status);
    QFETCH(int, size);
    QFETCH(bool, ok);
    QFETCH(fmb::ErrorCode, code);
    fmbtest::CannedHttpServer server;
    QVERIFY(server.start());
    server.setAnswer("/client.json", {status,
                                      "application/json",
                                      QByteArray(size, 'x'),
                                      {{"Location", server.url(QStringLiteral("/other.json")).toEncoded()},
                                       {"Cache-Control", "public, max-age=120"}}});
    MetadataFetchConfig config;
    config.allowPrivateHosts = allowPrivate;
    MetadataFetcher fetcher(config);
    std::optional<Result<fmb::MetadataDocument>> outcome;
    fetcher.fetch(server.url(QStringLiteral("/client.json")),
                  [&outcome](Result<fmb::MetadataDocument> result) { outcome.emplace(std::move(result)); });
    QTRY_VERIFY_WITH_TIMEOUT(outcome.has_value(), 10000);
    QCOMPARE(outcome->ok(), ok);
    if (ok) {
        QCOMPARE(outcome->value().body.size(), size);
        QCOMPARE(outcome->value().cacheControl, QByteArray("public, max-age=120")); // for the cache lifetime
    } else {
        QCOMPARE(outcome->error().code, code);
    }
    if (!allowPrivate)
        QCOMPARE(server.requests(), 0); // refused before connecting
}

void tst_MetadataFetcher::timeLimit()
{
    fmbtest::CannedHttpServer silent;
    silent.setSilent(true);
    QVERIFY(silent.start());
    MetadataFetchConfig config;
    config.allowPrivateHosts = true;
    config.timeout = std::chrono::milliseconds(300);
    MetadataFetcher fetcher(config);
    std::optional<Result<fmb::MetadataDocument>> outcome;
    fetcher.fetch(silent.url(QStringLiteral("/client.json")),
                  [&outcome](Result<fmb::MetadataDocument> result) { outcome.emplace(std::move(result)); });
    QTRY_VERIFY_WITH_TIMEOUT(outcome.has_value(), 5000);
    QVERIFY(!outcome->ok());
    QCOMPARE(outcome->error().code, ErrorCode::Unavailable);
}

void tst_MetadataFetcher::answersAfterReturning()
{
    MetadataFetcher fetcher(MetadataFetchConfig{});
    bool called = false;
    fetcher.fetch(QUrl(QStringLiteral("https:///nohost")),
                  [&called](Result<fmb::MetadataDocument>) { called = true; });
    QVERIFY(!called);
    QTRY_VERIFY(called);
}

QTEST_GUILESS_MAIN(tst_MetadataFetcher)
#include "tst_metadatafetcher.moc"
