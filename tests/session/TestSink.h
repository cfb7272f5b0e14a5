#pragma once

#include <chrono>
#include <memory>

#include <QByteArray>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QTest>

#include "child/ChildProcess.h"
#include "jsonrpc/JsonRpc.h"
#include "session/Session.h"
#include "session/StreamSink.h"

namespace fmb::test {

// An in-memory StreamSink: records what a session writes to one HTTP
// response, as the transport's HttpSink would put it on the wire. A test
// plays the client: disconnectClient() is the client going away (isOpen() turns
// false, as HttpSink's does when its socket drops); deleting the sink is the
// transport dropping it. Calls that a real response could not take (anything
// after the response is complete) are counted in misuse.
class TestSink final : public StreamSink {
    Q_OBJECT
public:
    struct Event {
        QByteArray id;
        QByteArray data;
        int retryMs = -1;
    };

    using StreamSink::StreamSink;

    void sendJson(AnswerKind kind, const QByteArray &body) override
    {
        if (!isOpen() || streaming) {
            ++misuse;
            return;
        }
        ++jsonCount;
        answer = kind;
        json = body;
        complete = true;
    }
    void begin() override
    {
        if (!isOpen()) {
            ++misuse;
            return;
        }
        ++beginCount;
        streaming = true;
    }
    void sendEvent(const QByteArray &id, const QByteArray &data, int retryMs = -1) override
    {
        if (!isOpen()) {
            ++misuse;
            return;
        }
        streaming = true;
        events.append(Event{id, data, retryMs});
        if (!data.isEmpty() && ++dataCount == disconnectAfterData)
            disconnectClient();
    }
    void end() override
    {
        if (!isOpen()) {
            ++misuse;
            return;
        }
        ++endCount;
        complete = true;
    }
    [[nodiscard]] bool isOpen() const override { return connected && !complete; }

    // The client goes away (its socket drops).
    void disconnectClient() { connected = false; }

    // Events with data: what a client's SSE parser hands to the MCP layer
    // (priming events carry none).
    [[nodiscard]] QList<Event> dataEvents() const
    {
        QList<Event> out;
        for (const Event &event : events) {
            if (!event.data.isEmpty())
                out.append(event);
        }
        return out;
    }
    [[nodiscard]] QByteArray lastEventId() const
    {
        return events.isEmpty() ? QByteArray() : events.last().id;
    }

    AnswerKind answer = AnswerKind::Answered;
    QByteArray json;
    int jsonCount = 0;
    int beginCount = 0;
    QList<Event> events;
    int endCount = 0;
    int misuse = 0;
    bool streaming = false;
    bool complete = false;
    bool connected = true;
    int dataCount = 0;
    int disconnectAfterData = -1; // > 0: the client goes away right after this many data events
};

// The real stdio MCP server the tests run as a session's child (tests/fakes).
inline QString testServerPath()
{
    return QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server");
}

inline ChildSpec testServerSpec(const QStringList &arguments = {}, const QString &program = testServerPath())
{
    ChildSpec spec;
    spec.program = program;
    spec.arguments = arguments;
    spec.environment.insert(QStringLiteral("PATH"), QStringLiteral("/usr/bin:/bin"));
    spec.environment.insert(QStringLiteral("LANG"), QStringLiteral("C.UTF-8"));
    // It leaves on stdin EOF; a long grace keeps a loaded machine from escalating to signals.
    spec.stopGrace = std::chrono::milliseconds(2000);
    spec.label = QStringLiteral("test child");
    return spec;
}

inline std::unique_ptr<ChildProcess> testServer(const QStringList &arguments = {},
                                                const QString &program = testServerPath())
{
    return std::make_unique<ChildProcess>(testServerSpec(arguments, program));
}

inline QJsonObject request(const QJsonValue &id, const QString &method, const QJsonObject &params = {})
{
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
            {QStringLiteral("id"), id},
            {QStringLiteral("method"), method},
            {QStringLiteral("params"), params}};
}

inline QJsonObject notification(const QString &method, const QJsonObject &params = {})
{
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
            {QStringLiteral("method"), method},
            {QStringLiteral("params"), params}};
}

inline QJsonObject response(const QJsonValue &id, const QJsonObject &result)
{
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
            {QStringLiteral("id"), id},
            {QStringLiteral("result"), result}};
}

inline QJsonObject toolCall(const QJsonValue &id, const QString &tool, const QJsonObject &arguments = {},
                            const QJsonValue &progressToken = QJsonValue::Undefined)
{
    QJsonObject params{{QStringLiteral("name"), tool}, {QStringLiteral("arguments"), arguments}};
    if (!progressToken.isUndefined())
        params.insert(QStringLiteral("_meta"), QJsonObject{{QStringLiteral("progressToken"), progressToken}});
    return request(id, QStringLiteral("tools/call"), params);
}

inline QJsonObject initializeParams(const QString &protocolVersion)
{
    return {{QStringLiteral("protocolVersion"), protocolVersion},
            {QStringLiteral("capabilities"), QJsonObject{{QStringLiteral("sampling"), QJsonObject{}}}},
            {QStringLiteral("clientInfo"), QJsonObject{{QStringLiteral("name"), QStringLiteral("tst-client")},
                                                       {QStringLiteral("version"), QStringLiteral("1.0")}}}};
}

using PostResult = Result<bool, SessionRefusal>;

// One POST body through the same parser the transport uses. The tests build
// well-formed bodies: one that does not parse is a bug in the test.
inline PostResult postBody(Session &session, const QByteArray &body, StreamSink *sink)
{
    Result<ParsedBody, BodyError> parsed = parseBody(body);
    if (!parsed.ok())
        qFatal("the test's POST body does not parse: %s", qPrintable(parsed.error().message));
    return session.post(parsed.value().messages, parsed.value().batch, sink);
}

inline PostResult post(Session &session, const QJsonObject &message, StreamSink *sink)
{
    return postBody(session, encode(message), sink);
}

inline PostResult postBatch(Session &session, const QJsonArray &messages, StreamSink *sink)
{
    return postBody(session, QJsonDocument(messages).toJson(QJsonDocument::Compact), sink);
}

inline QJsonObject parseObject(const QByteArray &json)
{
    return QJsonDocument::fromJson(json).object();
}

// The text of a tools/call result: result.content[0].text.
inline QString toolText(const QJsonObject &reply)
{
    return reply.value(QLatin1String("result"))
        .toObject()
        .value(QLatin1String("content"))
        .toArray()
        .at(0)
        .toObject()
        .value(QLatin1String("text"))
        .toString();
}

inline int errorCode(const QJsonObject &reply)
{
    return reply.value(QLatin1String("error")).toObject().value(QLatin1String("code")).toInt();
}

// Brings a started session to Ready the way a client does: initialize, wait
// for the answer, then notifications/initialized. The sink is parented to owner.
[[nodiscard]] inline bool initializeSession(Session &session, const QString &protocolVersion, QObject *owner)
{
    auto *sink = new TestSink(owner);
    const PostResult posted =
        post(session, request(0, QStringLiteral("initialize"), initializeParams(protocolVersion)), sink);
    if (!posted.ok() || !QTest::qWaitFor([sink] { return sink->complete; }, 10000))
        return false;
    if (sink->answer != AnswerKind::Answered || session.state() != SessionState::Ready)
        return false;
    return post(session, notification(QStringLiteral("notifications/initialized")), nullptr).ok();
}

} // namespace fmb::test
