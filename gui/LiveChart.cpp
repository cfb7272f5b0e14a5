#include "LiveChart.h"

#include <algorithm>
#include <cmath>

#include <QLocale>
#include <QPainter>
#include <QPainterPath>

namespace fmb {

namespace {

constexpr int Margin = 6;

} // namespace

LiveChart::LiveChart(const QString &title, QWidget *parent)
    : QWidget(parent)
    , m_title(title)
{
    setAccessibleName(title);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

double LiveChart::niceCeiling(double value)
{
    if (!(value > 1))
        return 1;
    const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
    for (const double step : {1.0, 2.0, 5.0, 10.0}) {
        if (value <= step * magnitude * (1 + 1e-9))
            return step * magnitude;
    }
    return 10 * magnitude;
}

void LiveChart::setPoints(const std::deque<ActivityHistory::Point> &points, qint64 nowMs, qint64 spanMs)
{
    m_points = points;
    m_nowMs = nowMs;
    m_spanMs = std::max<qint64>(spanMs, 1);
    double highest = 0;
    for (const ActivityHistory::Point &point : m_points)
        highest = std::max(highest, point.value);
    m_scaleTop = niceCeiling(highest);
    const QString value = valueText();
    setAccessibleDescription(value);
    const QString tip =
        tr("%1: %2 (the last %n minute(s))", nullptr, int(m_spanMs / 60000)).arg(m_title, value);
    setToolTip(m_explanation.isEmpty() ? tip : tip + QLatin1Char('\n') + m_explanation);
    update();
}

QString LiveChart::valueText() const
{
    if (m_points.empty())
        return QStringLiteral("–");
    return QLocale().toString(m_points.back().value, 'f', m_decimals);
}

QSize LiveChart::sizeHint() const
{
    return {220, fontMetrics().height() * 2 + 48};
}

QSize LiveChart::minimumSizeHint() const
{
    return {120, fontMetrics().height() * 2 + 32};
}

void LiveChart::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    const QPalette &colors = palette();
    const QRectF frame = QRectF(rect()).adjusted(0.5, 0.5, -0.5, -0.5);
    painter.setPen(colors.color(QPalette::Mid));
    painter.setBrush(colors.color(QPalette::Base));
    painter.drawRoundedRect(frame, 3, 3);

    const int lineHeight = fontMetrics().height();
    const QRect header(Margin, Margin / 2, width() - 2 * Margin, lineHeight);
    painter.setPen(colors.color(QPalette::Text));
    painter.drawText(header, Qt::AlignLeft | Qt::AlignVCenter, m_title);
    QFont bold = font();
    bold.setBold(true);
    painter.setFont(bold);
    painter.drawText(header, Qt::AlignRight | Qt::AlignVCenter, valueText());
    painter.setFont(font());

    const QRectF plot(Margin, header.bottom() + Margin, width() - 2 * Margin,
                      height() - header.bottom() - 2 * Margin - lineHeight);
    if (plot.height() < 4 || plot.width() < 4)
        return;
    // The axis: the scale's top at the left, the span at the bottom.
    painter.setPen(colors.color(QPalette::PlaceholderText));
    const QRect footer(Margin, int(plot.bottom()) + 2, width() - 2 * Margin, lineHeight);
    painter.drawText(footer, Qt::AlignLeft | Qt::AlignVCenter,
                     tr("max %1").arg(QLocale().toString(m_scaleTop, 'g', 6)));
    painter.drawText(footer, Qt::AlignRight | Qt::AlignVCenter, tr("%n min", nullptr, int(m_spanMs / 60000)));
    painter.setPen(QPen(colors.color(QPalette::Midlight), 1));
    painter.drawLine(plot.bottomLeft(), plot.bottomRight());
    if (m_points.empty())
        return;

    const auto toPoint = [&](const ActivityHistory::Point &point) {
        const double age = double(m_nowMs - point.atMs) / double(m_spanMs);
        const double x = plot.right() - std::clamp(age, 0.0, 1.0) * plot.width();
        const double y = plot.bottom() - std::clamp(point.value / m_scaleTop, 0.0, 1.0) * plot.height();
        return QPointF(x, y);
    };
    QPainterPath line;
    line.moveTo(toPoint(m_points.front()));
    for (std::size_t i = 1; i < m_points.size(); ++i)
        line.lineTo(toPoint(m_points[i]));
    QPainterPath area = line;
    area.lineTo(toPoint(m_points.back()).x(), plot.bottom());
    area.lineTo(toPoint(m_points.front()).x(), plot.bottom());
    area.closeSubpath();
    QColor fill = colors.color(QPalette::Highlight);
    fill.setAlpha(60);
    painter.setPen(Qt::NoPen);
    painter.setBrush(fill);
    painter.drawPath(area);
    painter.setPen(QPen(colors.color(QPalette::Highlight), 2));
    painter.setBrush(Qt::NoBrush);
    painter.drawPath(line);
}

} // namespace fmb
