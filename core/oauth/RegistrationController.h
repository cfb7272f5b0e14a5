#pragma once

#include "ClientMetadata.h"
#include "OAuthController.h"
#include "PeerRateLimiter.h"
#include "base/TokenBucket.h"
#include "store/StoreRecords.h"

class QTimer;

namespace fmb {

// RFC 7591 dynamic client registration at /oauth/register, with what
// unauthenticated callers may cost (issue 11): a rate per client address,
// bounded sizes, a cap on clients that never signed in, and the purge of
// such clients after pendingClientTtl.
class RegistrationController final : public OAuthController {
    Q_OBJECT
public:
    explicit RegistrationController(const OAuthContext &context, QObject *parent = nullptr);

    [[nodiscard]] QList<HttpRoute> routes() override;

    // Drops registrations older than pendingClientTtl that never led to a
    // sign-in; runs now (when the store is open) and on a timer.
    void purgePendingClients();

Q_SIGNALS:
    // After each purge: caches of client metadata may drop what went stale.
    void pendingClientsPurged();

private:
    void handleRegister(const QHttpServerRequest &request, const HttpExchange &exchange);
    // The registration limits: per-address rate (429), body and string
    // sizes (413 / 400), pending-client cap (503); answers and returns false
    // when one is hit.
    [[nodiscard]] bool admitRegistration(const QHttpServerRequest &request, const HttpExchange &exchange);
    void refuseRegistration(const HttpExchange &exchange, int status, const char *error,
                            const QString &description, qint64 retryAfter = 0);
    // RFC 7591 §3.2.1: 201 with the client's metadata (and its secret, once).
    void answerRegistration(const HttpExchange &exchange, const ClientRecord &client,
                            const QByteArray &secret, const ClientMetadata &metadata);

    PeerRateLimiter m_limiter;
    TokenBucket m_refusalLog{5, 0.1}; // refused registrations logged: 5 at once, then one per 10 s
    QTimer *m_purgeTimer = nullptr;   // child
};

} // namespace fmb
