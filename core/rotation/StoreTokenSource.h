#pragma once

#include <QObject>
#include <QPointer>

#include "TokenSource.h"

namespace fmb {

class TokenStore;
class UpstreamClient;

// The real TokenSource: upstream tokens live sealed in the TokenStore and
// are refreshed at the upstream token endpoint (Forgejo rotates refresh
// tokens: the new pair is saved, to every grant of the user, before
// anything else happens). A refused refresh revokes the user's grants.
class StoreTokenSource final : public QObject, public TokenSource {
    Q_OBJECT
public:
    StoreTokenSource(TokenStore *store, UpstreamClient *upstream, QObject *parent = nullptr);

    [[nodiscard]] Result<QDateTime> expiryOf(const QString &grantId) const override;
    [[nodiscard]] QString refreshKey(const QString &grantId) const override;
    void refresh(const QString &grantId, RefreshCallback done) override;
    // A user signed in again: Forgejo has spent the refresh token of the
    // user's earlier grants, so they take over this grant's new tokens.
    void shareNewLogin(const QString &grantId);

private:
    TokenStore *m_store = nullptr;       // not owned
    QPointer<UpstreamClient> m_upstream; // not owned
};

} // namespace fmb
