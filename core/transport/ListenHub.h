#pragma once

#include <map>
#include <optional>

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QJsonValue>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include "revision/Subscriptions.h"

namespace fmb {

class HttpSink;
class Session;
class StreamSink;

// subscriptions/listen and per-request logLevel of MCP 2026-07-28 (issue 13
// point 6) over the per-user child, a session-revision server:
//
// - A listen POST becomes an SSE stream that first carries
//   notifications/subscriptions/acknowledged with what the child supports,
//   then the list changes and resource updates it asked for, each tagged
//   with the listen request's id (_meta io.modelcontextprotocol/subscriptionId).
// - The child hears resources/subscribe once per URI across the user's
//   listeners and resources/unsubscribe when the last listener of a URI
//   goes (its stream closes); at most maxListenersPerUser streams per user.
// - logging/setLevel of the child is the lowest level any listener or
//   in-flight request of the user asked for (_meta io.modelcontextprotocol/logLevel);
//   each stream receives notifications/message at its own level and above,
//   and a request that asked for none receives none.
//
// While a user has listeners or requests that asked for logs, the hub reads
// the child's standalone stream (everything a user child does not route by
// progress token) through one sink of its own. Main thread only; owned by
// the McpHttpServer.
class ListenHub final : public QObject {
    Q_OBJECT
public:
    explicit ListenHub(int maxListenersPerUser, QObject *parent = nullptr);
    ~ListenHub() override;

    void setMaxListenersPerUser(int max) { m_maxListenersPerUser = max; }

    // Serves a listen request on `http` with the ready user child `child`:
    // the stream stays open until the client closes it, the child ends or
    // `tokenExpiresAt` (the bearer token that opened it; invalid: never)
    // passes; the latter two end it with the listen request's result.
    // Anything but Open: nothing was sent and the caller answers (-32003).
    enum class Outcome { Open, TooManyListeners, TooManySubscriptions };
    [[nodiscard]] Outcome listen(HttpSink *http, Session *child, const QJsonValue &subscriptionId,
                                 const QJsonObject &params, std::optional<Subscriptions::LogLevel> level,
                                 const QDateTime &tokenExpiresAt = {});
    // A request of the user in flight on `sink` that asked for logs at
    // `level`: it receives notifications/message until it is answered.
    // Call before the request reaches the child, so the child's level is
    // set first.
    void watchLogs(StreamSink *sink, Session *child, Subscriptions::LogLevel level);

    [[nodiscard]] int listeners(const QString &user) const;

private:
    class Fanout;
    struct Listener {
        QPointer<HttpSink> http;
        QJsonValue subscriptionId;
        Subscriptions::Filter filter;
        std::optional<Subscriptions::LogLevel> level;
        QDateTime tokenExpiresAt;
        QPointer<QTimer> expiry; // owned by the hub; null without an expiry
    };
    struct LogWatcher {
        QPointer<StreamSink> sink;
        Subscriptions::LogLevel level = Subscriptions::LogLevel::Info;
    };
    struct User {
        QPointer<Session> child;
        QPointer<Fanout> fanout;
        std::map<int, Listener> listeners;
        std::map<int, LogWatcher> watchers;
        Subscriptions::SubscriptionCounts counts;
        std::optional<Subscriptions::LogLevel> childLevel; // what the child was told last
        QMetaObject::Connection ended;                     // the child's Session::ended
    };

    // The user's entry for `child`: a new one when the child changed.
    User &userFor(Session *child);
    void attach(const QString &user);
    void dispatch(const QString &user, const QByteArray &data);
    void dropListener(const QString &user, int id);
    void dropWatcher(const QString &user, int id);
    [[nodiscard]] Listener *listenerOf(const QString &user, int id);
    // Ends listener `id` with the listen request's result once its token has expired.
    void armExpiry(const QString &user, int id);
    void expire(const QString &user, int id);
    void childEnded(const QString &user);
    // Closes the fan-out and forgets the user once nobody listens.
    void releaseIfIdle(const QString &user);
    void updateLevel(User &entry);
    void toChild(Session *child, const QString &method, const QJsonObject &params);

    int m_maxListenersPerUser = 0;
    QHash<QString, User> m_users; // by user
    int m_nextId = 0;
    quint64 m_childRequests = 0;
};

} // namespace fmb
