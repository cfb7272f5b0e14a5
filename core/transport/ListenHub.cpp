#include "ListenHub.h"

#include <algorithm>
#include <limits>

#include <QJsonDocument>

#include "HttpSink.h"
#include "Logging.h"
#include "jsonrpc/JsonRpc.h"
#include "session/Session.h"

namespace fmb {

using Subscriptions::LogLevel;

// Reads a user child's standalone stream for the hub while the user has
// listeners or requests that asked for logs.
class ListenHub::Fanout final : public StreamSink {
public:
    Fanout(ListenHub *hub, QString user)
        : StreamSink(hub)
        , m_hub(hub)
        , m_user(std::move(user))
    {}

    void sendJson(AnswerKind, const QByteArray &) override {}
    void begin() override {}
    void sendEvent(const QByteArray &, const QByteArray &data, int) override
    {
        // What the child buffered while nobody listened is not news to a
        // stream opened now (and 2026-07-28 resumes no streams).
        if (m_open && !m_skipping && !data.isEmpty())
            m_hub->dispatch(m_user, data);
    }
    void end() override { m_open = false; }
    [[nodiscard]] bool isOpen() const override { return m_open; }

    // Takes the child's standalone stream, dropping its backlog.
    [[nodiscard]] bool attachTo(Session *child)
    {
        m_skipping = true;
        const bool opened = bool(child->openStream(this, QByteArray()));
        m_skipping = false;
        return opened;
    }
    void close()
    {
        m_open = false;
        deleteLater();
    }

private:
    ListenHub *m_hub;
    QString m_user;
    bool m_open = true;
    bool m_skipping = false;
};

namespace {

// Takes the child's answer to a request the hub sent it (subscribe,
// unsubscribe, setLevel) and goes; the answer interests only the log.
class ChildAnswerSink final : public StreamSink {
public:
    ChildAnswerSink(QString method, QObject *parent)
        : StreamSink(parent)
        , m_method(std::move(method))
    {}
    void sendJson(AnswerKind, const QByteArray &body) override
    {
        const QJsonObject error =
            QJsonDocument::fromJson(body).object().value(QLatin1String("error")).toObject();
        if (!error.isEmpty())
            qCInfo(lcHttp).noquote() << "the user child refused" << m_method << ":"
                                     << error.value(QLatin1String("message")).toString();
        finish();
    }
    void begin() override {}
    void sendEvent(const QByteArray &, const QByteArray &data, int) override
    {
        if (QJsonDocument::fromJson(data).object().contains(QLatin1String("id")))
            sendJson(AnswerKind::Answered, data);
    }
    void end() override { finish(); }
    [[nodiscard]] bool isOpen() const override { return m_open; }

private:
    void finish()
    {
        if (!m_open)
            return;
        m_open = false;
        deleteLater();
    }
    QString m_method;
    bool m_open = true;
};

} // namespace

ListenHub::ListenHub(int maxListenersPerUser, QObject *parent)
    : QObject(parent)
    , m_maxListenersPerUser(maxListenersPerUser)
{}

ListenHub::~ListenHub() = default;

int ListenHub::listeners(const QString &user) const
{
    const auto it = m_users.constFind(user);
    return it == m_users.constEnd() ? 0 : int(it->listeners.size());
}

ListenHub::User &ListenHub::userFor(Session *child)
{
    const QString user = child->owner().user;
    auto it = m_users.find(user);
    if (it != m_users.end() && it->child == child)
        return *it;
    if (it != m_users.end())
        childEnded(user); // a new child: the old one's streams are over
    User &entry = m_users[user];
    entry.child = child;
    entry.ended = connect(child, &Session::ended, this, [this, user] { childEnded(user); });
    return entry;
}

void ListenHub::attach(const QString &user)
{
    User &entry = m_users[user];
    if (entry.fanout || !entry.child)
        return;
    auto *fanout = new Fanout(this, user);
    entry.fanout = fanout;
    if (!fanout->attachTo(entry.child))
        qCWarning(lcHttp).noquote() << "could not read the user child of" << user
                                    << "; its notifications are not delivered";
}

ListenHub::Outcome ListenHub::listen(HttpSink *http, Session *child, const QJsonValue &subscriptionId,
                                     const QJsonObject &params, std::optional<LogLevel> level,
                                     const QDateTime &tokenExpiresAt)
{
    const QString user = child->owner().user;
    if (m_maxListenersPerUser > 0 && listeners(user) >= m_maxListenersPerUser)
        return Outcome::TooManyListeners;
    const std::optional<Subscriptions::Filter> requested = Subscriptions::filterOf(params);
    if (!requested)
        return Outcome::TooManySubscriptions;
    User &entry = userFor(child);
    const QJsonObject capabilities =
        child->initializeResult().value(QLatin1String("capabilities")).toObject();
    const Subscriptions::Filter filter = Subscriptions::honoured(*requested, capabilities);
    const int id = ++m_nextId;
    entry.listeners.emplace(id, Listener{http, subscriptionId, filter, level, tokenExpiresAt, nullptr});
    connect(http, &HttpSink::finished, this, [this, user, id] { dropListener(user, id); });
    attach(user);
    armExpiry(user, id);

    http->begin();
    http->sendEvent(QByteArray(), encode(Subscriptions::acknowledged(filter, subscriptionId)));
    // The level first: what the child logs about the subscriptions is this stream's to see.
    updateLevel(entry);
    for (const QString &uri : entry.counts.add(filter.resourceSubscriptions))
        toChild(child, QStringLiteral("resources/subscribe"), {{QStringLiteral("uri"), uri}});
    qCDebug(lcHttp).noquote() << "listener" << id << "of" << user << "opened;" << listeners(user) << "open";
    return Outcome::Open;
}

void ListenHub::watchLogs(StreamSink *sink, Session *child, LogLevel level)
{
    const QString user = child->owner().user;
    User &entry = userFor(child);
    const int id = ++m_nextId;
    entry.watchers.emplace(id, LogWatcher{sink, level});
    // A request is over when its sink is: answered, or the client left.
    connect(sink, &QObject::destroyed, this, [this, user, id] { dropWatcher(user, id); });
    attach(user);
    updateLevel(entry);
}

ListenHub::Listener *ListenHub::listenerOf(const QString &user, int id)
{
    auto found = m_users.find(user);
    if (found == m_users.end())
        return nullptr;
    auto listener = found->listeners.find(id);
    return listener == found->listeners.end() ? nullptr : &listener->second;
}

void ListenHub::armExpiry(const QString &user, int id)
{
    Listener *listener = listenerOf(user, id);
    if (!listener || !listener->tokenExpiresAt.isValid())
        return;
    if (!listener->expiry) {
        auto *timer = new QTimer(this);
        timer->setSingleShot(true);
        connect(timer, &QTimer::timeout, this, [this, user, id] { expire(user, id); });
        listener->expiry = timer;
    }
    // A QTimer counts in int milliseconds (~24 days): a later expiry re-arms.
    const qint64 left = QDateTime::currentDateTimeUtc().msecsTo(listener->tokenExpiresAt);
    listener->expiry->start(int(std::clamp<qint64>(left, 0, std::numeric_limits<int>::max())));
}

void ListenHub::expire(const QString &user, int id)
{
    const Listener *listener = listenerOf(user, id);
    if (!listener)
        return;
    if (QDateTime::currentDateTimeUtc() < listener->tokenExpiresAt) {
        armExpiry(user, id);
        return;
    }
    // A stream lives no longer than the authorization that opened it; the
    // client re-authorizes and listens again. Ended as when the child ends,
    // with the listen request's result; finished then drops the listener.
    qCInfo(lcHttp).noquote() << "listener" << id << "of" << user << "ended: its bearer token expired";
    const QPointer<HttpSink> http = listener->http;
    const QJsonValue subscriptionId = listener->subscriptionId;
    if (!http || !http->isOpen()) {
        dropListener(user, id);
        return;
    }
    http->sendEvent(QByteArray(), encode(Subscriptions::closedResult(subscriptionId)));
    http->end();
}

void ListenHub::dispatch(const QString &user, const QByteArray &data)
{
    const auto found = m_users.constFind(user);
    if (found == m_users.constEnd())
        return;
    const QJsonObject message = QJsonDocument::fromJson(data).object();
    const bool log =
        message.value(QLatin1String("method")).toString() == QLatin1String("notifications/message");
    // Copies: a write may finish a stream, whose handler edits the maps.
    const std::map<int, Listener> listeners = found->listeners;
    const std::map<int, LogWatcher> watchers = found->watchers;
    for (const auto &[id, listener] : listeners) {
        const bool wanted = log ? Subscriptions::passes(listener.level, message)
                                : Subscriptions::wants(listener.filter, message);
        if (wanted && listener.http && listener.http->isOpen())
            listener.http->sendEvent(QByteArray(),
                                     encode(Subscriptions::tagged(message, listener.subscriptionId)));
    }
    if (!log)
        return;
    for (const auto &[id, watcher] : watchers) {
        if (watcher.sink && watcher.sink->isOpen() && Subscriptions::passes(watcher.level, message))
            watcher.sink->sendEvent(QByteArray(), data);
    }
}

void ListenHub::dropListener(const QString &user, int id)
{
    auto found = m_users.find(user);
    if (found == m_users.end())
        return;
    auto listener = found->listeners.find(id);
    if (listener == found->listeners.end())
        return;
    const QStringList uris = listener->second.filter.resourceSubscriptions;
    if (listener->second.expiry)
        listener->second.expiry->deleteLater();
    found->listeners.erase(listener);
    for (const QString &uri : found->counts.remove(uris))
        toChild(found->child, QStringLiteral("resources/unsubscribe"), {{QStringLiteral("uri"), uri}});
    qCDebug(lcHttp).noquote() << "listener" << id << "of" << user << "closed;" << found->listeners.size()
                              << "open";
    updateLevel(*found);
    releaseIfIdle(user);
}

void ListenHub::dropWatcher(const QString &user, int id)
{
    auto found = m_users.find(user);
    if (found == m_users.end() || found->watchers.erase(id) == 0)
        return;
    updateLevel(*found);
    releaseIfIdle(user);
}

void ListenHub::releaseIfIdle(const QString &user)
{
    auto found = m_users.find(user);
    if (found == m_users.end() || !found->listeners.empty() || !found->watchers.empty())
        return;
    if (found->fanout)
        found->fanout->close();
    disconnect(found->ended);
    m_users.erase(found);
}

void ListenHub::childEnded(const QString &user)
{
    auto found = m_users.find(user);
    if (found == m_users.end())
        return;
    User entry = std::move(*found);
    m_users.erase(found);
    disconnect(entry.ended);
    if (entry.fanout)
        entry.fanout->close();
    // 2026-07-28: the listen request's result tells the client the
    // subscription ended on the server's side, not by a broken connection.
    for (const auto &[id, listener] : entry.listeners) {
        if (listener.expiry)
            listener.expiry->deleteLater();
        if (!listener.http || !listener.http->isOpen())
            continue;
        listener.http->disconnect(this);
        listener.http->sendEvent(QByteArray(), encode(Subscriptions::closedResult(listener.subscriptionId)));
        listener.http->end();
    }
}

void ListenHub::updateLevel(User &entry)
{
    std::optional<LogLevel> lowest;
    const auto consider = [&lowest](std::optional<LogLevel> level) {
        if (level && (!lowest || *level < *lowest))
            lowest = level;
    };
    for (const auto &[id, listener] : entry.listeners)
        consider(listener.level);
    for (const auto &[id, watcher] : entry.watchers)
        consider(watcher.level);
    // Nobody asks for logs any more: the child may as well keep them.
    if (!lowest && entry.childLevel)
        lowest = LogLevel::Emergency;
    if (!lowest || lowest == entry.childLevel || !entry.child)
        return;
    if (!entry.child->initializeResult()
             .value(QLatin1String("capabilities"))
             .toObject()
             .contains(QLatin1String("logging")))
        return;
    entry.childLevel = lowest;
    toChild(entry.child, QStringLiteral("logging/setLevel"),
            {{QStringLiteral("level"), Subscriptions::nameOf(*lowest)}});
}

void ListenHub::toChild(Session *child, const QString &method, const QJsonObject &params)
{
    if (!child)
        return;
    const QJsonObject request{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                              {QStringLiteral("id"), QStringLiteral("fmb-listen-%1").arg(++m_childRequests)},
                              {QStringLiteral("method"), method},
                              {QStringLiteral("params"), params}};
    auto *sink = new ChildAnswerSink(method, this);
    Result<bool, SessionRefusal> posted = child->post({classify(request)}, false, sink);
    if (!posted) {
        qCDebug(lcHttp).noquote() << method << "not sent to the user child:" << posted.error().message;
        sink->deleteLater();
    }
}

} // namespace fmb
