#include "ReplayLog.h"

namespace fmb {
namespace {

QJsonObject request(const QString &id, const QString &method, const QJsonObject &params)
{
    return QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                       {QStringLiteral("id"), id},
                       {QStringLiteral("method"), method},
                       {QStringLiteral("params"), params}};
}

} // namespace

void ReplayLog::record(const JsonRpcMessage &message)
{
    const QJsonObject params = message.object.value(QLatin1String("params")).toObject();
    if (message.kind == MessageKind::Request) {
        if (message.method == QLatin1String("initialize")) {
            m_initialize = message.object;
        } else if (message.method == QLatin1String("logging/setLevel")) {
            m_loggingLevel = params.value(QLatin1String("level")).toString();
        } else if (message.method == QLatin1String("resources/subscribe")) {
            const QString uri = params.value(QLatin1String("uri")).toString();
            if (!uri.isEmpty() && !m_subscriptionOrder.contains(uri)) {
                const quint64 order = m_nextSubscription++;
                m_subscriptionOrder.insert(uri, order);
                m_subscriptionsByOrder.emplace(order, uri);
            }
        } else if (message.method == QLatin1String("resources/unsubscribe")) {
            const auto found = m_subscriptionOrder.constFind(params.value(QLatin1String("uri")).toString());
            if (found != m_subscriptionOrder.constEnd()) {
                m_subscriptionsByOrder.erase(found.value());
                m_subscriptionOrder.erase(found);
            }
        }
    } else if (message.kind == MessageKind::Notification &&
               message.method == QLatin1String("notifications/initialized")) {
        m_initialized = true;
    }
}

QStringList ReplayLog::subscriptions() const
{
    QStringList out;
    out.reserve(qsizetype(m_subscriptionsByOrder.size()));
    for (const auto &[order, uri] : m_subscriptionsByOrder)
        out.append(uri);
    return out;
}

QJsonObject ReplayLog::initializeParams() const
{
    return m_initialize.value(QLatin1String("params")).toObject();
}

QJsonObject ReplayLog::initializeRequest(const QJsonValue &id) const
{
    QJsonObject copy = m_initialize;
    copy.insert(QStringLiteral("id"), id);
    return copy;
}

QList<QJsonObject> ReplayLog::afterInitialize(const QString &idPrefix) const
{
    QList<QJsonObject> out;
    int n = 0;
    if (m_initialized) {
        out.append(QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                               {QStringLiteral("method"), QStringLiteral("notifications/initialized")}});
    }
    if (!m_loggingLevel.isEmpty()) {
        out.append(request(idPrefix + QLatin1Char('-') + QString::number(++n),
                           QStringLiteral("logging/setLevel"),
                           QJsonObject{{QStringLiteral("level"), m_loggingLevel}}));
    }
    for (const auto &[order, uri] : m_subscriptionsByOrder) {
        out.append(request(idPrefix + QLatin1Char('-') + QString::number(++n),
                           QStringLiteral("resources/subscribe"), QJsonObject{{QStringLiteral("uri"), uri}}));
    }
    return out;
}

} // namespace fmb
