#include <QTest>

#include "child/LineFramer.h"

using namespace fmb;

namespace {

// Events as text, so a failed comparison shows the whole sequence: a line as
// itself, an overflow as "<dropped N>".
QByteArrayList describe(const QList<LineFramer::Event> &events)
{
    QByteArrayList out;
    for (const LineFramer::Event &event : events) {
        if (event.overflowBytes > 0) {
            out.append("<dropped " + QByteArray::number(event.overflowBytes) + '>');
            if (!event.line.isEmpty())
                out.append("<overflow event carries a line: " + event.line + '>');
        } else {
            out.append(event.line);
        }
    }
    return out;
}

QByteArrayList feedAll(LineFramer &framer, const QByteArrayList &chunks)
{
    QByteArrayList out;
    for (const QByteArray &chunk : chunks)
        out += describe(framer.feed(chunk));
    return out;
}

} // namespace

class tst_LineFramer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void feed_data();
    void feed();
    void oneByteAtATime();
    void partialLineIsBuffered();
    void bufferedBoundedWhileDiscarding();
    void overflowReportedOnceAcrossManyChunks();
};

void tst_LineFramer::feed_data()
{
    QTest::addColumn<qint64>("limit");
    QTest::addColumn<QByteArrayList>("chunks");
    QTest::addColumn<QByteArrayList>("events");

    QTest::newRow("one line") << qint64(64) << QByteArrayList{"abc\n"} << QByteArrayList{"abc"};
    QTest::newRow("no newline yet: nothing") << qint64(64) << QByteArrayList{"abc"} << QByteArrayList{};
    QTest::newRow("line split across chunks")
        << qint64(64) << QByteArrayList{"ab", "c", "d\n"} << QByteArrayList{"abcd"};
    QTest::newRow("newline alone in the next chunk")
        << qint64(64) << QByteArrayList{"abc", "\n"} << QByteArrayList{"abc"};
    QTest::newRow("lines split mid-line over chunks")
        << qint64(64) << QByteArrayList{"one\ntw", "o\nthr", "ee\n"} << QByteArrayList{"one", "two", "three"};
    QTest::newRow("many lines in one chunk")
        << qint64(64) << QByteArrayList{"a\nbb\nccc\ndddd\n"} << QByteArrayList{"a", "bb", "ccc", "dddd"};
    QTest::newRow("many lines, last unfinished")
        << qint64(64) << QByteArrayList{"a\nb\nc"} << QByteArrayList{"a", "b"};
    QTest::newRow("CRLF") << qint64(64) << QByteArrayList{"abc\r\ndef\r\n"} << QByteArrayList{"abc", "def"};
    QTest::newRow("CRLF split between CR and LF")
        << qint64(64) << QByteArrayList{"abc\r", "\n"} << QByteArrayList{"abc"};
    QTest::newRow("CR inside a line is kept")
        << qint64(64) << QByteArrayList{"a\rb\n"} << QByteArrayList{"a\rb"};
    QTest::newRow("only one trailing CR is removed")
        << qint64(64) << QByteArrayList{"abc\r\r\n"} << QByteArrayList{"abc\r"};
    QTest::newRow("empty lines skipped")
        << qint64(64) << QByteArrayList{"\n\nabc\n\n\ndef\n\n"} << QByteArrayList{"abc", "def"};
    QTest::newRow("CRLF-only lines skipped")
        << qint64(64) << QByteArrayList{"\r\n\r\nabc\r\n"} << QByteArrayList{"abc"};
    QTest::newRow("empty chunks are harmless")
        << qint64(64) << QByteArrayList{"", "ab", "", "c\n", ""} << QByteArrayList{"abc"};
    QTest::newRow("spaces are content") << qint64(64) << QByteArrayList{"  \n"} << QByteArrayList{"  "};

    QTest::newRow("line exactly at the limit is kept")
        << qint64(8) << QByteArrayList{"12345678\n"} << QByteArrayList{"12345678"};
    QTest::newRow("line at the limit, split over chunks")
        << qint64(8) << QByteArrayList{"1234", "5678", "\n"} << QByteArrayList{"12345678"};
    QTest::newRow("one byte over: dropped and reported once")
        << qint64(8) << QByteArrayList{"123456789\n"} << QByteArrayList{"<dropped 9>"};
    QTest::newRow("one byte over, split over chunks")
        << qint64(8) << QByteArrayList{"12345", "6789", "\n"} << QByteArrayList{"<dropped 9>"};
    QTest::newRow("overflow reports the whole size")
        << qint64(8) << QByteArrayList{QByteArray(100, 'x') + '\n'} << QByteArrayList{"<dropped 100>"};
    QTest::newRow("overflow over chunks reports the whole size")
        << qint64(8) << QByteArrayList{QByteArray(30, 'x'), QByteArray(30, 'y'), QByteArray(40, 'z') + '\n'}
        << QByteArrayList{"<dropped 100>"};
    QTest::newRow("recovery after an overflow")
        << qint64(8) << QByteArrayList{"123456789\nok\n"} << QByteArrayList{"<dropped 9>", "ok"};
    QTest::newRow("recovery in the next chunk")
        << qint64(8) << QByteArrayList{"123456789", "\n", "ok\n"} << QByteArrayList{"<dropped 9>", "ok"};
    QTest::newRow("lines around an overflow")
        << qint64(8) << QByteArrayList{"before\n" + QByteArray(20, 'x') + "\nafter\n"}
        << QByteArrayList{"before", "<dropped 20>", "after"};
    QTest::newRow("two overflows in a row")
        << qint64(4) << QByteArrayList{"aaaaa\nbbbbbb\n"} << QByteArrayList{"<dropped 5>", "<dropped 6>"};
    QTest::newRow("limit applies per line, not per chunk")
        << qint64(4) << QByteArrayList{"abcd\nefgh\nijkl\n"} << QByteArrayList{"abcd", "efgh", "ijkl"};
}

void tst_LineFramer::feed()
{
    QFETCH(qint64, limit);
    QFETCH(QByteArrayList, chunks);
    QFETCH(QByteArrayList, events);

    LineFramer framer(limit);
    QCOMPARE(feedAll(framer, chunks), events);
}

void tst_LineFramer::oneByteAtATime()
{
    const QByteArray stream = "first\r\n\nsecond\n" + QByteArray(12, 'x') + "\nthird\n";
    QByteArrayList chunks;
    for (char c : stream)
        chunks.append(QByteArray(1, c));

    LineFramer framer(10);
    QCOMPARE(feedAll(framer, chunks), (QByteArrayList{"first", "second", "<dropped 12>", "third"}));
    QCOMPARE(framer.buffered(), 0);
}

void tst_LineFramer::partialLineIsBuffered()
{
    LineFramer framer(64);
    QVERIFY(framer.feed("abc").isEmpty());
    QCOMPARE(framer.buffered(), 3);
    QVERIFY(framer.feed("de").isEmpty());
    QCOMPARE(framer.buffered(), 5);
    QCOMPARE(describe(framer.feed("\nxy")), QByteArrayList{"abcde"});
    QCOMPARE(framer.buffered(), 2);
}

void tst_LineFramer::bufferedBoundedWhileDiscarding()
{
    constexpr qint64 limit = 1024;
    LineFramer framer(limit);
    const QByteArray block(4096, 'x');
    for (int i = 0; i < 64; ++i) {
        QVERIFY(framer.feed(block).isEmpty());
        QVERIFY2(framer.buffered() <= limit, qPrintable(QString::number(framer.buffered())));
    }
    QCOMPARE(framer.buffered(), 0);
    QCOMPARE(describe(framer.feed("tail\nnext")),
             QByteArrayList{"<dropped " + QByteArray::number(64 * 4096 + 4) + '>'});
    QCOMPARE(framer.buffered(), 4);
}

void tst_LineFramer::overflowReportedOnceAcrossManyChunks()
{
    LineFramer framer(16);
    int reports = 0;
    for (int i = 0; i < 100; ++i)
        reports += int(framer.feed(QByteArray(100, 'x')).size());
    QCOMPARE(reports, 0); // reported at the end of the line, not per chunk
    const QList<LineFramer::Event> events = framer.feed("\n");
    QCOMPARE(events.size(), 1);
    QCOMPARE(events.first().overflowBytes, 100 * 100);
    QVERIFY(events.first().line.isEmpty());
}

QTEST_GUILESS_MAIN(tst_LineFramer)
#include "tst_lineframer.moc"
