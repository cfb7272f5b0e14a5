#pragma once

#include <map>

#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include "jsonrpc/JsonRpc.h"

namespace fmb {

// What a session's client has told its server that a fresh server must hear
// again after a respawn (token rotation): the client's initialize request,
// notifications/initialized, the last logging/setLevel and the current
// resources/subscribe set. Pure; replayed with broker-owned request ids.
class ReplayLog final {
public:
    // Looks at one message the client sent; ignores what does not matter.
    void record(const JsonRpcMessage &message);

    [[nodiscard]] bool hasInitialize() const { return !m_initialize.isEmpty(); }
    [[nodiscard]] bool initialized() const { return m_initialized; }
    [[nodiscard]] QString loggingLevel() const { return m_loggingLevel; }
    // In the order the client subscribed. O(n); for a respawn and for tests.
    [[nodiscard]] QStringList subscriptions() const;
    [[nodiscard]] int subscriptionCount() const { return int(m_subscriptionOrder.size()); }
    [[nodiscard]] bool hasSubscription(const QString &uri) const { return m_subscriptionOrder.contains(uri); }
    [[nodiscard]] QJsonObject initializeParams() const;

    // The client's initialize request with its id replaced.
    [[nodiscard]] QJsonObject initializeRequest(const QJsonValue &id) const;
    // What follows once the new server has answered initialize. Requests get
    // ids idPrefix + "-" + n.
    [[nodiscard]] QList<QJsonObject> afterInitialize(const QString &idPrefix) const;

private:
    QJsonObject m_initialize;
    bool m_initialized = false;
    QString m_loggingLevel;
    // A client can hold thousands of subscriptions: subscribe and unsubscribe
    // are O(log n) (issue 11; a list looked up per URI made them quadratic).
    QHash<QString, quint64> m_subscriptionOrder;       // uri -> when it was subscribed
    std::map<quint64, QString> m_subscriptionsByOrder; // the same, oldest first
    quint64 m_nextSubscription = 0;
};

} // namespace fmb
