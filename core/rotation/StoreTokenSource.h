#pragma once

#include <QObject>
#include <QPointer>

#include "TokenSource.h"
#include "store/StoreRecords.h"

namespace fmb {

class TokenStore;
class UpstreamClient;

// The real TokenSource: upstream tokens live sealed in the TokenStore and
// are refreshed at the upstream token endpoint (Forgejo rotates refresh
// tokens: the new pair is saved, to every grant of the user, before
// anything else happens). A refused refresh revokes the user's grants.
// Refreshes are serialized per user across brokers by the store's refresh
// lock (issue 14); another broker's announced refresh is passed on to the
// tokens-changed handler.
class StoreTokenSource final : public QObject, public TokenSource {
    Q_OBJECT
public:
    StoreTokenSource(TokenStore *store, UpstreamClient *upstream, QObject *parent = nullptr);
    ~StoreTokenSource() override;

    [[nodiscard]] Result<QDateTime> expiryOf(const QString &grantId) const override;
    [[nodiscard]] QString refreshKey(const QString &grantId) const override;
    void refresh(const QString &grantId, const QDateTime &dueBefore, RefreshCallback done) override;
    // A user signed in again: Forgejo has spent the refresh token of the
    // user's earlier grants, so they take over this grant's new tokens.
    void shareNewLogin(const QString &grantId);

private:
    // Every grant of the user, `grantId` first.
    [[nodiscard]] QStringList grantsSharing(const QString &grantId, qint64 userId) const;
    // The newest pair among `grantIds` (the latest access expiry; the first
    // grant's on a tie), or the first grant's read error.
    [[nodiscard]] Result<UpstreamTokens> freshestTokens(const QStringList &grantIds) const;
    // Copies `tokens` to every grant of `grantIds` that holds another pair.
    void heal(const QStringList &grantIds, const UpstreamTokens &tokens);
    void fail(const RefreshCallback &done, const Error &error);
    // Stores a refresh's outcome (the lock still held).
    [[nodiscard]] Result<Refreshed, RefreshFailure> finishRefresh(const QString &grantId, qint64 userId,
                                                                  const UpstreamTokens &old,
                                                                  Result<UpstreamTokens> result);

    TokenStore *m_store = nullptr;       // not owned
    QPointer<UpstreamClient> m_upstream; // not owned
};

} // namespace fmb
