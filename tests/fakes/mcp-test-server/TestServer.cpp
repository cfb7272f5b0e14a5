#include "TestServer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QTimer>

namespace fmb::testserver {
namespace {

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

const QString kServerName = QStringLiteral("fmb-test-mcp-server");

void writeAll(int fd, const char *data, qsizetype size)
{
    while (size > 0) {
        const ssize_t n = ::write(fd, data, static_cast<size_t>(size));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; // the reader has gone; nothing sensible is left to do
        }
        data += n;
        size -= n;
    }
}

void writeAll(int fd, const QByteArray &bytes)
{
    writeAll(fd, bytes.constData(), bytes.size());
}

// A map key for a JSON-RPC id: 1 and "1" are different ids.
QString idKey(const QJsonValue &id)
{
    if (id.isString())
        return QLatin1String("s:") + id.toString();
    if (id.isDouble())
        return QLatin1String("n:") + QString::number(id.toDouble(), 'g', 17);
    return QStringLiteral("?");
}

int intArg(const QJsonObject &args, QLatin1String name, int fallback)
{
    const QJsonValue value = args.value(name);
    return value.isDouble() ? value.toInt(fallback) : fallback;
}

QJsonObject schema(const QJsonObject &properties, const QStringList &required = {})
{
    QJsonObject object{{QLatin1String("type"), QLatin1String("object")},
                       {QLatin1String("properties"), properties}};
    if (!required.isEmpty())
        object.insert(QLatin1String("required"), QJsonArray::fromStringList(required));
    return object;
}

QJsonObject prop(QLatin1String type, const QString &description)
{
    return {{QLatin1String("type"), type}, {QLatin1String("description"), description}};
}

QJsonObject tool(const QString &name, const QString &description, const QJsonObject &inputSchema)
{
    return {{QLatin1String("name"), name},
            {QLatin1String("description"), description},
            {QLatin1String("inputSchema"), inputSchema}};
}

QJsonArray toolList()
{
    const auto integer = QLatin1String("integer");
    const auto string = QLatin1String("string");
    QJsonObject names = prop(QLatin1String("array"), QStringLiteral("Environment variable names"));
    names.insert(QLatin1String("items"), QJsonObject{{QLatin1String("type"), string}});

    return {
        tool(QStringLiteral("echo"), QStringLiteral("Returns text unchanged"),
             schema({{QLatin1String("text"), prop(string, QStringLiteral("Text to echo"))}},
                    {QStringLiteral("text")})),
        tool(QStringLiteral("slow"), QStringLiteral("Returns text after ms milliseconds"),
             schema({{QLatin1String("ms"), prop(integer, QStringLiteral("Delay in milliseconds"))},
                     {QLatin1String("text"), prop(string, QStringLiteral("Text to return"))}},
                    {QStringLiteral("ms")})),
        tool(
            QStringLiteral("notify"),
            QStringLiteral("Sends count progress notifications and one log message, then the result"),
            schema({{QLatin1String("count"), prop(integer, QStringLiteral("Progress notifications to send"))},
                    {QLatin1String("intervalMs"),
                     prop(integer, QStringLiteral("Delay before each notification (default 0)"))}})),
        tool(
            QStringLiteral("sample"),
            QStringLiteral("Asks the client for sampling/createMessage and returns the sampled text"),
            schema({{QLatin1String("prompt"), prop(string, QStringLiteral("Prompt sent to the client"))},
                    {QLatin1String("maxTokens"), prop(integer, QStringLiteral("maxTokens (default 100)"))}})),
        tool(
            QStringLiteral("emit"),
            QStringLiteral("Sends each {method, params} of notifications as a notification, then the result"),
            schema({{QLatin1String("notifications"),
                     QJsonObject{{QLatin1String("type"), QLatin1String("array")},
                                 {QLatin1String("description"), QLatin1String("Notifications to send")}}}},
                   {QStringLiteral("notifications")})),
        tool(QStringLiteral("crash"), QStringLiteral("Exits at once with code (default 3), without replying"),
             schema({{QLatin1String("code"), prop(integer, QStringLiteral("Exit code"))}})),
        tool(QStringLiteral("env"), QStringLiteral("Returns the values of environment variables as JSON"),
             schema({{QLatin1String("names"), names}}, {QStringLiteral("names")})),
        tool(QStringLiteral("environ"),
             QStringLiteral("Returns the names of every environment variable as JSON"), schema({})),
        tool(QStringLiteral("open"),
             QStringLiteral("Opens each path (mode read, write or list) and returns ok or the errno name"),
             schema({{QLatin1String("paths"), names},
                     {QLatin1String("mode"), prop(string, QStringLiteral("read (default), write or list"))}},
                    {QStringLiteral("paths")})),
        tool(QStringLiteral("signal"),
             QStringLiteral("Sends signal (default 0: only a check) to pid; returns ok or the errno name"),
             schema({{QLatin1String("pid"), prop(integer, QStringLiteral("Process to signal"))},
                     {QLatin1String("signal"), prop(integer, QStringLiteral("Signal number (default 0)"))}},
                    {QStringLiteral("pid")})),
        tool(QStringLiteral("garbage"), QStringLiteral("Writes count lines that are not JSON, then replies"),
             schema({{QLatin1String("count"), prop(integer, QStringLiteral("Lines (default 1)"))}})),
        tool(QStringLiteral("huge"), QStringLiteral("Writes one line of bytes 'x' characters, then replies"),
             schema({{QLatin1String("bytes"), prop(integer, QStringLiteral("Length of the line"))}},
                    {QStringLiteral("bytes")})),
        tool(QStringLiteral("stderr"), QStringLiteral("Writes text to stderr count times, then replies"),
             schema({{QLatin1String("text"), prop(string, QStringLiteral("Text to write"))},
                     {QLatin1String("count"), prop(integer, QStringLiteral("Repetitions (default 1)"))}})),
        tool(QStringLiteral("state"),
             QStringLiteral(
                 "Returns what the server has recorded: initialize params, notifications/initialized "
                 "count, log level, subscriptions"),
             schema({})),
    };
}

// "ok", or the errno name of the failure ("EACCES"): what a sandbox test
// compares against.
QString openResult(const QByteArray &path, const QString &mode)
{
    if (mode == QLatin1String("list")) {
        DIR *directory = ::opendir(path.constData());
        if (!directory)
            return QString::fromLatin1(::strerrorname_np(errno));
        ::closedir(directory);
        return QStringLiteral("ok");
    }
    const int flags =
        mode == QLatin1String("write") ? O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC : O_RDONLY | O_CLOEXEC;
    const int fd = ::open(path.constData(), flags, 0600);
    if (fd < 0)
        return QString::fromLatin1(::strerrorname_np(errno));
    ::close(fd);
    return QStringLiteral("ok");
}

QString openPaths(const QJsonObject &args)
{
    const QString mode = args.value(QLatin1String("mode")).toString(QStringLiteral("read"));
    QJsonObject results;
    const QJsonArray paths = args.value(QLatin1String("paths")).toArray();
    for (const QJsonValue &path : paths)
        results.insert(path.toString(), openResult(path.toString().toLocal8Bit(), mode));
    return QString::fromUtf8(QJsonDocument(results).toJson(QJsonDocument::Compact));
}

QString sampledText(const QJsonValue &content)
{
    if (content.isObject())
        return content.toObject().value(QLatin1String("text")).toString();
    QStringList parts;
    const QJsonArray blocks = content.toArray();
    for (const QJsonValue &block : blocks)
        parts << block.toObject().value(QLatin1String("text")).toString();
    return parts.join(QString());
}

} // namespace

TestServer::TestServer(ServerOptions options, QObject *parent)
    : QObject(parent)
    , m_options(options)
{}

void TestServer::handleLine(const QByteArray &line)
{
    QJsonParseError error{};
    const QJsonDocument document = QJsonDocument::fromJson(line, &error);
    if (error.error != QJsonParseError::NoError || !document.isObject()) {
        sendError(QJsonValue::Null, kParseError, QStringLiteral("Parse error: ") + error.errorString());
        return;
    }
    const QJsonObject message = document.object();
    const QJsonValue method = message.value(QLatin1String("method"));
    const bool hasId = message.contains(QLatin1String("id"));
    const QJsonObject params = message.value(QLatin1String("params")).toObject();

    if (method.isString() && hasId)
        handleRequest(message.value(QLatin1String("id")), method.toString(), params);
    else if (method.isString())
        handleNotification(method.toString(), params);
    else if (hasId && (message.contains(QLatin1String("result")) || message.contains(QLatin1String("error"))))
        handleClientResponse(message);
    else
        sendError(message.value(QLatin1String("id")), kInvalidRequest, QStringLiteral("Invalid Request"));
}

void TestServer::handleRequest(const QJsonValue &id, const QString &method, const QJsonObject &params)
{
    if (method == QLatin1String("initialize")) {
        m_initializeParams = params;
        if (!m_options.answerInitialize)
            return;
        static const QStringList known{QStringLiteral("2024-11-05"), QStringLiteral("2025-03-26"),
                                       QStringLiteral("2025-06-18"), QStringLiteral("2025-11-25")};
        const QString requested = params.value(QLatin1String("protocolVersion")).toString();
        const QJsonObject capabilities{
            {QLatin1String("tools"), QJsonObject{{QLatin1String("listChanged"), true}}},
            {QLatin1String("logging"), QJsonObject{}},
            {QLatin1String("resources"), QJsonObject{{QLatin1String("subscribe"), true}}},
        };
        sendResult(id, {{QLatin1String("protocolVersion"),
                         known.contains(requested) ? requested : QStringLiteral("2025-06-18")},
                        {QLatin1String("capabilities"), capabilities},
                        {QLatin1String("serverInfo"),
                         QJsonObject{{QLatin1String("name"), kServerName},
                                     {QLatin1String("version"), QLatin1String("1.0")}}}});
    } else if (method == QLatin1String("ping")) {
        sendResult(id, {});
    } else if (method == QLatin1String("tools/list")) {
        sendResult(id, {{QLatin1String("tools"), toolList()}});
    } else if (method == QLatin1String("tools/call")) {
        callTool(id, params);
    } else if (method == QLatin1String("logging/setLevel")) {
        m_logLevel = params.value(QLatin1String("level")).toString();
        sendResult(id, {});
    } else if (method == QLatin1String("resources/subscribe")) {
        m_subscriptions.append(params.value(QLatin1String("uri")).toString());
        sendResult(id, {});
    } else if (method == QLatin1String("resources/unsubscribe")) {
        m_subscriptions.removeAll(params.value(QLatin1String("uri")).toString());
        sendResult(id, {});
    } else {
        sendError(id, kMethodNotFound, QStringLiteral("Method not found: ") + method);
    }
}

void TestServer::handleNotification(const QString &method, const QJsonObject &params)
{
    if (method == QLatin1String("notifications/initialized")) {
        ++m_initializedCount;
    } else if (method == QLatin1String("notifications/cancelled")) {
        // MCP 2025-06-18 "Cancellation": the cancelled request gets no response.
        const QJsonValue requestId = params.value(QLatin1String("requestId"));
        m_cancelled.append(requestId);
        const QString key = idKey(requestId);
        if (QTimer *timer = m_slowTimers.take(key)) {
            timer->stop();
            timer->deleteLater();
        }
    }
}

void TestServer::handleClientResponse(const QJsonObject &message)
{
    const auto it = m_sampleWaits.constFind(message.value(QLatin1String("id")).toString());
    if (it == m_sampleWaits.cend()) {
        m_strayResponses.append(message.value(QLatin1String("id")));
        writeAll(STDERR_FILENO, QByteArrayLiteral("fmb-test-mcp-server: response to an unknown request\n"));
        return;
    }
    const QJsonValue requestId = it->requestId;
    m_sampleWaits.erase(it);
    if (message.contains(QLatin1String("error"))) {
        const QString reason =
            message.value(QLatin1String("error")).toObject().value(QLatin1String("message")).toString();
        sendToolText(requestId, QStringLiteral("sampling failed: ") + reason, true);
        return;
    }
    const QJsonObject result = message.value(QLatin1String("result")).toObject();
    sendToolText(requestId, sampledText(result.value(QLatin1String("content"))));
}

void TestServer::callTool(const QJsonValue &id, const QJsonObject &params)
{
    const QString name = params.value(QLatin1String("name")).toString();
    const QJsonObject args = params.value(QLatin1String("arguments")).toObject();
    const QJsonValue progressToken =
        params.value(QLatin1String("_meta")).toObject().value(QLatin1String("progressToken"));

    if (name == QLatin1String("echo")) {
        sendToolText(id, args.value(QLatin1String("text")).toString());
    } else if (name == QLatin1String("slow")) {
        toolSlow(id, args);
    } else if (name == QLatin1String("notify")) {
        toolNotify(id, args, progressToken);
    } else if (name == QLatin1String("sample")) {
        toolSample(id, args);
    } else if (name == QLatin1String("emit")) {
        // Notifications outside any request: what subscriptions/listen streams carry.
        const QJsonArray notifications = args.value(QLatin1String("notifications")).toArray();
        for (const QJsonValue &notification : notifications)
            sendNotification(notification.toObject().value(QLatin1String("method")).toString(),
                             notification.toObject().value(QLatin1String("params")).toObject());
        sendToolText(id, QStringLiteral("emitted %1").arg(notifications.size()));
    } else if (name == QLatin1String("crash")) {
        ::_exit(intArg(args, QLatin1String("code"), 3));
    } else if (name == QLatin1String("env")) {
        QJsonObject values;
        const QJsonArray names = args.value(QLatin1String("names")).toArray();
        for (const QJsonValue &value : names) {
            const QString var = value.toString();
            values.insert(var, qEnvironmentVariableIsSet(var.toLocal8Bit().constData())
                                   ? QJsonValue(qEnvironmentVariable(var.toLocal8Bit().constData()))
                                   : QJsonValue(QJsonValue::Null));
        }
        sendToolText(id, QString::fromUtf8(QJsonDocument(values).toJson(QJsonDocument::Compact)));
    } else if (name == QLatin1String("environ")) {
        QStringList variables;
        for (char **entry = environ; *entry; ++entry)
            variables.append(QString::fromLocal8Bit(*entry).section(QLatin1Char('='), 0, 0));
        variables.sort();
        sendToolText(
            id, QString::fromUtf8(
                    QJsonDocument(QJsonArray::fromStringList(variables)).toJson(QJsonDocument::Compact)));
    } else if (name == QLatin1String("open")) {
        sendToolText(id, openPaths(args));
    } else if (name == QLatin1String("signal")) {
        const int sent =
            ::kill(pid_t(intArg(args, QLatin1String("pid"), 0)), intArg(args, QLatin1String("signal"), 0));
        sendToolText(id, sent == 0 ? QStringLiteral("ok") : QString::fromLatin1(::strerrorname_np(errno)));
    } else if (name == QLatin1String("garbage")) {
        const int count = intArg(args, QLatin1String("count"), 1);
        QByteArray lines;
        for (int i = 0; i < count; ++i)
            lines += QByteArrayLiteral("this is not JSON {{{\n");
        writeAll(STDOUT_FILENO, lines);
        sendToolText(id, QStringLiteral("garbage sent"));
    } else if (name == QLatin1String("huge")) {
        qint64 remaining =
            std::max<qint64>(0, static_cast<qint64>(args.value(QLatin1String("bytes")).toDouble()));
        const QByteArray chunk(65536, 'x');
        while (remaining > 0) {
            const qsizetype n = static_cast<qsizetype>(std::min<qint64>(remaining, chunk.size()));
            writeAll(STDOUT_FILENO, chunk.constData(), n);
            remaining -= n;
        }
        writeAll(STDOUT_FILENO, "\n", 1);
        sendToolText(id, QStringLiteral("huge line sent"));
    } else if (name == QLatin1String("stderr")) {
        QByteArray text = args.value(QLatin1String("text")).toString().toUtf8();
        if (!text.endsWith('\n'))
            text.append('\n');
        const int count = intArg(args, QLatin1String("count"), 1);
        for (int i = 0; i < count; ++i)
            writeAll(STDERR_FILENO, text);
        sendToolText(id, QStringLiteral("wrote %1 lines to stderr").arg(count));
    } else if (name == QLatin1String("state")) {
        sendToolText(id, stateText());
    } else {
        sendError(id, kInvalidParams, QStringLiteral("Unknown tool: ") + name);
    }
}

void TestServer::toolSlow(const QJsonValue &id, const QJsonObject &args)
{
    const int ms = std::max(0, intArg(args, QLatin1String("ms"), 1000));
    const QString text = args.value(QLatin1String("text")).toString(QStringLiteral("slow done"));
    const QString key = idKey(id);
    auto *timer = new QTimer(this);
    timer->setSingleShot(true);
    timer->setInterval(ms);
    m_slowTimers.insert(key, timer);
    connect(timer, &QTimer::timeout, this, [this, id, key, text] {
        if (QTimer *done = m_slowTimers.take(key)) {
            done->deleteLater();
            sendToolText(id, text);
        }
    });
    timer->start();
}

void TestServer::toolNotify(const QJsonValue &id, const QJsonObject &args, const QJsonValue &progressToken)
{
    const int count = std::max(0, intArg(args, QLatin1String("count"), 3));
    const int intervalMs = std::max(0, intArg(args, QLatin1String("intervalMs"), 0));
    // Without a token the progress still goes out (with a token nobody asked for), so tests can
    // see where a gateway routes notifications that belong to no request.
    const QJsonValue token =
        progressToken.isUndefined() ? QJsonValue(QStringLiteral("fmb-test-no-token")) : progressToken;
    notifyStep(id, token, 0, count, intervalMs);
}

void TestServer::notifyStep(const QJsonValue &id, const QJsonValue &progressToken, int sent, int count,
                            int intervalMs)
{
    if (intervalMs == 0) {
        for (; sent < count; ++sent)
            sendNotification(
                QStringLiteral("notifications/progress"),
                {{QLatin1String("progressToken"), progressToken},
                 {QLatin1String("progress"), sent + 1},
                 {QLatin1String("total"), count},
                 {QLatin1String("message"), QStringLiteral("step %1 of %2").arg(sent + 1).arg(count)}});
    } else if (sent < count) {
        QTimer::singleShot(intervalMs, this, [this, id, progressToken, sent, count, intervalMs] {
            sendNotification(
                QStringLiteral("notifications/progress"),
                {{QLatin1String("progressToken"), progressToken},
                 {QLatin1String("progress"), sent + 1},
                 {QLatin1String("total"), count},
                 {QLatin1String("message"), QStringLiteral("step %1 of %2").arg(sent + 1).arg(count)}});
            notifyStep(id, progressToken, sent + 1, count, intervalMs);
        });
        return;
    }
    sendNotification(
        QStringLiteral("notifications/message"),
        {{QLatin1String("level"), QLatin1String("info")},
         {QLatin1String("logger"), kServerName},
         {QLatin1String("data"), QStringLiteral("notify: sent %1 progress notifications").arg(count)}});
    sendToolText(id, QStringLiteral("sent %1 notifications").arg(count));
}

void TestServer::toolSample(const QJsonValue &id, const QJsonObject &args)
{
    const QString serverId = QStringLiteral("srv-%1").arg(m_nextServerRequest++);
    m_sampleWaits.insert(serverId, SampleWait{id});
    const QJsonObject message{
        {QLatin1String("role"), QLatin1String("user")},
        {QLatin1String("content"),
         QJsonObject{
             {QLatin1String("type"), QLatin1String("text")},
             {QLatin1String("text"), args.value(QLatin1String("prompt"))
                                         .toString(QStringLiteral("Hello from fmb-test-mcp-server"))}}},
    };
    send({{QLatin1String("jsonrpc"), QLatin1String("2.0")},
          {QLatin1String("id"), serverId},
          {QLatin1String("method"), QLatin1String("sampling/createMessage")},
          {QLatin1String("params"),
           QJsonObject{{QLatin1String("messages"), QJsonArray{message}},
                       {QLatin1String("maxTokens"), intArg(args, QLatin1String("maxTokens"), 100)}}}});
}

QString TestServer::stateText() const
{
    const QJsonObject state{
        {QLatin1String("pid"), QCoreApplication::applicationPid()},
        {QLatin1String("initializeParams"), m_initializeParams},
        {QLatin1String("initializedCount"), m_initializedCount},
        {QLatin1String("logLevel"),
         m_logLevel.isNull() ? QJsonValue(QJsonValue::Null) : QJsonValue(m_logLevel)},
        {QLatin1String("subscriptions"), QJsonArray::fromStringList(m_subscriptions)},
        {QLatin1String("cancelled"), m_cancelled},
        {QLatin1String("pendingSlow"), m_slowTimers.size()},
        {QLatin1String("strayResponses"), m_strayResponses},
    };
    return QString::fromUtf8(QJsonDocument(state).toJson(QJsonDocument::Compact));
}

void TestServer::sendResult(const QJsonValue &id, const QJsonObject &result)
{
    send({{QLatin1String("jsonrpc"), QLatin1String("2.0")},
          {QLatin1String("id"), id},
          {QLatin1String("result"), result}});
}

void TestServer::sendError(const QJsonValue &id, int code, const QString &message)
{
    send({{QLatin1String("jsonrpc"), QLatin1String("2.0")},
          {QLatin1String("id"), id},
          {QLatin1String("error"),
           QJsonObject{{QLatin1String("code"), code}, {QLatin1String("message"), message}}}});
}

void TestServer::sendToolText(const QJsonValue &id, const QString &text, bool isError)
{
    QJsonObject result{
        {QLatin1String("content"), QJsonArray{QJsonObject{{QLatin1String("type"), QLatin1String("text")},
                                                          {QLatin1String("text"), text}}}}};
    if (isError)
        result.insert(QLatin1String("isError"), true);
    sendResult(id, result);
}

void TestServer::sendNotification(const QString &method, const QJsonObject &params)
{
    send({{QLatin1String("jsonrpc"), QLatin1String("2.0")},
          {QLatin1String("method"), method},
          {QLatin1String("params"), params}});
}

void TestServer::send(const QJsonObject &message)
{
    writeAll(STDOUT_FILENO, QJsonDocument(message).toJson(QJsonDocument::Compact) + '\n');
}

} // namespace fmb::testserver
