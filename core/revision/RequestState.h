#pragma once

#include <QByteArray>
#include <QObject>
#include <QString>

#include "base/Result.h"

// The requestState of a 2026-07-28 input_required result (basic/patterns/mrtr,
// "Server Requirements"): the client echoes it on its retry, so it is
// attacker-controlled input. The broker's is "<payload>.<mac>" in Base64url:
// the payload names the parked call and the expiry; the HMAC-SHA256 under a
// per-broker random key covers the payload, the principal and the request
// (method and name) it was issued for, so state from another user, another
// request, a forger or an earlier broker process fails verification. Pure,
// no I/O.
namespace fmb {

// Its own namespace: one Q_NAMESPACE per namespace (StatelessRequest.h has revision's).
namespace mrtr {
Q_NAMESPACE
// Why a presented requestState is refused; all answer the same error
// (-32602 "Invalid or expired requestState"), the kind is for logs and tests.
enum class RequestStateRefusal {
    Malformed, // not "<payload>.<mac>", or a payload that is not ours
    Forged,    // the MAC does not verify: tampered, another key, principal or request
    Expired,   // verified, but its lifetime is over
};
Q_ENUM_NS(RequestStateRefusal)
} // namespace mrtr
using mrtr::RequestStateRefusal;

// What a requestState is bound to.
struct RequestStateClaims {
    QString principal;    // the user the state was issued to
    QString method;       // tools/call, resources/read, prompts/get
    QString name;         // params.name or params.uri of that request
    QString parkId;       // the parked call (random, one per round)
    qint64 expiresMs = 0; // wall clock, ms since the epoch
};

class RequestStateSigner final {
public:
    // A new random 256-bit key (QRandomGenerator::system()).
    RequestStateSigner();
    // A given key, for tests.
    explicit RequestStateSigner(QByteArray key);

    [[nodiscard]] QString sign(const RequestStateClaims &claims) const;

    // The parked call's id and expiry of `token` when it verifies for
    // `principal`, `method` and `name` and has not expired at `nowMs`.
    [[nodiscard]] Result<RequestStateClaims, RequestStateRefusal>
    verify(const QString &token, const QString &principal, const QString &method, const QString &name,
           qint64 nowMs) const;

private:
    [[nodiscard]] QByteArray mac(const QByteArray &payload, const QString &principal, const QString &method,
                                 const QString &name) const;

    QByteArray m_key;
};

} // namespace fmb
