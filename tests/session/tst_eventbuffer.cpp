#include <QTest>

#include "session/EventBuffer.h"

using namespace fmb;

namespace {

// "seq=data" for each event, so a failed comparison shows what was kept.
QByteArrayList describe(const QList<EventBuffer::Event> &events)
{
    QByteArrayList out;
    for (const EventBuffer::Event &event : events)
        out.append(QByteArray::number(event.seq) + '=' + event.data);
    return out;
}

} // namespace

class tst_EventBuffer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void empty();
    void sequenceNumbers();
    void after_data();
    void after();
    void eviction_data();
    void eviction();
    void newestAlwaysKept();
    void seqKeepsCountingAfterEviction();
};

void tst_EventBuffer::empty()
{
    const EventBuffer buffer(10, 1000);
    QCOMPARE(buffer.lastSeq(), 0);
    QCOMPARE(buffer.size(), 0);
    QCOMPARE(buffer.bytes(), 0);
    QCOMPARE(buffer.dropped(), 0);
    QVERIFY(buffer.after(0).isEmpty());
    QVERIFY(buffer.after(-1).isEmpty());
}

void tst_EventBuffer::sequenceNumbers()
{
    EventBuffer buffer(10, 1000);
    QCOMPARE(buffer.append("a"), 1);
    QCOMPARE(buffer.append("bb"), 2);
    QCOMPARE(buffer.append(QByteArray()), 3); // an empty event still gets a number
    QCOMPARE(buffer.lastSeq(), 3);
    QCOMPARE(buffer.size(), 3);
    QCOMPARE(buffer.bytes(), 3);
    QCOMPARE(buffer.dropped(), 0);
    QCOMPARE(describe(buffer.after(0)), (QByteArrayList{"1=a", "2=bb", "3="}));
}

void tst_EventBuffer::after_data()
{
    QTest::addColumn<qint64>("seq");
    QTest::addColumn<QByteArrayList>("expected");

    // The buffer holds e1..e5 (seq 1..5).
    QTest::newRow("from the start (0)")
        << qint64(0) << QByteArrayList{"1=e1", "2=e2", "3=e3", "4=e4", "5=e5"};
    QTest::newRow("negative seq: everything")
        << qint64(-7) << QByteArrayList{"1=e1", "2=e2", "3=e3", "4=e4", "5=e5"};
    QTest::newRow("after the first") << qint64(1) << QByteArrayList{"2=e2", "3=e3", "4=e4", "5=e5"};
    QTest::newRow("after a middle one") << qint64(3) << QByteArrayList{"4=e4", "5=e5"};
    QTest::newRow("after the second to last") << qint64(4) << QByteArrayList{"5=e5"};
    QTest::newRow("after the last: nothing") << qint64(5) << QByteArrayList{};
    QTest::newRow("seq from the future: nothing") << qint64(99) << QByteArrayList{};
}

void tst_EventBuffer::after()
{
    QFETCH(qint64, seq);
    QFETCH(QByteArrayList, expected);

    EventBuffer buffer(10, 1000);
    for (int i = 1; i <= 5; ++i)
        (void)buffer.append("e" + QByteArray::number(i));
    QCOMPARE(describe(buffer.after(seq)), expected);
}

void tst_EventBuffer::eviction_data()
{
    QTest::addColumn<qsizetype>("maxEvents");
    QTest::addColumn<qsizetype>("maxBytes");
    QTest::addColumn<QByteArrayList>("appends");
    QTest::addColumn<QByteArrayList>("held");
    QTest::addColumn<qsizetype>("bytes");
    QTest::addColumn<qint64>("dropped");

    QTest::newRow("under both limits") << qsizetype(3) << qsizetype(100) << QByteArrayList{"a", "b"}
                                       << QByteArrayList{"1=a", "2=b"} << qsizetype(2) << qint64(0);
    QTest::newRow("exactly at the count limit")
        << qsizetype(3) << qsizetype(100) << QByteArrayList{"a", "b", "c"}
        << QByteArrayList{"1=a", "2=b", "3=c"} << qsizetype(3) << qint64(0);
    QTest::newRow("by count: oldest go first")
        << qsizetype(3) << qsizetype(100) << QByteArrayList{"a", "b", "c", "d", "e"}
        << QByteArrayList{"3=c", "4=d", "5=e"} << qsizetype(3) << qint64(2);
    QTest::newRow("exactly at the byte limit")
        << qsizetype(10) << qsizetype(12) << QByteArrayList{"aaaa", "bbbb", "cccc"}
        << QByteArrayList{"1=aaaa", "2=bbbb", "3=cccc"} << qsizetype(12) << qint64(0);
    QTest::newRow("by bytes: one byte over drops the oldest")
        << qsizetype(10) << qsizetype(12) << QByteArrayList{"aaaa", "bbbb", "ccccc"}
        << QByteArrayList{"2=bbbb", "3=ccccc"} << qsizetype(9) << qint64(1);
    QTest::newRow("by bytes: a big event drops several")
        << qsizetype(10) << qsizetype(12) << QByteArrayList{"aa", "bb", "cc", "dd", "eeeeeeeeee"}
        << QByteArrayList{"4=dd", "5=eeeeeeeeee"} << qsizetype(12) << qint64(3);
    QTest::newRow("by bytes: newest alone over the limit is kept")
        << qsizetype(10) << qsizetype(4) << QByteArrayList{"aa", "bb", "cccccccc"}
        << QByteArrayList{"3=cccccccc"} << qsizetype(8) << qint64(2);
    QTest::newRow("count limit 0 is treated as 1")
        << qsizetype(0) << qsizetype(100) << QByteArrayList{"a", "b", "c"} << QByteArrayList{"3=c"}
        << qsizetype(1) << qint64(2);
    QTest::newRow("byte limit 0: only the newest")
        << qsizetype(10) << qsizetype(0) << QByteArrayList{"a", "b"} << QByteArrayList{"2=b"} << qsizetype(1)
        << qint64(1);
    QTest::newRow("both limits: count bites first")
        << qsizetype(2) << qsizetype(100) << QByteArrayList{"a", "b", "c"} << QByteArrayList{"2=b", "3=c"}
        << qsizetype(2) << qint64(1);
    QTest::newRow("both limits: bytes bite first")
        << qsizetype(5) << qsizetype(3) << QByteArrayList{"aa", "bb", "c"} << QByteArrayList{"2=bb", "3=c"}
        << qsizetype(3) << qint64(1);
}

void tst_EventBuffer::eviction()
{
    QFETCH(qsizetype, maxEvents);
    QFETCH(qsizetype, maxBytes);
    QFETCH(QByteArrayList, appends);
    QFETCH(QByteArrayList, held);
    QFETCH(qsizetype, bytes);
    QFETCH(qint64, dropped);

    EventBuffer buffer(maxEvents, maxBytes);
    for (const QByteArray &data : appends)
        (void)buffer.append(data);
    QCOMPARE(describe(buffer.after(0)), held);
    QCOMPARE(buffer.size(), held.size());
    QCOMPARE(buffer.bytes(), bytes);
    QCOMPARE(buffer.dropped(), dropped);
    QCOMPARE(buffer.lastSeq(), qint64(appends.size()));
}

void tst_EventBuffer::newestAlwaysKept()
{
    EventBuffer buffer(100, 16);
    const QByteArray big(1000, 'x');
    QCOMPARE(buffer.append(big), 1);
    QCOMPARE(buffer.size(), 1);
    QCOMPARE(buffer.bytes(), 1000);
    QCOMPARE(buffer.after(0).size(), 1);
    QCOMPARE(buffer.after(0).first().data, big);

    // The next event pushes the big one out, even a small one.
    QCOMPARE(buffer.append("y"), 2);
    QCOMPARE(describe(buffer.after(0)), QByteArrayList{"2=y"});
    QCOMPARE(buffer.bytes(), 1);
    QCOMPARE(buffer.dropped(), 1);
}

void tst_EventBuffer::seqKeepsCountingAfterEviction()
{
    // A client that reconnects with a Last-Event-ID older than what is held
    // gets what is left; the ids it sees never repeat.
    EventBuffer buffer(2, 1000);
    for (int i = 1; i <= 10; ++i)
        QCOMPARE(buffer.append("e" + QByteArray::number(i)), i);
    QCOMPARE(buffer.dropped(), 8);
    QCOMPARE(describe(buffer.after(3)), (QByteArrayList{"9=e9", "10=e10"}));
    QCOMPARE(describe(buffer.after(9)), QByteArrayList{"10=e10"});
    QCOMPARE(buffer.lastSeq(), 10);
}

QTEST_GUILESS_MAIN(tst_EventBuffer)
#include "tst_eventbuffer.moc"
