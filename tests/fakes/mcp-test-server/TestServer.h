#pragma once

#include <QByteArray>
#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QObject>
#include <QString>
#include <QStringList>

class QTimer;

namespace fmb::testserver {

struct ServerOptions {
    bool answerInitialize = true; // --no-initialize-reply turns it off
};

// The MCP side of fmb-test-mcp-server: takes one JSON-RPC line at a time and
// writes replies, notifications and server-to-client requests to stdout.
// Delayed replies (the "slow" tool, "notify" with an interval, "sample") run
// on QTimers and pending maps, so any number of requests can be in flight.
class TestServer final : public QObject {
    Q_OBJECT
public:
    explicit TestServer(ServerOptions options, QObject *parent = nullptr);

    void handleLine(const QByteArray &line);

private:
    struct SampleWait {
        QJsonValue requestId; // the tools/call waiting for the client's answer
    };

    void handleRequest(const QJsonValue &id, const QString &method, const QJsonObject &params);
    void handleNotification(const QString &method, const QJsonObject &params);
    void handleClientResponse(const QJsonObject &message);
    void callTool(const QJsonValue &id, const QJsonObject &params);

    void toolSlow(const QJsonValue &id, const QJsonObject &args);
    void toolNotify(const QJsonValue &id, const QJsonObject &args, const QJsonValue &progressToken);
    void notifyStep(const QJsonValue &id, const QJsonValue &progressToken, int sent, int count,
                    int intervalMs);
    void toolSample(const QJsonValue &id, const QJsonObject &args);
    [[nodiscard]] QString stateText() const;

    void sendResult(const QJsonValue &id, const QJsonObject &result);
    void sendError(const QJsonValue &id, int code, const QString &message);
    void sendToolText(const QJsonValue &id, const QString &text, bool isError = false);
    void sendNotification(const QString &method, const QJsonObject &params);
    void send(const QJsonObject &message);

    ServerOptions m_options;
    QJsonObject m_initializeParams;
    int m_initializedCount = 0;
    QString m_logLevel;
    QStringList m_subscriptions;
    QJsonArray m_cancelled;      // requestIds named by notifications/cancelled
    QJsonArray m_strayResponses; // ids of responses to no request this server sent
    int m_nextServerRequest = 1;
    QHash<QString, SampleWait> m_sampleWaits; // server request id -> waiting tools/call
    QHash<QString, QTimer *> m_slowTimers;    // id key of a pending slow call -> its timer
};

} // namespace fmb::testserver
