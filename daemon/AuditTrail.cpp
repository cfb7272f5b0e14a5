#include "AuditTrail.h"

#include <QLoggingCategory>

#include "admin/AdminProtocol.h"
#include "admin/AdminServer.h"
#include "oauth/AuthorizationServer.h"
#include "session/SessionRegistry.h"

namespace fmb {
namespace {

Q_LOGGING_CATEGORY(lcDaemonAudit, "fmb.daemon", QtInfoMsg)

} // namespace

AuditTrail::AuditTrail(std::unique_ptr<AuditLog> log, SessionRegistry *registry, AdminServer *admin,
                       QObject *parent)
    : QObject(parent)
    , m_log(std::move(log))
{
    connect(registry, &SessionRegistry::sessionCreated, this, &AuditTrail::onSessionCreated);
    connect(registry, &SessionRegistry::sessionEnded, this, &AuditTrail::onSessionEnded);
    connect(admin, &AdminServer::userRevoked, this, [this](const RevokeOutcome &outcome) {
        record(QStringLiteral("user.revoked"), {{QStringLiteral("user"), outcome.user},
                                                {QStringLiteral("by"), QStringLiteral("admin")},
                                                {QStringLiteral("sessions"), outcome.sessions},
                                                {QStringLiteral("grants"), outcome.grants},
                                                {QStringLiteral("broker_tokens"), outcome.brokerTokens},
                                                {QStringLiteral("upstream_tokens"), outcome.upstreamTokens}});
    });
}

AuditTrail::~AuditTrail() = default;

void AuditTrail::watchAuthorization(AuthorizationServer *server)
{
    connect(server, &AuthorizationServer::grantCreated, this,
            [this](const QString &grantId, const QString &userLogin) {
                record(QStringLiteral("sign_in"), {{QStringLiteral("user"), userLogin},
                                                   {QStringLiteral("outcome"), QStringLiteral("ok")},
                                                   {QStringLiteral("grant"), grantId.left(8)}});
            });
    connect(server, &AuthorizationServer::audited, this, &AuditTrail::onOAuthEvent);
    connect(server, &AuthorizationServer::grantTokensRevoked, this,
            [this](const QString &grantId, const QString &reason) {
                record(QStringLiteral("token.reuse_detected"),
                       {{QStringLiteral("grant"), grantId.left(8)}, {QStringLiteral("reason"), reason}});
            });
}

void AuditTrail::record(const QString &event, QJsonObject fields)
{
    if (!m_node.isEmpty())
        fields.insert(QStringLiteral("node"), m_node);
    m_log->record(event, fields);
}

void AuditTrail::onOAuthEvent(const OAuthEvent &event)
{
    QJsonObject fields{{QStringLiteral("user"), event.user},
                       {QStringLiteral("client_id"), event.clientId},
                       {QStringLiteral("client_name"), event.clientName},
                       {QStringLiteral("grant"), event.grantId.left(8)}};
    switch (event.kind) {
    case OAuthEvent::Kind::SignInDenied:
    case OAuthEvent::Kind::SignInFailed:
        fields.insert(QStringLiteral("outcome"), event.kind == OAuthEvent::Kind::SignInDenied
                                                     ? QStringLiteral("denied")
                                                     : QStringLiteral("failed"));
        fields.insert(QStringLiteral("reason"), event.detail);
        record(QStringLiteral("sign_in"), fields);
        return;
    case OAuthEvent::Kind::Consent:
        fields.insert(QStringLiteral("scope"), event.detail);
        record(QStringLiteral("consent"), fields);
        return;
    case OAuthEvent::Kind::TokenIssued:
        record(QStringLiteral("token.issued"), fields);
        return;
    case OAuthEvent::Kind::TokenRefreshed:
        record(QStringLiteral("token.refreshed"), fields);
        return;
    case OAuthEvent::Kind::TokenRevoked:
        fields.insert(QStringLiteral("token"), event.detail);
        record(QStringLiteral("token.revoked"), fields);
        return;
    }
}

void AuditTrail::reopen()
{
    if (Result<void> r = m_log->reopen(); !r.ok())
        qCWarning(lcDaemonAudit).noquote() << "reload (SIGHUP):" << r.error().message;
}

void AuditTrail::onSessionCreated(Session *session)
{
    const QString id = session->id();
    m_sessions.insert(id, Known{session->owner().user, QString()});
    // A user child (2026-07-28) is a session of the broker's own: "kind" tells it apart.
    record(QStringLiteral("session.start"),
           {{QStringLiteral("user"), session->owner().user},
            {QStringLiteral("session"), shortSessionId(id)},
            {QStringLiteral("kind"),
             session->kind() == SessionKind::UserChild ? QStringLiteral("user child") : QString()}});
    connect(session, &Session::toolCallFinished, this,
            [this](const QString &callId, const QString &tool, qint64 durationMs, const QString &outcome) {
                const Known known = m_sessions.value(callId);
                record(QStringLiteral("tools.call"), {{QStringLiteral("user"), known.user},
                                                      {QStringLiteral("client_name"), known.client},
                                                      {QStringLiteral("session"), shortSessionId(callId)},
                                                      {QStringLiteral("tool"), tool},
                                                      {QStringLiteral("duration_ms"), durationMs},
                                                      {QStringLiteral("outcome"), outcome}});
            });
    connect(session, &Session::ready, this, [this, session](const QString &readyId) {
        auto known = m_sessions.find(readyId);
        if (known == m_sessions.end())
            return;
        // A user child's initialize is the broker's own: its 2026-07-28 clients are not named.
        if (session->kind() == SessionKind::Client)
            known->client = session->clientName();
        record(QStringLiteral("session.ready"), {{QStringLiteral("user"), known->user},
                                                 {QStringLiteral("client_name"), known->client},
                                                 {QStringLiteral("session"), shortSessionId(readyId)}});
    });
}

void AuditTrail::onSessionEnded(const QString &id, const QString &reason)
{
    const Known known = m_sessions.take(id);
    record(QStringLiteral("session.end"), {{QStringLiteral("user"), known.user},
                                           {QStringLiteral("client_name"), known.client},
                                           {QStringLiteral("session"), shortSessionId(id)},
                                           {QStringLiteral("reason"), reason}});
}

} // namespace fmb
