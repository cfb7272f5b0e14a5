#include "PrometheusText.h"

#include <cmath>

#include <QLocale>

namespace fmb {

namespace {

void appendEscaped(QByteArray &out, QByteArrayView value, bool quoteToo)
{
    for (const char c : value) {
        if (c == '\\')
            out.append("\\\\");
        else if (c == '\n')
            out.append("\\n");
        else if (c == '"' && quoteToo)
            out.append("\\\"");
        else
            out.append(c);
    }
}

} // namespace

void PrometheusText::family(QByteArrayView name, QByteArrayView type, QByteArrayView help)
{
    m_text.append("# HELP ").append(name).append(' ');
    appendEscaped(m_text, help, false);
    m_text.append("\n# TYPE ").append(name).append(' ').append(type).append('\n');
}

void PrometheusText::writeName(QByteArrayView name, Labels labels)
{
    m_text.append(name);
    if (labels.size() == 0)
        return;
    m_text.append('{');
    bool first = true;
    for (const Label &label : labels) {
        if (!first)
            m_text.append(',');
        first = false;
        m_text.append(label.first).append("=\"");
        appendEscaped(m_text, label.second, true);
        m_text.append('"');
    }
    m_text.append('}');
}

void PrometheusText::sample(QByteArrayView name, Labels labels, double value)
{
    writeName(name, labels);
    m_text.append(' ');
    if (std::isnan(value))
        m_text.append("NaN");
    else if (std::isinf(value))
        m_text.append(value > 0 ? "+Inf" : "-Inf");
    else
        m_text.append(QByteArray::number(value, 'f', QLocale::FloatingPointShortest));
    m_text.append('\n');
}

void PrometheusText::sample(QByteArrayView name, Labels labels, quint64 value)
{
    writeName(name, labels);
    m_text.append(' ').append(QByteArray::number(value)).append('\n');
}

} // namespace fmb
