#pragma once

#include <optional>

#include <QHash>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>
#include <QStringList>

// subscriptions/listen and per-request logLevel of MCP 2026-07-28 (issue 13
// point 6) over a session-revision user child: what a listen stream asked
// for and what the child can honour, which notifications go to which
// stream, the resources/subscribe the child needs across one user's
// listeners, and the logging/setLevel it needs across their levels. Pure
// functions and values, no I/O.
namespace fmb::Subscriptions {

inline const QString SubscriptionIdMeta = QStringLiteral("io.modelcontextprotocol/subscriptionId");
inline const QString LogLevelMeta = QStringLiteral("io.modelcontextprotocol/logLevel");

// The notifications a listen stream opts in to (schema.ts SubscriptionFilter).
struct Filter {
    bool toolsListChanged = false;
    bool promptsListChanged = false;
    bool resourcesListChanged = false;
    QStringList resourceSubscriptions;

    friend bool operator==(const Filter &, const Filter &) = default;
};

// The most distinct resourceSubscriptions URIs one listen request may name:
// as many as one session may subscribe (max_subscriptions_per_session's
// default), since each is a resources/subscribe in the user's child.
inline constexpr qsizetype MaxResourceSubscriptions = 1000;

// params.notifications of a subscriptions/listen request; members of the
// wrong type count as not asked for. Nothing when it names more than
// `maxUris` distinct URIs (the caller answers -32003).
[[nodiscard]] std::optional<Filter> filterOf(const QJsonObject &params,
                                             qsizetype maxUris = MaxResourceSubscriptions);
// The filter as the acknowledgement carries it: only what is set.
[[nodiscard]] QJsonObject toJson(const Filter &filter);
// What of `requested` a child with these (initialize) capabilities delivers:
// list changes where it declares listChanged, resource subscriptions where
// it declares resources.subscribe.
[[nodiscard]] Filter honoured(const Filter &requested, const QJsonObject &childCapabilities);

// Whether a listen stream with `filter` receives `notification` (a
// list-changed or notifications/resources/updated; anything else: false).
[[nodiscard]] bool wants(const Filter &filter, const QJsonObject &notification);
// The notification with the listen request's id in params._meta
// (2026-07-28: every message of a listen stream names its subscription).
[[nodiscard]] QJsonObject tagged(QJsonObject notification, const QJsonValue &subscriptionId);
// notifications/subscriptions/acknowledged, the first message of a listen stream.
[[nodiscard]] QJsonObject acknowledged(const Filter &honouredFilter, const QJsonValue &subscriptionId);
// The listen request's result: the subscription ended gracefully.
[[nodiscard]] QJsonObject closedResult(const QJsonValue &subscriptionId);

// RFC 5424 severities as MCP names them, least severe first.
enum class LogLevel { Debug, Info, Notice, Warning, Error, Critical, Alert, Emergency };
[[nodiscard]] std::optional<LogLevel> logLevelOf(const QString &name);
[[nodiscard]] QString nameOf(LogLevel level);
// The level a request asked for in _meta; nothing when it asked for none
// (then it receives no notifications/message) or named no level.
[[nodiscard]] std::optional<LogLevel> requestedLogLevel(const QJsonObject &meta);
// Whether a stream that asked for `wanted` receives this notifications/message.
[[nodiscard]] bool passes(std::optional<LogLevel> wanted, const QJsonObject &message);

// The resources/subscribe a user's child needs across their listen streams:
// a URI is subscribed while at least one listener holds it.
class SubscriptionCounts {
public:
    // The URIs that no listener held before (to subscribe in the child).
    [[nodiscard]] QStringList add(const QStringList &uris);
    // The URIs that no listener holds any more (to unsubscribe).
    [[nodiscard]] QStringList remove(const QStringList &uris);
    [[nodiscard]] int holders(const QString &uri) const { return m_counts.value(uri); }
    [[nodiscard]] int size() const { return int(m_counts.size()); }

private:
    QHash<QString, int> m_counts;
};

} // namespace fmb::Subscriptions
