#pragma once

#include <initializer_list>
#include <utility>

#include <QByteArray>
#include <QByteArrayView>

namespace fmb {

// Writes the Prometheus text exposition format (version 0.0.4): one
// "# HELP" and "# TYPE" per family, then its samples. Label values are
// escaped (backslash, double quote, newline); names are the caller's
// constants. No I/O.
class PrometheusText final {
public:
    using Label = std::pair<QByteArrayView, QByteArrayView>;
    using Labels = std::initializer_list<Label>;

    void family(QByteArrayView name, QByteArrayView type, QByteArrayView help);
    void sample(QByteArrayView name, Labels labels, double value);
    void sample(QByteArrayView name, Labels labels, quint64 value);
    void sample(QByteArrayView name, quint64 value) { sample(name, {}, value); }

    [[nodiscard]] const QByteArray &text() const { return m_text; }

    static constexpr QByteArrayView ContentType = "text/plain; version=0.0.4; charset=utf-8";

private:
    void writeName(QByteArrayView name, Labels labels);

    QByteArray m_text;
};

} // namespace fmb
