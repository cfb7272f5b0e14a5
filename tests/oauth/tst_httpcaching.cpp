#include <QTest>

#include "oauth/HttpCaching.h"

using fmb::CacheBounds;
using fmb::freshnessLifetime;

class tst_HttpCaching : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void lifetime_data();
    void lifetime();
    void httpDate();
};

void tst_HttpCaching::lifetime_data()
{
    QTest::addColumn<QByteArray>("cacheControl");
    QTest::addColumn<QByteArray>("expires");
    QTest::addColumn<QByteArray>("date");
    QTest::addColumn<qint64>("seconds");

    // Bounds: floor 300 s, ceiling 86400 s, fallback 3600 s (the defaults).
    QTest::newRow("no headers: the fallback") << QByteArray() << QByteArray() << QByteArray() << qint64(3600);
    QTest::newRow("max-age within the bounds")
        << QByteArray("public, max-age=1200") << QByteArray() << QByteArray() << qint64(1200);
    QTest::newRow("max-age quoted, upper case")
        << QByteArray("Max-Age=\"900\"") << QByteArray() << QByteArray() << qint64(900);
    QTest::newRow("max-age below the floor")
        << QByteArray("max-age=10") << QByteArray() << QByteArray() << qint64(300);
    QTest::newRow("max-age above the ceiling")
        << QByteArray("max-age=31536000") << QByteArray() << QByteArray() << qint64(86400);
    QTest::newRow("s-maxage wins over max-age (a shared cache)")
        << QByteArray("max-age=600, s-maxage=1800") << QByteArray() << QByteArray() << qint64(1800);
    QTest::newRow("no-store: the floor")
        << QByteArray("no-store, max-age=3600") << QByteArray() << QByteArray() << qint64(300);
    QTest::newRow("no-cache: the floor")
        << QByteArray("no-cache") << QByteArray() << QByteArray() << qint64(300);
    QTest::newRow("max-age wins over Expires")
        << QByteArray("max-age=700") << QByteArray("Sun, 01 Mar 2026 14:00:00 GMT")
        << QByteArray("Sun, 01 Mar 2026 12:00:00 GMT") << qint64(700);
    QTest::newRow("Expires minus Date") << QByteArray() << QByteArray("Sun, 01 Mar 2026 14:00:00 GMT")
                                        << QByteArray("Sun, 01 Mar 2026 12:00:00 GMT") << qint64(7200);
    QTest::newRow("Expires minus now without Date")
        << QByteArray() << QByteArray("Sun, 01 Mar 2026 12:30:00 GMT") << QByteArray() << qint64(1800);
    QTest::newRow("Expires in the past: the floor")
        << QByteArray() << QByteArray("Sun, 01 Mar 2026 11:00:00 GMT") << QByteArray() << qint64(300);
    QTest::newRow("Expires invalid (\"0\"): the floor")
        << QByteArray() << QByteArray("0") << QByteArray() << qint64(300);
    QTest::newRow("max-age not a number: falls through to the fallback")
        << QByteArray("max-age=soon") << QByteArray() << QByteArray() << qint64(3600);
}

void tst_HttpCaching::lifetime()
{
    QFETCH(QByteArray, cacheControl);
    QFETCH(QByteArray, expires);
    QFETCH(QByteArray, date);
    QFETCH(qint64, seconds);
    const QDateTime now(QDate(2026, 3, 1), QTime(12, 0), Qt::UTC);
    QCOMPARE(freshnessLifetime(cacheControl, expires, date, now, CacheBounds{}).count(), seconds);
}

void tst_HttpCaching::httpDate()
{
    QCOMPARE(fmb::parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"),
             QDateTime(QDate(1994, 11, 6), QTime(8, 49, 37), Qt::UTC));
    QVERIFY(!fmb::parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT").isValid());
    QVERIFY(!fmb::parseHttpDate("").isValid());
}

QTEST_GUILESS_MAIN(tst_HttpCaching)
#include "tst_httpcaching.moc"
