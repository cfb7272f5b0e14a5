#include "Subscriptions.h"

#include <array>

#include <QJsonArray>
#include <QSet>

namespace fmb::Subscriptions {
namespace {

const QString MetaKey = QStringLiteral("_meta");

struct ListChange {
    const char *method;
    const char *capability;
    bool Filter::*member;
};

// Which list-changed notification each filter member opts in to, and the
// capability that tells whether the child sends it.
constexpr std::array<ListChange, 3> ListChanges{{
    {"notifications/tools/list_changed", "tools", &Filter::toolsListChanged},
    {"notifications/prompts/list_changed", "prompts", &Filter::promptsListChanged},
    {"notifications/resources/list_changed", "resources", &Filter::resourcesListChanged},
}};

constexpr std::array<const char *, 8> LevelNames{"debug", "info",     "notice", "warning",
                                                 "error", "critical", "alert",  "emergency"};

} // namespace

std::optional<Filter> filterOf(const QJsonObject &params, qsizetype maxUris)
{
    const QJsonObject notifications = params.value(QLatin1String("notifications")).toObject();
    Filter filter;
    filter.toolsListChanged = notifications.value(QLatin1String("toolsListChanged")).toBool();
    filter.promptsListChanged = notifications.value(QLatin1String("promptsListChanged")).toBool();
    filter.resourcesListChanged = notifications.value(QLatin1String("resourcesListChanged")).toBool();
    const QJsonArray uris = notifications.value(QLatin1String("resourceSubscriptions")).toArray();
    QSet<QString> seen; // a list scan per URI would be quadratic in a hostile list
    for (const QJsonValue &value : uris) {
        const QString uri = value.toString();
        if (uri.isEmpty() || seen.contains(uri))
            continue;
        if (seen.size() >= maxUris)
            return std::nullopt;
        seen.insert(uri);
        filter.resourceSubscriptions.append(uri);
    }
    return filter;
}

QJsonObject toJson(const Filter &filter)
{
    QJsonObject out;
    if (filter.toolsListChanged)
        out.insert(QStringLiteral("toolsListChanged"), true);
    if (filter.promptsListChanged)
        out.insert(QStringLiteral("promptsListChanged"), true);
    if (filter.resourcesListChanged)
        out.insert(QStringLiteral("resourcesListChanged"), true);
    if (!filter.resourceSubscriptions.isEmpty())
        out.insert(QStringLiteral("resourceSubscriptions"),
                   QJsonArray::fromStringList(filter.resourceSubscriptions));
    return out;
}

Filter honoured(const Filter &requested, const QJsonObject &childCapabilities)
{
    Filter out;
    for (const ListChange &change : ListChanges) {
        const QJsonObject capability = childCapabilities.value(QLatin1String(change.capability)).toObject();
        out.*change.member =
            requested.*change.member && capability.value(QLatin1String("listChanged")).toBool();
    }
    const bool subscribe = childCapabilities.value(QLatin1String("resources"))
                               .toObject()
                               .value(QLatin1String("subscribe"))
                               .toBool();
    if (subscribe)
        out.resourceSubscriptions = requested.resourceSubscriptions;
    return out;
}

bool wants(const Filter &filter, const QJsonObject &notification)
{
    const QString method = notification.value(QLatin1String("method")).toString();
    for (const ListChange &change : ListChanges) {
        if (method == QLatin1String(change.method))
            return filter.*change.member;
    }
    if (method == QLatin1String("notifications/resources/updated")) {
        const QString uri =
            notification.value(QLatin1String("params")).toObject().value(QLatin1String("uri")).toString();
        return filter.resourceSubscriptions.contains(uri);
    }
    return false;
}

QJsonObject tagged(QJsonObject notification, const QJsonValue &subscriptionId)
{
    QJsonObject params = notification.value(QLatin1String("params")).toObject();
    QJsonObject meta = params.value(MetaKey).toObject();
    meta.insert(SubscriptionIdMeta, subscriptionId);
    params.insert(MetaKey, meta);
    notification.insert(QStringLiteral("params"), params);
    return notification;
}

QJsonObject acknowledged(const Filter &honouredFilter, const QJsonValue &subscriptionId)
{
    return tagged(
        QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                    {QStringLiteral("method"), QStringLiteral("notifications/subscriptions/acknowledged")},
                    {QStringLiteral("params"),
                     QJsonObject{{QStringLiteral("notifications"), toJson(honouredFilter)}}}},
        subscriptionId);
}

QJsonObject closedResult(const QJsonValue &subscriptionId)
{
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
            {QStringLiteral("id"), subscriptionId},
            {QStringLiteral("result"),
             QJsonObject{{QStringLiteral("resultType"), QStringLiteral("complete")},
                         {MetaKey, QJsonObject{{SubscriptionIdMeta, subscriptionId}}}}}};
}

std::optional<LogLevel> logLevelOf(const QString &name)
{
    for (std::size_t i = 0; i < LevelNames.size(); ++i) {
        if (name == QLatin1String(LevelNames[i]))
            return LogLevel(i);
    }
    return std::nullopt;
}

QString nameOf(LogLevel level)
{
    return QLatin1String(LevelNames[std::size_t(level)]);
}

std::optional<LogLevel> requestedLogLevel(const QJsonObject &meta)
{
    return logLevelOf(meta.value(LogLevelMeta).toString());
}

bool passes(std::optional<LogLevel> wanted, const QJsonObject &message)
{
    if (!wanted)
        return false; // 2026-07-28: no logLevel, no notifications/message
    const std::optional<LogLevel> level = logLevelOf(
        message.value(QLatin1String("params")).toObject().value(QLatin1String("level")).toString());
    return level && *level >= *wanted;
}

QStringList SubscriptionCounts::add(const QStringList &uris)
{
    QStringList first;
    for (const QString &uri : uris) {
        if (++m_counts[uri] == 1)
            first.append(uri);
    }
    return first;
}

QStringList SubscriptionCounts::remove(const QStringList &uris)
{
    QStringList last;
    for (const QString &uri : uris) {
        auto it = m_counts.find(uri);
        if (it == m_counts.end())
            continue;
        if (--it.value() <= 0) {
            m_counts.erase(it);
            last.append(uri);
        }
    }
    return last;
}

} // namespace fmb::Subscriptions
