#pragma once

#include <optional>

#include <QByteArray>

#include "http/HttpHeaders.h"
#include "http/HttpRoutes.h"
#include "jsonrpc/JsonRpc.h"
#include "revision/StatelessRequest.h"
#include "session/Session.h"
#include "session/StreamSink.h"

namespace fmb {

// Every way a request to /mcp can fail, each its own kind: the one table
// below maps each to its HTTP status, the JSON-RPC code of the error body and
// the header it must carry (ARCHITECTURE.md, "Status codes"). Core says what
// happened; only this table says how it looks on the wire.
enum class McpFailure {
    HostRefused,                // 403: DNS rebinding protection
    OriginRefused,              // 403
    Unauthenticated,            // 401 + WWW-Authenticate
    CredentialsMisplaced,       // 400 (+ WWW-Authenticate): e.g. a token in the query string
    AuthenticationUnavailable,  // 503 + Retry-After: the check itself failed (the token store)
    CallerForbidden,            // 403: the caller may not use /mcp
    MethodNotAllowed,           // 405 + Allow
    NotAcceptable,              // 406
    UnsupportedMediaType,       // 415
    PayloadTooLarge,            // 413
    ParseError,                 // 400, -32700: the body is not JSON
    InvalidRequest,             // 400, -32600: not JSON-RPC, or initialize misplaced
    DuplicateRequestId,         // 400, -32600: a POST reuses an id still pending
    UnsupportedProtocolVersion, // 400, -32022 + data.supported/requested: a revision not served here
    HeaderMismatch,             // 400, -32020: 2026-07-28 mirrored headers missing or not the body's
    InvalidRequestMeta,         // 400, -32602: 2026-07-28 _meta without its required fields
    UnknownMethod,              // 404, -32601: 2026-07-28 method removed or unknown
    MissingSessionId,           // 400
    UnknownSession,             // 404: the spec's signal to initialize again
    ForeignSession,             // 403: the session is another owner's
    StreamAlreadyOpen,          // 409: a second GET stream
    SessionCapReached,          // 503 + Retry-After
    InitializeFailed,           // 502: the backend could not start or answer initialize
    InitializeUnavailable,      // 503 + Retry-After: the backend could not start for now (the token store)
};

// The header a failure's answer adds; its value comes from the request
// (the challenge) or the configuration (Retry-After).
enum class FailureHeader { None, Challenge, RetryAfter, Allow };

struct FailureStatus {
    int status = 500;
    int rpcCode = JsonRpcError::ServerError;
    FailureHeader header = FailureHeader::None;
};

namespace StatusTable {

[[nodiscard]] FailureStatus of(McpFailure failure);
// The kind of an authenticator's refusal.
[[nodiscard]] McpFailure failureOf(const AuthFailure &failure);
// The kind of a refused POST body.
[[nodiscard]] McpFailure failureOf(const BodyError &error);
// The kind of a refused 2026-07-28 request.
[[nodiscard]] McpFailure failureOf(StatelessFailureKind kind);
// The kind of a session's refusal of a POST or GET.
[[nodiscard]] McpFailure failureOf(const SessionRefusal &refusal);
// What a session's JSON answer reports; none for an answer.
[[nodiscard]] std::optional<McpFailure> failureOf(AnswerKind kind);
// The status of a session's JSON answer.
[[nodiscard]] int statusOf(AnswerKind kind);
// The methods /mcp answers (Allow, Access-Control-Allow-Methods).
[[nodiscard]] QByteArray allowedMethods();

} // namespace StatusTable
} // namespace fmb
