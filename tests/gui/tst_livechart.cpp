#include <QImage>
#include <QTest>

#include "LiveChart.h"

using namespace fmb;
using Point = ActivityHistory::Point;

// The console's small chart: its scale, its text, and that the line it paints
// goes where the values say.
class tst_LiveChart : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void niceCeiling_data();
    void niceCeiling();
    void valueText();
    void lineFollowsValues();
    void emptyChartDrawsNoLine();

private:
    // The highest row (smallest y) holding the line's colour within columns
    // [from, to); -1 when there is none.
    static int topOfLine(const QImage &image, const QColor &colour, int from, int to);
};

void tst_LiveChart::niceCeiling_data()
{
    QTest::addColumn<double>("value");
    QTest::addColumn<double>("ceiling");
    QTest::newRow("zero") << 0.0 << 1.0;
    QTest::newRow("negative") << -3.0 << 1.0;
    QTest::newRow("below one") << 0.3 << 1.0;
    QTest::newRow("one") << 1.0 << 1.0;
    QTest::newRow("just above one") << 1.1 << 2.0;
    QTest::newRow("two") << 2.0 << 2.0;
    QTest::newRow("2.5") << 2.5 << 5.0;
    QTest::newRow("seven") << 7.0 << 10.0;
    QTest::newRow("ten") << 10.0 << 10.0;
    QTest::newRow("eleven") << 11.0 << 20.0;
    QTest::newRow("480") << 480.0 << 500.0;
    QTest::newRow("501") << 501.0 << 1000.0;
}

void tst_LiveChart::niceCeiling()
{
    QFETCH(double, value);
    QFETCH(double, ceiling);
    QCOMPARE(LiveChart::niceCeiling(value), ceiling);
}

void tst_LiveChart::valueText()
{
    LiveChart chart(QStringLiteral("Requests per second"));
    QCOMPARE(chart.valueText(), QStringLiteral("–"));
    chart.setDecimals(1);
    chart.setPoints({Point{1000, 2.0}, Point{2000, 12.25}}, 2000, 60'000);
    QCOMPARE(chart.valueText(), QLocale().toString(12.25, 'f', 1));
    QCOMPARE(chart.scaleTop(), 20.0);
    QCOMPARE(chart.accessibleDescription(), chart.valueText());
    QVERIFY(chart.toolTip().contains(QLatin1String("Requests per second")));
}

int tst_LiveChart::topOfLine(const QImage &image, const QColor &colour, int from, int to)
{
    for (int y = 0; y < image.height(); ++y) {
        for (int x = from; x < to; ++x) {
            const QColor pixel = image.pixelColor(x, y);
            if (qAbs(pixel.red() - colour.red()) < 8 && qAbs(pixel.green() - colour.green()) < 8 &&
                qAbs(pixel.blue() - colour.blue()) < 8)
                return y;
        }
    }
    return -1;
}

void tst_LiveChart::lineFollowsValues()
{
    LiveChart chart(QStringLiteral("Sessions open"));
    chart.resize(300, 120);
    // Low on the left (old), high on the right (now).
    std::deque<Point> points;
    for (int i = 0; i <= 60; ++i)
        points.push_back(Point{qint64(i) * 1000, i < 30 ? 1.0 : 10.0});
    chart.setPoints(points, 60'000, 60'000);
    const QImage image = chart.grab().toImage();
    const QColor line = chart.palette().color(QPalette::Highlight);
    const int left = topOfLine(image, line, 20, 60);
    const int right = topOfLine(image, line, 240, 280);
    QVERIFY2(left >= 0 && right >= 0, "the line is drawn");
    QVERIFY2(right < left - 20, qPrintable(QStringLiteral("right %1, left %2").arg(right).arg(left)));
}

void tst_LiveChart::emptyChartDrawsNoLine()
{
    LiveChart chart(QStringLiteral("Errors per minute"));
    chart.resize(300, 120);
    chart.setPoints({}, 60'000, 60'000);
    const QImage image = chart.grab().toImage();
    QCOMPARE(topOfLine(image, chart.palette().color(QPalette::Highlight), 0, image.width()), -1);
}

QTEST_MAIN(tst_LiveChart)
#include "tst_livechart.moc"
