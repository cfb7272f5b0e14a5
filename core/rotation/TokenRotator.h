#pragma once

#include <chrono>

#include <QObject>
#include <QPointer>
#include <QSet>

#include "TokenSource.h"

class QTimer;

namespace fmb {

class SessionRegistry;
class Session;

// Keeps the upstream tokens of live sessions fresh. Every rotate interval it
// looks at the grants that have sessions; a grant whose upstream token
// expires within the refresh lead is refreshed once (never two refreshes of
// one grant, or of grants sharing tokens, at once: Forgejo invalidates a
// used refresh token), then every session of the refreshed grants is
// respawned with the new token (Session::respawn:
// the client keeps its session id and stream). A refresh that fails for
// good evicts the grant's sessions; the source has revoked the grant, so the
// client's next request gets a clean 401 and it logs in again.
//
// Several brokers (issue 14): the source serializes refreshes across them
// and adopts what another broker stored. Sessions whose grant got new
// tokens elsewhere are respawned when the source reports it
// (tokens-changed handler, i.e. NOTIFY) and, as a fallback, at the next
// sweep when the stored expiry is newer than the one the session started
// with: within one rotate interval.
class TokenRotator final : public QObject {
    Q_OBJECT
public:
    TokenRotator(SessionRegistry *registry, TokenSource *source, std::chrono::milliseconds interval,
                 std::chrono::milliseconds lead, QObject *parent = nullptr);
    ~TokenRotator() override;

    // One pass now (the timer calls this): loads the expiries of the grants
    // with sessions from the source, then refreshes the due ones. Returns
    // how many refreshes started when the source answered at once, else 0;
    // `swept` says it either way. A pass is skipped while the last one
    // still waits for the source (a slow store does not pile them up).
    int sweep();
    // Refreshes one grant now if it is not already being refreshed.
    bool refreshGrant(const QString &grantId);
    [[nodiscard]] bool isRefreshing(const QString &grantId) const;
    // Respawns the sessions of these grants that still run on older tokens
    // than the stored ones; returns how many.
    int adopt(const QStringList &grantIds);

Q_SIGNALS:
    void swept(int refreshesStarted);                           // once per pass that ran
    void grantRefreshed(const QString &grantId, int respawned); // once per refresh
    void grantFailed(const QString &grantId, const QString &reason);
    // Sessions moved to tokens another broker refreshed (or this one adopted).
    void tokensAdopted(const QStringList &grantIds, int respawned);

private:
    void onSessionCreated(Session *session);
    // The sweep's decisions, once the source knows `grantIds`.
    int sweepLoaded(const QStringList &grantIds);
    void onRefreshed(const QString &grantId, const TokenSource::Refreshed &refreshed);
    void onFailed(const QString &grantId, const TokenSource::RefreshFailure &failure);
    [[nodiscard]] QList<Session *> sessionsOf(const QStringList &grantIds) const;

    QPointer<SessionRegistry> m_registry;
    TokenSource *m_source = nullptr; // not owned; outlives us
    std::chrono::milliseconds m_lead;
    QTimer *m_timer = nullptr;      // child
    QSet<QString> m_inFlight;       // refresh keys being refreshed
    QSet<QString> m_inFlightGrants; // the grants those refreshes were started for
    bool m_sweeping = false;        // a sweep waits for the source
};

} // namespace fmb
