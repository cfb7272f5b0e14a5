#include "StatelessTranslation.h"

#include <algorithm>
#include <initializer_list>

#include <QJsonArray>

#include "jsonrpc/JsonRpc.h"

namespace fmb::StatelessTranslation {
namespace {

const QString MetaKey = QStringLiteral("_meta");
const QString ProgressTokenKey = QStringLiteral("progressToken");

// The 2025 resource-not-found code; 2026-07-28 answers a missing resource
// with -32602 and data.uri (server/resources, "Error Handling").
constexpr int LegacyResourceNotFound = -32002;

QJsonObject withServerInfo(QJsonObject result, const QJsonObject &serverInfo)
{
    if (serverInfo.isEmpty())
        return result;
    const QJsonValue metaValue = result.value(MetaKey);
    if (!metaValue.isUndefined() && !metaValue.isObject())
        return result; // the server's own (malformed) _meta is not ours to rewrite
    QJsonObject meta = metaValue.toObject();
    if (!meta.contains(ServerInfoMeta))
        meta.insert(ServerInfoMeta, serverInfo);
    result.insert(MetaKey, meta);
    return result;
}

QJsonObject clientError(QJsonObject error)
{
    if (error.value(QLatin1String("code")).toInt() != LegacyResourceNotFound)
        return error;
    // -32002 is the broker's own "backend unavailable" too; only one with a
    // uri is a missing resource.
    const bool resource = error.value(QLatin1String("data")).toObject().contains(QLatin1String("uri"));
    error.insert(QStringLiteral("code"),
                 resource ? JsonRpcError::InvalidParams : JsonRpcError::InternalError);
    return error;
}

// Only what a 2026-07-28 server may declare (schema.ts ServerCapabilities:
// tasks moved to an extension). listChanged and subscribe stay: the broker
// delivers them on subscriptions/listen streams; logging stays: it honours
// per-request logLevel (issue 13 point 6, ListenHub).
QJsonObject discoverCapabilities(const QJsonObject &capabilities)
{
    QJsonObject out;
    for (const QLatin1String keep :
         {QLatin1String("experimental"), QLatin1String("completions"), QLatin1String("extensions"),
          QLatin1String("logging"), QLatin1String("prompts"), QLatin1String("resources"),
          QLatin1String("tools")}) {
        if (capabilities.contains(keep))
            out.insert(keep, capabilities.value(keep));
    }
    return out;
}

bool isOneOf(const QString &method, std::initializer_list<const char *> names)
{
    return std::any_of(names.begin(), names.end(),
                       [&method](const char *name) { return method == QLatin1String(name); });
}

} // namespace

bool isForwarded(const QString &method)
{
    return isOneOf(method, {"tools/list", "tools/call", "resources/list", "resources/templates/list",
                            "resources/read", "prompts/list", "prompts/get", "completion/complete"});
}

bool isCacheable(const QString &method)
{
    return isOneOf(method, {"tools/list", "prompts/list", "resources/list", "resources/templates/list",
                            "resources/read", "server/discover"});
}

QJsonObject childRequest(const StatelessRequest &request, const QJsonValue &brokerId,
                         const QJsonValue &progressToken)
{
    QJsonObject meta;
    for (auto it = request.meta.constBegin(); it != request.meta.constEnd(); ++it) {
        if (!it.key().startsWith(ReservedMetaPrefix) && it.key() != ProgressTokenKey)
            meta.insert(it.key(), it.value());
    }
    if (!progressToken.isUndefined())
        meta.insert(ProgressTokenKey, progressToken);
    QJsonObject params = request.params;
    // The retry channel of multi round-trip requests is the broker's (mrtr).
    params.remove(QStringLiteral("inputResponses"));
    params.remove(QStringLiteral("requestState"));
    if (meta.isEmpty())
        params.remove(MetaKey);
    else
        params.insert(MetaKey, meta);
    QJsonObject out{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                    {QStringLiteral("id"), brokerId},
                    {QStringLiteral("method"), request.method}};
    if (!params.isEmpty())
        out.insert(QStringLiteral("params"), params);
    return out;
}

QJsonObject clientResponse(const QString &method, const QJsonObject &response, const QJsonValue &clientId,
                           const QJsonObject &serverInfo)
{
    QJsonObject out{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")}, {QStringLiteral("id"), clientId}};
    if (response.contains(QLatin1String("error"))) {
        out.insert(QStringLiteral("error"), clientError(response.value(QLatin1String("error")).toObject()));
        return out;
    }
    QJsonObject result = response.value(QLatin1String("result")).toObject();
    if (!result.contains(QLatin1String("resultType")))
        result.insert(QStringLiteral("resultType"), QStringLiteral("complete"));
    if (isCacheable(method)) {
        const QJsonValue ttl = result.value(QLatin1String("ttlMs"));
        if (!ttl.isDouble() || ttl.toDouble() < 0)
            result.insert(QStringLiteral("ttlMs"), 0);
        const QString scope = result.value(QLatin1String("cacheScope")).toString();
        if (scope != QLatin1String("public") && scope != QLatin1String("private"))
            result.insert(QStringLiteral("cacheScope"), QStringLiteral("private"));
    }
    out.insert(QStringLiteral("result"), withServerInfo(result, serverInfo));
    return out;
}

QJsonObject clientProgress(const QJsonObject &notification, const QJsonValue &clientToken)
{
    QJsonObject out = notification;
    QJsonObject params = out.value(QLatin1String("params")).toObject();
    params.insert(ProgressTokenKey, clientToken);
    out.insert(QStringLiteral("params"), params);
    return out;
}

QJsonObject discoverResult(const QJsonObject &initializeResult, const QStringList &supported)
{
    QJsonObject result{
        {QStringLiteral("supportedVersions"), QJsonArray::fromStringList(supported)},
        {QStringLiteral("capabilities"),
         discoverCapabilities(initializeResult.value(QLatin1String("capabilities")).toObject())},
        {QStringLiteral("resultType"), QStringLiteral("complete")},
        {QStringLiteral("ttlMs"), 0},
        {QStringLiteral("cacheScope"), QStringLiteral("private")},
    };
    const QJsonValue instructions = initializeResult.value(QLatin1String("instructions"));
    if (instructions.isString())
        result.insert(QStringLiteral("instructions"), instructions);
    return withServerInfo(result, initializeResult.value(QLatin1String("serverInfo")).toObject());
}

bool allowsInputRequired(const QString &method)
{
    return method == QLatin1String("tools/call") || method == QLatin1String("resources/read") ||
           method == QLatin1String("prompts/get");
}

QJsonObject requiredCapabilities(const QJsonObject &serverRequest)
{
    const QString method = serverRequest.value(QLatin1String("method")).toString();
    const QJsonObject params = serverRequest.value(QLatin1String("params")).toObject();
    if (method == QLatin1String("sampling/createMessage")) {
        // Tool use in sampling is its own sub-capability (2025-11-25 client/sampling).
        const bool tools =
            params.contains(QLatin1String("tools")) || params.contains(QLatin1String("toolChoice"));
        return {{QStringLiteral("sampling"),
                 tools ? QJsonObject{{QStringLiteral("tools"), QJsonObject()}} : QJsonObject()}};
    }
    if (method == QLatin1String("elicitation/create")) {
        const QString mode = params.value(QLatin1String("mode")).toString(QStringLiteral("form"));
        return {{QStringLiteral("elicitation"),
                 QJsonObject{{mode == QLatin1String("url") ? QStringLiteral("url") : QStringLiteral("form"),
                              QJsonObject()}}}};
    }
    if (method == QLatin1String("roots/list"))
        return {{QStringLiteral("roots"), QJsonObject()}};
    return {};
}

QJsonObject missingCapabilities(const QJsonObject &required, const QJsonObject &declared)
{
    QJsonObject missing;
    for (auto it = required.constBegin(); it != required.constEnd(); ++it) {
        const QJsonValue has = declared.value(it.key());
        if (!has.isObject()) {
            missing.insert(it.key(), it.value());
            continue;
        }
        const QJsonObject members = it.value().toObject();
        const QJsonObject declaredMembers = has.toObject();
        QJsonObject lacking;
        for (auto member = members.constBegin(); member != members.constEnd(); ++member) {
            // A bare elicitation capability predates modes and means form (2025-11-25 client/elicitation).
            const bool implied = it.key() == QLatin1String("elicitation") &&
                                 member.key() == QLatin1String("form") && declaredMembers.isEmpty();
            if (!declaredMembers.contains(member.key()) && !implied)
                lacking.insert(member.key(), member.value());
        }
        if (!lacking.isEmpty())
            missing.insert(it.key(), lacking);
    }
    return missing;
}

QJsonObject inputRequest(const QJsonObject &serverRequest)
{
    QJsonObject out{{QStringLiteral("method"), serverRequest.value(QLatin1String("method"))}};
    if (serverRequest.contains(QLatin1String("params")))
        out.insert(QStringLiteral("params"), serverRequest.value(QLatin1String("params")));
    return out;
}

QJsonObject inputRequiredResponse(const QJsonValue &clientId, const QJsonObject &inputRequests,
                                  const QString &requestState)
{
    return {{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
            {QStringLiteral("id"), clientId},
            {QStringLiteral("result"),
             QJsonObject{{QStringLiteral("resultType"), QStringLiteral("input_required")},
                         {QStringLiteral("inputRequests"), inputRequests},
                         {QStringLiteral("requestState"), requestState}}}};
}

} // namespace fmb::StatelessTranslation
