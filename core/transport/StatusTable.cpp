#include "StatusTable.h"

namespace fmb::StatusTable {

FailureStatus of(McpFailure failure)
{
    constexpr int Server = JsonRpcError::ServerError;
    switch (failure) {
    case McpFailure::HostRefused:
    case McpFailure::OriginRefused:
    case McpFailure::CallerForbidden:
    case McpFailure::ForeignSession:
        return {403, Server, FailureHeader::None};
    case McpFailure::Unauthenticated:
        return {401, Server, FailureHeader::Challenge};
    case McpFailure::CredentialsMisplaced:
        return {400, Server, FailureHeader::Challenge};
    case McpFailure::AuthenticationUnavailable:
    case McpFailure::SessionCapReached:
    case McpFailure::InitializeUnavailable:
        return {503, Server, FailureHeader::RetryAfter};
    case McpFailure::MethodNotAllowed:
        return {405, Server, FailureHeader::Allow};
    case McpFailure::NotAcceptable:
        return {406, Server, FailureHeader::None};
    case McpFailure::UnsupportedMediaType:
        return {415, Server, FailureHeader::None};
    case McpFailure::PayloadTooLarge:
        return {413, Server, FailureHeader::None};
    case McpFailure::ParseError:
        return {400, JsonRpcError::ParseError, FailureHeader::None};
    case McpFailure::InvalidRequest:
    case McpFailure::DuplicateRequestId:
        return {400, JsonRpcError::InvalidRequest, FailureHeader::None};
    case McpFailure::UnsupportedProtocolVersion:
        return {400, JsonRpcError::UnsupportedProtocolVersion, FailureHeader::None};
    case McpFailure::HeaderMismatch:
        return {400, JsonRpcError::HeaderMismatch, FailureHeader::None};
    case McpFailure::InvalidRequestMeta:
        return {400, JsonRpcError::InvalidParams, FailureHeader::None};
    case McpFailure::UnknownMethod:
        return {404, JsonRpcError::MethodNotFound, FailureHeader::None};
    case McpFailure::MissingSessionId:
        return {400, Server, FailureHeader::None};
    case McpFailure::UnknownSession:
        return {404, Server, FailureHeader::None};
    case McpFailure::StreamAlreadyOpen:
        return {409, Server, FailureHeader::None};
    case McpFailure::InitializeFailed:
        return {502, Server, FailureHeader::None};
    }
    return {};
}

McpFailure failureOf(const AuthFailure &failure)
{
    switch (failure.code) {
    case ErrorCode::Unauthorized:
        return McpFailure::Unauthenticated;
    case ErrorCode::InvalidArgument:
        return McpFailure::CredentialsMisplaced;
    case ErrorCode::Unavailable:
        return McpFailure::AuthenticationUnavailable;
    default:
        return McpFailure::CallerForbidden;
    }
}

McpFailure failureOf(const BodyError &error)
{
    return error.code == JsonRpcError::ParseError ? McpFailure::ParseError : McpFailure::InvalidRequest;
}

McpFailure failureOf(StatelessFailureKind kind)
{
    switch (kind) {
    case StatelessFailureKind::InvalidRequest:
        return McpFailure::InvalidRequest;
    case StatelessFailureKind::UnsupportedVersion:
        return McpFailure::UnsupportedProtocolVersion;
    case StatelessFailureKind::HeaderMismatch:
        return McpFailure::HeaderMismatch;
    case StatelessFailureKind::InvalidMeta:
        return McpFailure::InvalidRequestMeta;
    case StatelessFailureKind::MethodNotFound:
        return McpFailure::UnknownMethod;
    }
    return McpFailure::InvalidRequest;
}

McpFailure failureOf(const SessionRefusal &refusal)
{
    switch (refusal.kind) {
    case Refusal::DuplicateRequestId:
        return McpFailure::DuplicateRequestId;
    case Refusal::StreamHasReader:
        return McpFailure::StreamAlreadyOpen;
    case Refusal::Ending:
        break;
    }
    return McpFailure::UnknownSession; // the spec's signal to initialize again
}

std::optional<McpFailure> failureOf(AnswerKind kind)
{
    switch (kind) {
    case AnswerKind::Answered:
        break;
    case AnswerKind::InitializeFailed:
        return McpFailure::InitializeFailed;
    case AnswerKind::InitializeUnavailable:
        return McpFailure::InitializeUnavailable;
    }
    return std::nullopt;
}

int statusOf(AnswerKind kind)
{
    const std::optional<McpFailure> failure = failureOf(kind);
    return failure ? of(*failure).status : 200;
}

QByteArray allowedMethods()
{
    return QByteArrayLiteral("GET, POST, DELETE, OPTIONS");
}

} // namespace fmb::StatusTable
