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
        m_log->record(QStringLiteral("user.revoked"),
                      {{QStringLiteral("user"), outcome.user},
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
                m_log->record(QStringLiteral("sign_in"), {{QStringLiteral("user"), userLogin},
                                                          {QStringLiteral("outcome"), QStringLiteral("ok")},
                                                          {QStringLiteral("grant"), grantId.left(8)}});
            });
    connect(server, &AuthorizationServer::grantTokensRevoked, this,
            [this](const QString &grantId, const QString &reason) {
                m_log->record(
                    QStringLiteral("token.reuse_detected"),
                    {{QStringLiteral("grant"), grantId.left(8)}, {QStringLiteral("reason"), reason}});
            });
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
    m_log->record(QStringLiteral("session.start"), {{QStringLiteral("user"), session->owner().user},
                                                    {QStringLiteral("session"), shortSessionId(id)}});
    connect(session, &Session::toolCallFinished, this,
            [this](const QString &callId, const QString &tool, qint64 durationMs, const QString &outcome) {
                const Known known = m_sessions.value(callId);
                m_log->record(QStringLiteral("tools.call"),
                              {{QStringLiteral("user"), known.user},
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
        known->client = session->clientName();
        m_log->record(QStringLiteral("session.ready"),
                      {{QStringLiteral("user"), known->user},
                       {QStringLiteral("client_name"), known->client},
                       {QStringLiteral("session"), shortSessionId(readyId)}});
    });
}

void AuditTrail::onSessionEnded(const QString &id, const QString &reason)
{
    const Known known = m_sessions.take(id);
    m_log->record(QStringLiteral("session.end"), {{QStringLiteral("user"), known.user},
                                                  {QStringLiteral("client_name"), known.client},
                                                  {QStringLiteral("session"), shortSessionId(id)},
                                                  {QStringLiteral("reason"), reason}});
}

} // namespace fmb
