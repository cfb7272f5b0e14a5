#pragma once

#include <functional>

#include <QDateTime>
#include <QList>
#include <QString>
#include <QStringList>

#include "base/Result.h"

namespace fmb {

// Where the rotator learns which grants' upstream tokens expire and gets
// them refreshed. StoreTokenSource is the real one (TokenStore + Forgejo).
//
// Forgejo keeps one OAuth grant per user and application: a user's newest
// login invalidates the refresh token of any earlier one. So every broker
// grant of one user shares the user's upstream tokens, and a refresh is
// done once per user (refreshKey) for all of them.
class TokenSource {
public:
    struct Refreshed {
        QDateTime expiry;     // the new access token's expiry (invalid: unknown)
        QStringList grantIds; // every grant that now holds the new tokens
        bool adopted = false; // another broker had refreshed them: no upstream call
    };
    // Why a refresh failed. Refused (error.code Unauthorized): the grant is
    // dead (its refresh token spent or revoked) and the source has revoked
    // it, with revokedGrantIds, the grants that shared its tokens. Anything
    // else: the tokens may still be good; try again later. Busy (error.code
    // Conflict): another broker is refreshing them right now; its tokens
    // arrive through the tokens-changed handler (or the next sweep).
    struct RefreshFailure {
        Error error;
        QStringList revokedGrantIds; // empty unless refused
        [[nodiscard]] bool refused() const { return error.code == ErrorCode::Unauthorized; }
        [[nodiscard]] bool busy() const { return error.code == ErrorCode::Conflict; }
    };
    using TokensChangedHandler = std::function<void(const QStringList &grantIds)>;
    using RefreshCallback = std::function<void(Result<Refreshed, RefreshFailure> result)>;

    virtual ~TokenSource();
    // Makes expiryOf and refreshKey answer for `grantIds` from what is
    // stored now, then calls `ready` on this thread. A source that reads a
    // store does that off this thread and calls `ready` later (issue 14: no
    // statement on the thread that serves HTTP); the default is for a source
    // that always knows, and calls `ready` before returning.
    virtual void load(const QStringList &grantIds, std::function<void()> ready);
    // The upstream access token's expiry as last loaded; an invalid
    // QDateTime when unknown. Never waits for a store.
    [[nodiscard]] virtual Result<QDateTime> expiryOf(const QString &grantId) const = 0;
    // Grants with the same key share upstream tokens: one refresh serves all.
    // As last loaded; never waits for a store.
    [[nodiscard]] virtual QString refreshKey(const QString &grantId) const = 0;
    // Refreshes the grant's upstream tokens and stores them before calling
    // back (a crash after the upstream answered must not lose the new
    // refresh token). Serialized across brokers sharing the store: when the
    // stored expiry is no longer before `dueBefore` (another broker
    // refreshed meanwhile), the stored tokens are adopted instead
    // (Refreshed::adopted). A failure says whether it was refused or busy
    // (see RefreshFailure). Calls back on this thread, never before it
    // returns; expiryOf and refreshKey then know the refreshed grants.
    virtual void refresh(const QString &grantId, const QDateTime &dueBefore, RefreshCallback done) = 0;

    // Called with the grants whose upstream tokens another broker replaced,
    // on this thread; expiryOf and refreshKey already know them.
    void setTokensChangedHandler(TokensChangedHandler handler) { m_tokensChanged = std::move(handler); }

protected:
    void tokensChanged(const QStringList &grantIds) const
    {
        if (m_tokensChanged)
            m_tokensChanged(grantIds);
    }

private:
    TokensChangedHandler m_tokensChanged;
};

} // namespace fmb
