#pragma once

#include <memory>
#include <optional>

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QSet>

#include "TokenSource.h"
#include "store/StoreRecords.h"

namespace fmb {

class StoreRunner;
class UpstreamClient;

// The real TokenSource: upstream tokens live sealed in the TokenStore and
// are refreshed at the upstream token endpoint (Forgejo rotates refresh
// tokens: the new pair is saved, to every grant of the user, before
// anything else happens). A refused refresh revokes the user's grants.
// Refreshes are serialized per user across brokers by the store's refresh
// lock (issue 14); another broker's announced refresh is passed on to the
// tokens-changed handler.
//
// Every statement runs through the StoreRunner, on the store's thread
// (issue 14: no statement on the thread that serves HTTP): the refresh lock
// is taken and released on that one connection, and the store's listener
// for other brokers' announcements is set there. Only the upstream call
// runs on this thread (UpstreamClient lives here). expiryOf and refreshKey
// answer from what load, refresh and the announcements last read.
class StoreTokenSource final : public QObject, public TokenSource {
    Q_OBJECT
public:
    // `stores` and `upstream` must outlive us.
    StoreTokenSource(const StoreRunner *stores, UpstreamClient *upstream, QObject *parent = nullptr);
    ~StoreTokenSource() override;

    void load(const QStringList &grantIds, std::function<void()> ready) override;
    [[nodiscard]] Result<QDateTime> expiryOf(const QString &grantId) const override;
    [[nodiscard]] QString refreshKey(const QString &grantId) const override;
    void refresh(const QString &grantId, const QDateTime &dueBefore, RefreshCallback done) override;
    // A user signed in again: Forgejo has spent the refresh token of the
    // user's earlier grants, so they take over this grant's new tokens.
    void shareNewLogin(const QString &grantId);

private:
    // What the store said of a grant.
    struct Known {
        qint64 userId = 0;
        QDateTime expiry;           // the upstream access token's
        std::optional<Error> error; // reading the grant failed
    };
    using View = QHash<QString, Known>;
    // Where the store's listener delivers (see the constructor).
    struct Inbox;

    // The grants whose tokens another broker replaced, read on the store's thread.
    void heard(qint64 userId, const View &grants);
    // The grants that now hold the user's tokens of this expiry.
    void remember(qint64 userId, const QStringList &grantIds, const QDateTime &expiry);
    // The refresh lock is held: Forgejo, then the save and the unlock.
    void refreshUpstream(const QString &grantId, qint64 userId, const UpstreamTokens &old,
                         RefreshCallback done);

    const StoreRunner *m_stores = nullptr; // not owned
    QPointer<UpstreamClient> m_upstream;   // not owned
    std::shared_ptr<Inbox> m_inbox;
    // Users whose refresh holds the lock; used on the store's thread only.
    std::shared_ptr<QSet<qint64>> m_refreshing;
    View m_known; // what the last load read, plus refreshes and announcements since
};

} // namespace fmb
