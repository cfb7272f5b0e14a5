#pragma once

#include <QByteArray>
#include <QString>

#include "base/Result.h"
#include "http/HttpHeaders.h"

namespace fmb {

// An OAuth error answer (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 7009 §2.2.1):
// the code a client branches on, a description for people, and the HTTP
// status and headers it goes out with. The failure type of every OAuth step
// (Result<T, OAuthError>), instead of the code riding in Error::subject.
struct OAuthError {
    OAuthError() = default;
    OAuthError(int status, QByteArray error, QString description, Http::HeaderList headers = {})
        : status(status)
        , error(std::move(error))
        , description(std::move(description))
        , headers(std::move(headers))
    {}

    int status = 400;
    QByteArray error;         // "invalid_request", "invalid_grant", "invalid_client_metadata", …
    QString description;      // error_description; may be empty
    Http::HeaderList headers; // WWW-Authenticate: Basic after failed HTTP Basic
};

// How long a client waits after a 503 because the token store is unreachable
// (issue 14): about the store's first reconnect backoff.
inline constexpr int StoreRetryAfterSeconds = 2;

// The answer when the token store failed at `what` ("the tokens could not be
// issued"): 503 temporarily_unavailable with Retry-After when the database
// is unreachable (a client retries, the user is not sent to sign in again),
// else 500 server_error.
[[nodiscard]] inline OAuthError storeFailure(const Error &error, const QString &what)
{
    if (error.code == ErrorCode::Unavailable)
        return OAuthError{503,
                          "temporarily_unavailable",
                          what + QStringLiteral("; try again later"),
                          {{"Retry-After", QByteArray::number(StoreRetryAfterSeconds)}}};
    return OAuthError{500, "server_error", what};
}

} // namespace fmb
