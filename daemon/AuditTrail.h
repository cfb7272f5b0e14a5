#pragma once

#include <memory>

#include <QHash>
#include <QObject>

#include "base/AuditLog.h"
#include "oauth/OAuthEvent.h"

namespace fmb {

class AdminServer;
class AuthorizationServer;
class Session;
class SessionRegistry;

// Feeds the audit trail (--audit-log, docs/audit.md) from the daemon's parts:
// session start and end (with the reason) and tool calls from the registry;
// sign-ins (and refused ones), consent, the life of broker tokens and
// detected token reuse from the authorization server; user revocations from
// the admin socket. Every line names the broker (its node id). Only names,
// reasons and 8-character id prefixes go in: never a token, code or secret.
class AuditTrail final : public QObject {
    Q_OBJECT
public:
    AuditTrail(std::unique_ptr<AuditLog> log, SessionRegistry *registry, AdminServer *admin,
               QObject *parent = nullptr);
    ~AuditTrail() override;

    void watchAuthorization(AuthorizationServer *server);
    // The broker's node id, on every line from now on (known once /mcp listens).
    void setNode(const QString &nodeId) { m_node = nodeId; }
    // SIGHUP: the file again, after logrotate moved it.
    void reopen();

private:
    void record(const QString &event, QJsonObject fields);
    void onOAuthEvent(const OAuthEvent &event);
    void onSessionCreated(Session *session);
    void onSessionEnded(const QString &id, const QString &reason);

    struct Known {
        QString user;
        QString client;
    };
    std::unique_ptr<AuditLog> m_log;
    QString m_node;
    QHash<QString, Known> m_sessions; // live sessions by id: who, for session.end
};

} // namespace fmb
