#pragma once

#include <QJsonObject>
#include <QJsonValue>
#include <QString>
#include <QStringList>

#include "StatelessRequest.h"

// How a 2026-07-28 request reaches a session-revision child (the per-user
// child the broker initialized itself, issue 13) and how the child's answer
// goes back: ids and progress tokens swapped for broker-owned ones and back,
// the reserved _meta keys removed on the way in, the result shaped as
// 2026-07-28 wants it (basic/index "resultType", "Caching"; server/discover).
// Pure functions, no I/O.
namespace fmb::StatelessTranslation {

// The broker's own _meta keys (io.modelcontextprotocol/...) are the
// revision's, not the server's: removed. Anything else (W3C traceparent,
// tracestate, baggage, a client's own keys) passes through.
inline const QString ReservedMetaPrefix = QStringLiteral("io.modelcontextprotocol/");
inline const QString ServerInfoMeta = QStringLiteral("io.modelcontextprotocol/serverInfo");

// Whether a 2026-07-28 method is answered by the user child (everything but
// server/discover and subscriptions/listen, which the broker answers).
[[nodiscard]] bool isForwarded(const QString &method);

// Whether its result carries ttlMs and cacheScope (2026-07-28 "Caching").
[[nodiscard]] bool isCacheable(const QString &method);

// The session-revision request for the child: id `brokerId`, the client's
// params with reserved _meta keys removed and progressToken replaced by
// `progressToken` when the client sent one (Undefined: leave none).
[[nodiscard]] QJsonObject childRequest(const StatelessRequest &request, const QJsonValue &brokerId,
                                       const QJsonValue &progressToken);

// The child's response made the client's: its id, resultType "complete",
// ttlMs/cacheScope on cacheable results (0 and "private": a per-user child's
// answers are never shared), the server's info in _meta; error codes
// 2026-07-28 no longer uses mapped (-32002 resource not found: -32602).
[[nodiscard]] QJsonObject clientResponse(const QString &method, const QJsonObject &response,
                                         const QJsonValue &clientId, const QJsonObject &serverInfo);

// A notifications/progress of the child with the client's token in place of the broker's.
[[nodiscard]] QJsonObject clientProgress(const QJsonObject &notification, const QJsonValue &clientToken);

// The result of server/discover from the child's initialize result:
// `supported` revisions, capabilities less what 2026-07-28 moved out (tasks),
// instructions, serverInfo in _meta.
[[nodiscard]] QJsonObject discoverResult(const QJsonObject &initializeResult, const QStringList &supported);

// Multi round-trip requests (basic/patterns/mrtr): the only methods whose
// result may be input_required.
[[nodiscard]] bool allowsInputRequired(const QString &method);

// The client capabilities a server->client request needs to be sent as an
// input request ({"sampling":{}}, {"elicitation":{"form":{}}} or "url",
// {"roots":{}}); empty for a method that is no input request.
[[nodiscard]] QJsonObject requiredCapabilities(const QJsonObject &serverRequest);

// What of `required` the client's `declared` capabilities lack, in the
// ClientCapabilities shape of the -32021 error's data.requiredCapabilities;
// empty when nothing lacks. A bare "elicitation":{} counts as form mode.
[[nodiscard]] QJsonObject missingCapabilities(const QJsonObject &required, const QJsonObject &declared);

// The input request of a server->client request: its method and params.
[[nodiscard]] QJsonObject inputRequest(const QJsonObject &serverRequest);

// The client's answer asking for input: resultType "input_required",
// `inputRequests` (key -> input request) and `requestState`.
[[nodiscard]] QJsonObject inputRequiredResponse(const QJsonValue &clientId, const QJsonObject &inputRequests,
                                                const QString &requestState);

} // namespace fmb::StatelessTranslation
