#include "RequestId.h"

#include <cmath>

#include <QJsonArray>
#include <QJsonDocument>

namespace fmb {

RequestId::RequestId(qint64 number)
    : m_value(number)
{}

RequestId::RequestId(QString text)
    : m_value(std::move(text))
{}

RequestId RequestId::fromJson(const QJsonValue &value)
{
    if (value.isString())
        return RequestId(value.toString());
    if (value.isDouble()) {
        const double number = value.toDouble();
        // MCP ids are strings or integers; 1 and 1.0 are the same id on the wire.
        if (std::isfinite(number) && number == std::floor(number) && std::fabs(number) < 9007199254740992.0)
            return RequestId(static_cast<qint64>(number));
    }
    return {};
}

QJsonValue RequestId::toJson() const
{
    if (isNumber())
        return QJsonValue(std::get<qint64>(m_value));
    if (isString())
        return QJsonValue(std::get<QString>(m_value));
    return QJsonValue(QJsonValue::Null);
}

QString RequestId::text() const
{
    if (isNumber())
        return QString::number(std::get<qint64>(m_value));
    if (isString())
        return std::get<QString>(m_value);
    return {};
}

QString RequestId::toString() const
{
    if (isString()) {
        // A JSON string literal: quotes and control characters escaped.
        const QByteArray array = QJsonDocument(QJsonArray{toJson()}).toJson(QJsonDocument::Compact);
        return QString::fromUtf8(array.sliced(1, array.size() - 2));
    }
    if (isNumber())
        return text();
    return QStringLiteral("null");
}

size_t RequestId::hash(size_t seed) const noexcept
{
    if (isNumber())
        return qHashMulti(seed, 1, std::get<qint64>(m_value));
    if (isString())
        return qHashMulti(seed, 2, std::get<QString>(m_value));
    return qHash(0, seed);
}

} // namespace fmb
