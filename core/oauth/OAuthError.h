#pragma once

#include <QByteArray>
#include <QString>

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

} // namespace fmb
