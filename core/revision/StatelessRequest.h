#pragma once

#include <optional>

#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QObject>
#include <QString>
#include <QStringList>

#include "base/Result.h"
#include "jsonrpc/JsonRpc.h"

// MCP revision 2026-07-28 on Streamable HTTP: no initialize, no session; every
// request carries its revision and the client's capabilities in
// params._meta and mirrors method and name into headers. This tells such a
// POST from the session revisions and validates it in the order the revision
// gives (basic/transports/streamable-http "Server Validation", basic/index
// "_meta", basic/versioning). Pure functions, no I/O.
namespace fmb {

namespace revision {
Q_NAMESPACE

// Why a 2026-07-28 request is refused; each has its JSON-RPC code.
enum class StatelessFailureKind {
    InvalidRequest,     // -32600: not one JSON-RPC request (a batch, a notification, a response)
    UnsupportedVersion, // -32022: the revision is not served here; data.supported, data.requested
    HeaderMismatch,     // -32020: MCP-Protocol-Version, Mcp-Method or Mcp-Name missing, malformed or
                        //         not what the body says
    InvalidMeta,        // -32602: params._meta lacks protocolVersion or clientCapabilities
    MethodNotFound,     // -32601: removed in 2026-07-28, or unknown
};
Q_ENUM_NS(StatelessFailureKind)
} // namespace revision
using revision::StatelessFailureKind;

// The JSON-RPC error code of each kind (2026-07-28 basic/index, "Error Codes").
[[nodiscard]] int rpcCodeOf(StatelessFailureKind kind);

namespace McpRevision {
// The first revision without sessions, and the only one this validator knows.
inline const QString Stateless = QStringLiteral("2026-07-28");
// The session revisions the endpoint serves (initialize, Mcp-Session-Id), newest first.
[[nodiscard]] const QStringList &sessionRevisions();
[[nodiscard]] bool isSessionRevision(QByteArrayView version);
} // namespace McpRevision

namespace McpMeta {
inline const QString ProtocolVersion = QStringLiteral("io.modelcontextprotocol/protocolVersion");
inline const QString ClientCapabilities = QStringLiteral("io.modelcontextprotocol/clientCapabilities");
inline const QString ClientInfo = QStringLiteral("io.modelcontextprotocol/clientInfo");
} // namespace McpMeta

// The request headers that 2026-07-28 mirrors from the body, as received
// (empty when absent).
struct StatelessHeaders {
    QByteArray protocolVersion; // MCP-Protocol-Version
    QByteArray method;          // Mcp-Method
    QByteArray name;            // Mcp-Name, plain or =?base64?...?=
};

// A validated 2026-07-28 request.
struct StatelessRequest {
    QString method;
    QString name; // params.name (tools/call, prompts/get) or params.uri (resources/read); else empty
    QJsonValue id;
    RequestId requestId;
    QString protocolVersion;
    QJsonObject clientCapabilities;
    QJsonObject clientInfo; // empty when the client did not say
    QJsonObject meta;       // params._meta as sent
    QJsonObject params;
};

struct StatelessFailure {
    StatelessFailureKind kind = StatelessFailureKind::InvalidRequest;
    int code = JsonRpcError::InvalidRequest;
    QString message;
    QJsonValue data = QJsonValue(QJsonValue::Undefined); // the error's data member, when it has one
    QJsonValue id;                                       // the request's id; null when it has none
};

// True when a POST is a 2026-07-28 request rather than one of a session:
// without Mcp-Session-Id, one of its requests carries the protocol version
// in params._meta or its MCP-Protocol-Version header names 2026-07-28.
// initialize always starts a session.
[[nodiscard]] bool isStatelessPost(const StatelessHeaders &headers, bool hasSessionId,
                                   const QList<JsonRpcMessage> &messages);

// Validates a 2026-07-28 POST. `supported` is every revision the endpoint
// serves, as the unsupported-version error lists it.
[[nodiscard]] Result<StatelessRequest, StatelessFailure>
parseStatelessRequest(const StatelessHeaders &headers, const ParsedBody &body, const QStringList &supported);

// The unsupported-version failure (-32022) for `requested`, listing `supported`.
[[nodiscard]] StatelessFailure unsupportedVersion(const QString &requested, const QStringList &supported,
                                                  const QJsonValue &id, const QString &message);

// A header value of Mcp-Name or Mcp-Param-*: plain visible ASCII, or the
// Base64 sentinel form =?base64?<UTF-8 in Base64>?=. Nothing when malformed.
[[nodiscard]] std::optional<QString> decodeMirroredHeader(QByteArrayView value);

} // namespace fmb
