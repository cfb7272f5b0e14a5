#pragma once

#include <functional>

#include <QHttpServerRequest>
#include <QList>
#include <QObject>
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
using AuthResult = Result<SessionOwner, AuthFailure>;

// An authenticator's answer: the caller (or the failure) now, or a check
// that must wait for something slow (a token store read, which must not run
// on the thread that serves HTTP: issue 14). A check answered from memory,
// the common case, is answered now.
class AuthVerdict {
public:
    // Runs the check elsewhere; calls `done` on the thread of `context`,
    // from its event loop (never inside the call), unless `context` is gone.
    using Later = std::function<void(QObject *context, std::function<void(AuthResult)> done)>;

    AuthVerdict(AuthResult now)
        : m_now(std::move(now))
    {}
    AuthVerdict(SessionOwner owner)
        : m_now(std::move(owner))
    {}
    AuthVerdict(AuthFailure failure)
        : m_now(std::move(failure))
    {}
    [[nodiscard]] static AuthVerdict later(Later check)
    {
        AuthVerdict verdict{AuthFailure{}};
        verdict.m_later = std::move(check);
        return verdict;
    }

    [[nodiscard]] bool isLater() const { return bool(m_later); }
    // Only when !isLater().
    [[nodiscard]] const AuthResult &now() const { return m_now; }
    // Only when isLater().
    void check(QObject *context, std::function<void(AuthResult)> done) const
    {
        m_later(context, std::move(done));
    }

private:
    AuthResult m_now;
    Later m_later;
};

using Authenticator = std::function<AuthVerdict(const QHttpServerRequest &request)>;

} // namespace fmb
