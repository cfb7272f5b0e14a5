#include <QTest>

#include <limits>

#include "observability/PrometheusText.h"

using namespace fmb;

class tst_PrometheusText : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void familyAndSamples();
    void escapesLabelValuesAndHelp();
    void doubles_data();
    void doubles();
};

void tst_PrometheusText::familyAndSamples()
{
    PrometheusText out;
    out.family("x_total", "counter", "Things.");
    out.sample("x_total", {{"kind", "a"}, {"side", "b"}}, quint64(3));
    out.sample("x_total", quint64(18446744073709551615ULL));
    QCOMPARE(out.text(), QByteArray("# HELP x_total Things.\n"
                                    "# TYPE x_total counter\n"
                                    "x_total{kind=\"a\",side=\"b\"} 3\n"
                                    "x_total 18446744073709551615\n"));
}

void tst_PrometheusText::escapesLabelValuesAndHelp()
{
    PrometheusText out;
    out.family("y", "gauge", "A \\ and\na \"quote\"");
    out.sample("y", {{"v", "a\\b\"c\nd"}}, quint64(1));
    // HELP escapes backslash and newline only; label values also the double quote.
    QCOMPARE(out.text(), QByteArray("# HELP y A \\\\ and\\na \"quote\"\n"
                                    "# TYPE y gauge\n"
                                    "y{v=\"a\\\\b\\\"c\\nd\"} 1\n"));
}

void tst_PrometheusText::doubles_data()
{
    QTest::addColumn<double>("value");
    QTest::addColumn<QByteArray>("text");

    QTest::newRow("fraction") << 0.25 << QByteArray("0.25");
    QTest::newRow("shortest round trip") << 0.1 << QByteArray("0.1");
    QTest::newRow("whole") << 3.0 << QByteArray("3");
    QTest::newRow("epoch seconds keep milliseconds") << 1796462371.122 << QByteArray("1796462371.122");
    QTest::newRow("+Inf") << std::numeric_limits<double>::infinity() << QByteArray("+Inf");
    QTest::newRow("-Inf") << -std::numeric_limits<double>::infinity() << QByteArray("-Inf");
    QTest::newRow("NaN") << std::numeric_limits<double>::quiet_NaN() << QByteArray("NaN");
}

void tst_PrometheusText::doubles()
{
    QFETCH(double, value);
    QFETCH(QByteArray, text);
    PrometheusText out;
    out.sample("z", {}, value);
    QCOMPARE(out.text(), "z " + text + '\n');
}

QTEST_APPLESS_MAIN(tst_PrometheusText)
#include "tst_prometheustext.moc"
