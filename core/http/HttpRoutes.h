#pragma once

#include <functional>

#include <QHttpServerRequest>
#include <QList>
#include <QString>

#include "base/Result.h"
#include "base/SessionOwner.h"
#include "http/HttpExchange.h"

namespace fmb {

// Answers a request on a route it was installed for (through `exchange`,
// now or later); returns false to pass it on, unanswered.
using RouteHandler = std::function<bool(const QHttpServerRequest &request, const HttpExchange &exchange)>;

struct HttpRoute {
    QString path;
    RouteHandler handler;
};

// Why a request to /mcp has no caller. Transport turns it into a status:
// Unauthorized 401, InvalidArgument 400, Unavailable 503 with Retry-After (the
// check itself failed, e.g. the token store), anything else 403.
struct AuthFailure {
    ErrorCode code = ErrorCode::Unauthorized;
    QByteArray challenge; // the WWW-Authenticate value (RFC 6750 §3); may be empty
    QString message;      // for people: the JSON-RPC error's message
};

// The caller of a request to /mcp, or why there is none.
using Authenticator = std::function<Result<SessionOwner, AuthFailure>(const QHttpServerRequest &request)>;

} // namespace fmb
