#include <memory>

#include <QTest>

#include "base/Redactor.h"
#include "child/StderrRelay.h"

using namespace fmb;

namespace {

const QString Label = QStringLiteral("forgejo-mcp[42]");

QString logLine(const QString &text)
{
    return Label + QLatin1String(": ") + text;
}

QString suppressedLine(int count)
{
    return logLine(QLatin1Char('[') + QString::number(count) +
                   QLatin1String(" stderr lines suppressed by the rate limit]"));
}

// A relay whose clock the test moves by hand and whose sink is a list.
struct Harness {
    explicit Harness(StderrRelay::Limits limits)
        : relay(
              Label, limits, [this](const QString &line) { lines.append(line); }, [this] { return now; })
    {}

    QStringList take() { return std::exchange(lines, {}); }

    qint64 now = 1000; // not 0: the relay must not assume the clock starts there
    QStringList lines;
    StderrRelay relay;
};

StderrRelay::Limits limits(int burst, int linesPerSecond, qsizetype maxLineChars = 1000)
{
    StderrRelay::Limits l;
    l.burst = burst;
    l.linesPerSecond = linesPerSecond;
    l.maxLineChars = maxLineChars;
    return l;
}

} // namespace

class tst_StderrRelay : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void linesArePrefixedAndFramed();
    void burstThenSuppression();
    void refillOverTime();
    void refillIsCappedAtBurst();
    void suppressedCountComesBeforeTheNextLine();
    void flush();
    void truncation_data();
    void truncation();
    void overflowIsReported();
    void redaction();
    void redactionBeforeTruncation();
    void defaultClock();
};

void tst_StderrRelay::init()
{
    Redactor::clear();
}

void tst_StderrRelay::cleanup()
{
    Redactor::clear();
}

void tst_StderrRelay::linesArePrefixedAndFramed()
{
    Harness h(limits(10, 1));
    h.relay.feed("hel");
    QVERIFY(h.lines.isEmpty());
    h.relay.feed("lo\r\n\nworld\npartial");
    QCOMPARE(h.take(), (QStringList{logLine(QStringLiteral("hello")), logLine(QStringLiteral("world"))}));
    h.relay.feed("\n");
    QCOMPARE(h.take(), QStringList{logLine(QStringLiteral("partial"))});
    QCOMPARE(h.relay.suppressed(), 0);
}

void tst_StderrRelay::burstThenSuppression()
{
    Harness h(limits(3, 2));
    h.relay.feed("1\n2\n3\n4\n5\n");
    QCOMPARE(h.take(), (QStringList{logLine(QStringLiteral("1")), logLine(QStringLiteral("2")),
                                    logLine(QStringLiteral("3"))}));
    QCOMPARE(h.relay.suppressed(), 2);
    h.relay.feed("6\n");
    QVERIFY(h.lines.isEmpty());
    QCOMPARE(h.relay.suppressed(), 3);
}

void tst_StderrRelay::refillOverTime()
{
    // 2 lines per second: one token every 500 ms (values exact in binary floating point).
    Harness h(limits(3, 2));
    h.relay.feed("a\nb\nc\nd\n");
    QCOMPARE(h.take().size(), 3);
    QCOMPARE(h.relay.suppressed(), 1);

    h.now += 250; // half a token: still suppressed
    h.relay.feed("e\n");
    QVERIFY(h.lines.isEmpty());
    QCOMPARE(h.relay.suppressed(), 2);

    h.now += 250; // the other half: one line through
    h.relay.feed("f\ng\n");
    QCOMPARE(h.take(), (QStringList{suppressedLine(2), logLine(QStringLiteral("f"))}));
    QCOMPARE(h.relay.suppressed(), 1);

    h.now += 1000; // two more tokens
    h.relay.feed("h\ni\nj\n");
    QCOMPARE(h.take(),
             (QStringList{suppressedLine(1), logLine(QStringLiteral("h")), logLine(QStringLiteral("i"))}));
    QCOMPARE(h.relay.suppressed(), 1);
}

void tst_StderrRelay::refillIsCappedAtBurst()
{
    Harness h(limits(3, 2));
    h.relay.feed("a\nb\nc\n");
    QCOMPARE(h.take().size(), 3);

    h.now += 3600 * 1000; // an hour of quiet refills the bucket to the burst, no further
    h.relay.feed("1\n2\n3\n4\n5\n");
    QCOMPARE(h.take(), (QStringList{logLine(QStringLiteral("1")), logLine(QStringLiteral("2")),
                                    logLine(QStringLiteral("3"))}));
    QCOMPARE(h.relay.suppressed(), 2);
}

void tst_StderrRelay::suppressedCountComesBeforeTheNextLine()
{
    Harness h(limits(1, 1));
    h.relay.feed("first\n");
    for (int i = 0; i < 41; ++i)
        h.relay.feed("noise\n");
    QCOMPARE(h.take(), QStringList{logLine(QStringLiteral("first"))});
    QCOMPARE(h.relay.suppressed(), 41);

    h.now += 1000;
    h.relay.feed("next\n");
    QCOMPARE(h.take(), (QStringList{suppressedLine(41), logLine(QStringLiteral("next"))}));
    QCOMPARE(h.relay.suppressed(), 0);
}

void tst_StderrRelay::flush()
{
    Harness h(limits(1, 1));
    h.relay.flush(); // nothing suppressed: nothing to say
    QVERIFY(h.lines.isEmpty());

    h.relay.feed("a\nb\nc\n");
    QCOMPARE(h.take(), QStringList{logLine(QStringLiteral("a"))});
    h.relay.flush(); // the child exited: report the count without waiting for a token
    QCOMPARE(h.take(), QStringList{suppressedLine(2)});
    QCOMPARE(h.relay.suppressed(), 0);
    h.relay.flush();
    QVERIFY(h.lines.isEmpty());
}

void tst_StderrRelay::truncation_data()
{
    QTest::addColumn<qsizetype>("maxLineChars");
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QString>("expected");

    const QString mark = QStringLiteral("… [truncated]");
    QTest::newRow("shorter than the limit")
        << qsizetype(10) << QByteArray("short") << QStringLiteral("short");
    QTest::newRow("exactly at the limit")
        << qsizetype(10) << QByteArray("0123456789") << QStringLiteral("0123456789");
    QTest::newRow("one over the limit")
        << qsizetype(10) << QByteArray("0123456789A") << QString(QStringLiteral("0123456789") + mark);
    QTest::newRow("far over the limit")
        << qsizetype(4) << QByteArray(5000, 'z') << QString(QStringLiteral("zzzz") + mark);
    QTest::newRow("counts characters, not UTF-8 bytes")
        << qsizetype(3) << QStringLiteral("äöüß").toUtf8() << QString(QStringLiteral("äöü") + mark);
    QTest::newRow("multi-byte text at the limit is whole")
        << qsizetype(4) << QStringLiteral("äöüß").toUtf8() << QStringLiteral("äöüß");
}

void tst_StderrRelay::truncation()
{
    QFETCH(qsizetype, maxLineChars);
    QFETCH(QByteArray, input);
    QFETCH(QString, expected);

    Harness h(limits(10, 1, maxLineChars));
    h.relay.feed(QByteArray(input + '\n'));
    QCOMPARE(h.take(), QStringList{logLine(expected)});
}

void tst_StderrRelay::overflowIsReported()
{
    // The relay frames with a 64 KiB limit; a longer line is replaced by a note.
    Harness h(limits(10, 1));
    const qsizetype size = 64 * 1024 + 1;
    h.relay.feed(QByteArray(size, 'x'));
    QVERIFY(h.lines.isEmpty());
    h.relay.feed("\nafter\n");
    QCOMPARE(h.take(), (QStringList{logLine(QLatin1String("[a stderr line of ") + QString::number(size) +
                                            QLatin1String(" bytes was dropped]")),
                                    logLine(QStringLiteral("after"))}));
}

void tst_StderrRelay::redaction()
{
    const QByteArray secret = "gto_0123456789abcdefSECRET";
    Redactor::addSecret(secret);

    Harness h(limits(10, 1));
    h.relay.feed(QByteArray("token=" + secret + " refused; retrying with " + secret + "\n"));
    const QString marker = QLatin1String("[redacted:") + fingerprint(secret) + QLatin1Char(']');
    QCOMPARE(h.take(), QStringList{logLine(QLatin1String("token=") + marker +
                                           QLatin1String(" refused; retrying with ") + marker)});

    // A secret that arrives split over two chunks is still one line, and still redacted.
    h.relay.feed(QByteArray("Authorization: Bearer " + secret.left(10)));
    h.relay.feed(QByteArray(secret.mid(10) + "\n"));
    const QStringList lines = h.take();
    QCOMPARE(lines, QStringList{logLine(QLatin1String("Authorization: Bearer ") + marker)});
}

void tst_StderrRelay::redactionBeforeTruncation()
{
    // Truncating first could cut a secret so that its prefix no longer matches and leaks.
    const QByteArray secret = "0123456789-very-secret-token";
    Redactor::addSecret(secret);

    Harness h(limits(10, 1, 20));
    h.relay.feed(QByteArray("key: " + secret + "\n"));
    const QStringList lines = h.take();
    QCOMPARE(lines.size(), 1);
    QVERIFY2(!lines.first().contains(QLatin1String("0123456789")), qPrintable(lines.first()));
    QCOMPARE(lines.first(), logLine(QStringLiteral("key: [redacted:") + fingerprint(secret).left(5) +
                                    QStringLiteral("… [truncated]")));
}

void tst_StderrRelay::defaultClock()
{
    QStringList lines;
    StderrRelay relay(Label, limits(2, 1), [&lines](const QString &line) { lines.append(line); });
    relay.feed("a\nb\nc\n");
    QCOMPARE(lines, (QStringList{logLine(QStringLiteral("a")), logLine(QStringLiteral("b"))}));
    QCOMPARE(relay.suppressed(), 1);
}

QTEST_GUILESS_MAIN(tst_StderrRelay)
#include "tst_stderrrelay.moc"
