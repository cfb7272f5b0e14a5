#include "StatelessRequest.h"

#include <QJsonArray>
#include <QStringDecoder>

namespace fmb {
namespace {

// 2026-07-28 server/index and schema.ts (ClientRequest): what a client may ask.
bool isStatelessMethod(const QString &method)
{
    static const QLatin1String methods[] = {
        QLatin1String("server/discover"), QLatin1String("completion/complete"),
        QLatin1String("prompts/get"),     QLatin1String("prompts/list"),
        QLatin1String("resources/list"),  QLatin1String("resources/templates/list"),
        QLatin1String("resources/read"),  QLatin1String("subscriptions/listen"),
        QLatin1String("tools/call"),      QLatin1String("tools/list"),
    };
    for (QLatin1String known : methods) {
        if (method == known)
            return true;
    }
    return false;
}

// Client requests of the session revisions that 2026-07-28 removed
// (changelog: the handshake, ping, logging/setLevel, resources/(un)subscribe;
// tasks moved to an extension this endpoint does not offer).
bool isRemovedMethod(const QString &method)
{
    static const QLatin1String removed[] = {
        QLatin1String("initialize"),
        QLatin1String("ping"),
        QLatin1String("logging/setLevel"),
        QLatin1String("resources/subscribe"),
        QLatin1String("resources/unsubscribe"),
    };
    for (QLatin1String name : removed) {
        if (method == name)
            return true;
    }
    return method.startsWith(QLatin1String("tasks/"));
}

// The body field that Mcp-Name mirrors, for the methods that need it.
QLatin1String nameField(const QString &method)
{
    if (method == QLatin1String("tools/call") || method == QLatin1String("prompts/get"))
        return QLatin1String("name");
    if (method == QLatin1String("resources/read"))
        return QLatin1String("uri");
    return {};
}

StatelessFailure failure(StatelessFailureKind kind, const QJsonValue &id, const QString &message)
{
    StatelessFailure result;
    result.kind = kind;
    result.code = rpcCodeOf(kind);
    result.message = message;
    result.id = id.isUndefined() ? QJsonValue(QJsonValue::Null) : id;
    return result;
}

StatelessFailure mismatch(const QJsonValue &id, const QString &detail)
{
    return failure(StatelessFailureKind::HeaderMismatch, id, QLatin1String("Header mismatch: ") + detail);
}

StatelessFailure invalidMeta(const QJsonValue &id, const QString &detail)
{
    return failure(StatelessFailureKind::InvalidMeta, id, QLatin1String("Invalid params: ") + detail);
}

// A header value as a message quotes it: printable ASCII only, cut short.
QString quotedBytes(QByteArrayView value)
{
    QString text;
    for (char c : value.first(std::min<qsizetype>(value.size(), 80)))
        text.append(c >= 0x20 && c < 0x7f ? QChar::fromLatin1(c) : QChar(u'?'));
    return QLatin1Char('\'') + text + (value.size() > 80 ? QLatin1String("...'") : QLatin1String("'"));
}

QString quoted(const QString &value)
{
    return quotedBytes(value.toUtf8());
}

// The header checks (streamable-http "Server Validation"): each mirrored
// header is present and says what the body says.
std::optional<StatelessFailure> checkHeaders(const StatelessHeaders &headers, const JsonRpcMessage &message,
                                             const QJsonObject &params, const QJsonValue &version)
{
    const QJsonValue &id = message.id;
    if (headers.protocolVersion.isEmpty())
        return mismatch(id, QStringLiteral("the MCP-Protocol-Version header is required"));
    if (version.isString() && version.toString().toUtf8() != headers.protocolVersion)
        return mismatch(id,
                        QStringLiteral("MCP-Protocol-Version header value %1 does not match body value %2")
                            .arg(quotedBytes(headers.protocolVersion), quoted(version.toString())));
    if (headers.method.isEmpty())
        return mismatch(id, QStringLiteral("the Mcp-Method header is required"));
    if (headers.method != message.method.toUtf8())
        return mismatch(id, QStringLiteral("Mcp-Method header value %1 does not match body value %2")
                                .arg(quotedBytes(headers.method), quoted(message.method)));
    const QLatin1String field = nameField(message.method);
    if (field.isEmpty())
        return std::nullopt;
    const QJsonValue bodyName = params.value(field);
    if (headers.name.isEmpty()) {
        // No name in the body either: the child answers the missing parameter.
        if (!bodyName.isString())
            return std::nullopt;
        return mismatch(id, QStringLiteral("the Mcp-Name header is required for %1").arg(message.method));
    }
    const std::optional<QString> name = decodeMirroredHeader(headers.name);
    if (!name)
        return mismatch(
            id, QStringLiteral("Mcp-Name header value %1 is malformed").arg(quotedBytes(headers.name)));
    if (!bodyName.isString() || *name != bodyName.toString())
        return mismatch(id, QStringLiteral("Mcp-Name header value %1 does not match body value %2")
                                .arg(quoted(*name), bodyName.isString() ? quoted(bodyName.toString())
                                                                        : QStringLiteral("(none)")));
    return std::nullopt;
}

} // namespace

int rpcCodeOf(StatelessFailureKind kind)
{
    switch (kind) {
    case StatelessFailureKind::InvalidRequest:
        return JsonRpcError::InvalidRequest;
    case StatelessFailureKind::UnsupportedVersion:
        return JsonRpcError::UnsupportedProtocolVersion;
    case StatelessFailureKind::HeaderMismatch:
        return JsonRpcError::HeaderMismatch;
    case StatelessFailureKind::InvalidMeta:
        return JsonRpcError::InvalidParams;
    case StatelessFailureKind::MethodNotFound:
        return JsonRpcError::MethodNotFound;
    }
    return JsonRpcError::InternalError;
}

namespace McpRevision {

const QStringList &sessionRevisions()
{
    static const QStringList revisions{QStringLiteral("2025-11-25"), QStringLiteral("2025-06-18"),
                                       QStringLiteral("2025-03-26"), QStringLiteral("2024-11-05")};
    return revisions;
}

bool isSessionRevision(QByteArrayView version)
{
    for (const QString &revision : sessionRevisions()) {
        if (QLatin1String(version) == revision)
            return true;
    }
    return false;
}

} // namespace McpRevision

bool isStatelessPost(const StatelessHeaders &headers, bool hasSessionId,
                     const QList<JsonRpcMessage> &messages)
{
    if (hasSessionId)
        return false;
    bool claimed = false;
    for (const JsonRpcMessage &message : messages) {
        if (message.kind == MessageKind::Request && message.method == QLatin1String("initialize"))
            return false;
        const QJsonObject meta =
            message.object.value(QLatin1String("params")).toObject().value(QLatin1String("_meta")).toObject();
        claimed = claimed || meta.contains(McpMeta::ProtocolVersion);
    }
    return claimed || QLatin1String(headers.protocolVersion) == McpRevision::Stateless;
}

Result<StatelessRequest, StatelessFailure>
parseStatelessRequest(const StatelessHeaders &headers, const ParsedBody &body, const QStringList &supported)
{
    if (body.batch || body.messages.size() != 1)
        return failure(StatelessFailureKind::InvalidRequest, QJsonValue(),
                       QStringLiteral("Invalid Request: a 2026-07-28 POST carries one JSON-RPC request, "
                                      "not a batch"));
    const JsonRpcMessage &message = body.messages.constFirst();
    if (message.kind != MessageKind::Request)
        return failure(StatelessFailureKind::InvalidRequest, QJsonValue(),
                       message.kind == MessageKind::Notification
                           ? QStringLiteral("Invalid Request: 2026-07-28 defines no client notifications "
                                            "on Streamable HTTP")
                           : QStringLiteral("Invalid Request: a 2026-07-28 client sends no responses"));
    const QJsonValue &id = message.id;
    const QJsonValue paramsValue = message.object.value(QLatin1String("params"));
    const QJsonObject params = paramsValue.toObject();
    const QJsonValue metaValue = params.value(QLatin1String("_meta"));
    const QJsonObject meta = metaValue.toObject();
    const QJsonValue version = meta.value(McpMeta::ProtocolVersion);

    // 1. The revision: the body's claim, else the header's.
    const QString requested =
        version.isString() ? version.toString() : QString::fromUtf8(headers.protocolVersion);
    if (!requested.isEmpty() && requested != McpRevision::Stateless) {
        const QString why = McpRevision::isSessionRevision(requested.toUtf8())
                                ? QStringLiteral("Unsupported protocol version: %1 is served only in a "
                                                 "session (send initialize without _meta)")
                                : QStringLiteral("Unsupported protocol version: %1");
        return unsupportedVersion(requested, supported, id, why.arg(quoted(requested)));
    }
    // 2. The mirrored headers.
    if (std::optional<StatelessFailure> refused = checkHeaders(headers, message, params, version))
        return *refused;
    // 3. The per-request fields _meta must carry.
    if (!paramsValue.isUndefined() && !paramsValue.isObject())
        return invalidMeta(id, QStringLiteral("params must be an object"));
    if (!metaValue.isObject())
        return invalidMeta(id, QStringLiteral("params._meta is required in 2026-07-28"));
    if (!version.isString())
        return invalidMeta(id,
                           QStringLiteral("params._meta needs %1 as a string").arg(McpMeta::ProtocolVersion));
    const QJsonValue capabilities = meta.value(McpMeta::ClientCapabilities);
    if (!capabilities.isObject())
        return invalidMeta(
            id, QStringLiteral("params._meta needs %1 as an object").arg(McpMeta::ClientCapabilities));
    // 4. The method.
    if (!isStatelessMethod(message.method))
        return failure(
            StatelessFailureKind::MethodNotFound, id,
            isRemovedMethod(message.method)
                ? QStringLiteral("Method not found: %1 was removed in 2026-07-28").arg(message.method)
                : QStringLiteral("Method not found: %1").arg(message.method));

    StatelessRequest request;
    request.method = message.method;
    const QLatin1String field = nameField(message.method);
    if (!field.isEmpty())
        request.name = params.value(field).toString();
    request.id = id;
    request.requestId = message.requestId;
    request.protocolVersion = version.toString();
    request.clientCapabilities = capabilities.toObject();
    request.clientInfo = meta.value(McpMeta::ClientInfo).toObject();
    request.meta = meta;
    request.params = params;
    return request;
}

StatelessFailure unsupportedVersion(const QString &requested, const QStringList &supported,
                                    const QJsonValue &id, const QString &message)
{
    StatelessFailure refused = failure(StatelessFailureKind::UnsupportedVersion, id, message);
    refused.data = QJsonObject{{QStringLiteral("supported"), QJsonArray::fromStringList(supported)},
                               {QStringLiteral("requested"), requested}};
    return refused;
}

std::optional<QString> decodeMirroredHeader(QByteArrayView value)
{
    static constexpr QByteArrayView prefix = "=?base64?";
    static constexpr QByteArrayView suffix = "?=";
    if (value.size() >= prefix.size() + suffix.size() && value.startsWith(prefix) && value.endsWith(suffix)) {
        const QByteArrayView encoded =
            value.sliced(prefix.size(), value.size() - prefix.size() - suffix.size());
        const QByteArray::FromBase64Result decoded =
            QByteArray::fromBase64Encoding(encoded.toByteArray(), QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded)
            return std::nullopt;
        QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
        QString text = utf8(*decoded);
        if (utf8.hasError())
            return std::nullopt;
        return text;
    }
    // A plain value: visible ASCII and space or tab inside (RFC 9110 §5.5);
    // leading or trailing white space would have been stripped, so a client
    // must have encoded it.
    if (value.isEmpty() || value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
        value.back() == '\t')
        return std::nullopt;
    for (char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte != '\t' && (byte < 0x20 || byte > 0x7e))
            return std::nullopt;
    }
    return QString::fromLatin1(value);
}

} // namespace fmb
