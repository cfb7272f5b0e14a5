#pragma once

#include <deque>

#include <QString>
#include <QWidget>

#include "ActivityHistory.h"

namespace fmb {

// One small line chart of the last minutes: a title, the latest value, and
// the line with the area under it, newest at the right edge. Painted with
// QPainter (no Qt Charts: one less GPL-only dependency for a few lines).
class LiveChart final : public QWidget {
    Q_OBJECT
public:
    explicit LiveChart(const QString &title, QWidget *parent = nullptr);

    // decimals: how the latest value is written (0 for counts).
    void setDecimals(int decimals) { m_decimals = decimals; }
    // A sentence the tooltip adds: what the series counts.
    void setExplanation(const QString &text) { m_explanation = text; }
    // The points to draw, over [nowMs - spanMs, nowMs].
    void setPoints(const std::deque<ActivityHistory::Point> &points, qint64 nowMs, qint64 spanMs);

    [[nodiscard]] QString title() const { return m_title; }
    // The latest value as the chart writes it; "–" with no point yet.
    [[nodiscard]] QString valueText() const;
    // The top of the value axis: the largest value rounded up to 1, 2 or 5 × 10^n.
    [[nodiscard]] double scaleTop() const { return m_scaleTop; }
    [[nodiscard]] static double niceCeiling(double value);

    [[nodiscard]] QSize sizeHint() const override;
    [[nodiscard]] QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    QString m_title;
    QString m_explanation;
    std::deque<ActivityHistory::Point> m_points;
    qint64 m_nowMs = 0;
    qint64 m_spanMs = ActivityHistory::DefaultSpanMs;
    double m_scaleTop = 1;
    int m_decimals = 0;
};

} // namespace fmb
