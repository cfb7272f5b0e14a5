#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <QObject>
#include <QPair>

#include "base/Result.h"
#include "config/BrokerConfig.h"
#include "http/HttpRoutes.h"
#include "session/Session.h"
#include "store/PostgresTokenStore.h"
#include "store/StoreRecords.h"

class QHttpServerRequest;

namespace fmb {

class AuthorizationServer;
class SessionRegistry;
class StoreTokenSource;
class TokenRotator;
class SqlTokenStore;
class StoreRunner;
class TokenStore;
class UpstreamClient;

// The daemon's --auth oauth wiring: the token store in the state directory,
// the upstream Forgejo client, the authorization server with its routes and
// bearer guard, and the token rotator.
//
// One connection to the store, on a thread of its own (StoreRunner, issue
// 14): the statements of the sign-in endpoints, the bearer guard's cache
// misses, the token rotator, the admin socket's revoke and the child
// environment run there. On this thread, the bearer guard reads only the
// store's bearer cache.
class OAuthMode final : public QObject {
    Q_OBJECT
public:
    OAuthMode(const BrokerConfig &config, SessionRegistry *registry, QObject *parent = nullptr);
    ~OAuthMode() override;

    // Reads the client secret, opens the store, builds everything; errors name the key.
    [[nodiscard]] Result<void> open();
    // Its signals feed the audit trail.
    [[nodiscard]] AuthorizationServer *authorization() const { return m_server; }
    // The authorization server's routes, for the HTTP server.
    [[nodiscard]] QList<HttpRoute> routes();
    [[nodiscard]] AuthVerdict authenticate(const QHttpServerRequest &request) const;
    // What a child of this owner gets on top of the base environment: the
    // user's current Forgejo token (in token_env) and FORGEJO_URL. Read on
    // the store thread (issue 14); `done` is called here, and not at all
    // once `context` is gone. The token is added to the Redactor first.
    void childEnvironment(const SessionOwner &owner, const QObject *context,
                          std::function<void(Result<QList<QPair<QString, QString>>>)> done) const;
    // Issue 15, for the admin socket's revoke: takes the user's grants,
    // broker tokens and stored Forgejo tokens (TokenStore::revokeUser), on
    // the store thread; `done` is called here.
    void revokeUser(const QString &login, std::function<void(Result<UserRevocation>)> done);
    // Where the cluster's database is, after open(); empty with a SQLite
    // store (issue 14: the broker directory lives beside the store).
    [[nodiscard]] const std::optional<PostgresParams> &clusterDatabase() const { return m_cluster; }

private:
    BrokerConfig m_config;
    SessionRegistry *m_registry = nullptr;   // not owned
    std::optional<PostgresParams> m_cluster; // set on the store thread, in open()
    // Destroyed before the children: the queued work of the endpoints finishes first.
    std::unique_ptr<StoreRunner> m_stores;
    UpstreamClient *m_upstream = nullptr;    // child
    AuthorizationServer *m_server = nullptr; // child
    StoreTokenSource *m_source = nullptr;    // child
    TokenRotator *m_rotator = nullptr;       // child
};

} // namespace fmb
