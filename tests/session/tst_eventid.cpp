#include <QTest>

#include "session/EventId.h"

using namespace fmb;

class tst_EventId : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void toBytes();
    void parse_data();
    void parse();
};

void tst_EventId::toBytes()
{
    QCOMPARE(EventId{}.toBytes(), QByteArray("0-0"));
    QCOMPARE((EventId{3, 17}.toBytes()), QByteArray("3-17"));
    QCOMPARE((EventId{2147483647, 9223372036854775807}.toBytes()),
             QByteArray("2147483647-9223372036854775807"));
}

void tst_EventId::parse_data()
{
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<int>("stream");
    QTest::addColumn<qint64>("seq");

    QTest::newRow("standalone stream") << QByteArray("0-5") << true << 0 << qint64(5);
    QTest::newRow("a POST's stream, priming event") << QByteArray("12-0") << true << 12 << qint64(0);
    QTest::newRow("largest values") << QByteArray("2147483647-9223372036854775807") << true << 2147483647
                                    << qint64(9223372036854775807);
    QTest::newRow("empty") << QByteArray() << false << 0 << qint64(0);
    QTest::newRow("no dash") << QByteArray("15") << false << 0 << qint64(0);
    QTest::newRow("no stream") << QByteArray("-5") << false << 0 << qint64(0);
    QTest::newRow("no seq") << QByteArray("1-") << false << 0 << qint64(0);
    QTest::newRow("negative seq") << QByteArray("1--5") << false << 0 << qint64(0);
    QTest::newRow("stream not a number") << QByteArray("x-5") << false << 0 << qint64(0);
    QTest::newRow("seq not a number") << QByteArray("1-5x") << false << 0 << qint64(0);
    QTest::newRow("stream overflows int") << QByteArray("2147483648-1") << false << 0 << qint64(0);
    QTest::newRow("seq overflows qint64") << QByteArray("1-9223372036854775808") << false << 0 << qint64(0);
    QTest::newRow("another server's id") << QByteArray("f3a1c2e0-77b1") << false << 0 << qint64(0);
}

void tst_EventId::parse()
{
    QFETCH(QByteArray, value);
    QFETCH(bool, valid);
    QFETCH(int, stream);
    QFETCH(qint64, seq);

    const std::optional<EventId> parsed = EventId::parse(value);
    QCOMPARE(parsed.has_value(), valid);
    if (!valid)
        return;
    QCOMPARE(parsed->stream, stream);
    QCOMPARE(parsed->seq, seq);
    QCOMPARE(EventId::parse(parsed->toBytes()), parsed);
}

QTEST_GUILESS_MAIN(tst_EventId)
#include "tst_eventid.moc"
