#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QObject>
#include <QString>

#include "RequestId.h"
#include "base/Result.h"

// JSON-RPC 2.0 as MCP uses it: classify messages, key their ids, build error
// objects. Pure functions, no I/O.
namespace fmb {

// One Q_NAMESPACE per namespace: each module's meta enums live in a namespace
// of its own, or two static libraries both define its staticMetaObject and the
// linker keeps one (issue 12). The rest of the code names them as fmb::X.
namespace jsonrpc {
Q_NAMESPACE

enum class MessageKind {
    Invalid,
    Request,      // method + id
    Notification, // method, no id
    Response,     // result or error + id
};
Q_ENUM_NS(MessageKind)
} // namespace jsonrpc
using jsonrpc::MessageKind;

namespace JsonRpcError {
constexpr int ParseError = -32700;
constexpr int InvalidRequest = -32600;
constexpr int MethodNotFound = -32601;
constexpr int InvalidParams = -32602;
constexpr int InternalError = -32603;
// Implementation-defined server errors (-32000..-32099).
constexpr int ServerError = -32000;        // generic transport-level failure (SDK convention)
constexpr int BackendExited = -32001;      // the child ended before answering
constexpr int BackendUnavailable = -32002; // the child's input is full or it is gone
constexpr int LimitReached = -32003;       // a per-session cap (subscriptions, pending requests)
// Reserved for the MCP specification (-32020..-32099; 2026-07-28 basic/index, "Error Codes").
constexpr int HeaderMismatch = -32020;                  // HTTP headers missing or not the body's
constexpr int MissingRequiredClientCapability = -32021; // data.requiredCapabilities
constexpr int UnsupportedProtocolVersion = -32022;      // data.supported, data.requested
} // namespace JsonRpcError

struct JsonRpcMessage {
    MessageKind kind = MessageKind::Invalid;
    QJsonObject object;
    QJsonValue id;       // Request and Response
    RequestId requestId; // id as a map key; null for a response with id null
    QString method;      // Request and Notification
    QJsonValue progressToken =
        QJsonValue(QJsonValue::Undefined); // params._meta.progressToken of a request, params.progressToken of
                                           // a notifications/progress; Undefined when absent
    QString invalidReason;                 // why kind is Invalid
    QByteArray raw;                        // the original bytes as one line, when they were at hand

    // The message as one line of compact JSON (no newline), ready for stdio framing.
    [[nodiscard]] QByteArray line() const;
};

// Decides what a JSON object is. Never fails: malformed objects come back as Invalid.
[[nodiscard]] JsonRpcMessage classify(const QJsonObject &object);

// Parses one line of child output. A line that is not a JSON object is Invalid.
[[nodiscard]] JsonRpcMessage parseLine(QByteArrayView line);

// What one POST body may hold (issue 11: a client must not make the broker
// keep or work through unbounded state). A batch's messages are handled in one
// go on the event loop, and ids and progress tokens are kept as map keys for
// as long as their request is pending.
constexpr int DefaultMaxBatchMessages = 1000;
constexpr int MaxIdLength = 1024; // characters of a string id or progress token

struct ParsedBody {
    QList<JsonRpcMessage> messages;
    bool batch = false;
};

// Why a POST body is refused: its JSON-RPC error code and a message for people.
struct BodyError {
    int code = JsonRpcError::ParseError; // ParseError or InvalidRequest
    QString message;
};

// Parses an HTTP POST body: one message or a batch (2025-03-26). Fails with
// ParseError (not JSON) or InvalidRequest (not a JSON-RPC message / empty
// batch / a batch of more than maxBatchMessages / an id or progress token
// longer than MaxIdLength).
[[nodiscard]] Result<ParsedBody, BodyError> parseBody(QByteArrayView body,
                                                      int maxBatchMessages = DefaultMaxBatchMessages);

[[nodiscard]] QJsonObject makeErrorResponse(const QJsonValue &id, int code, const QString &message);
// The same with the error's `data` member; an Undefined `data` leaves it out.
[[nodiscard]] QJsonObject makeErrorResponse(const QJsonValue &id, int code, const QString &message,
                                            const QJsonValue &data);
[[nodiscard]] QByteArray encode(const QJsonObject &object);

} // namespace fmb
