#include "CtlFormat.h"

#include <algorithm>

#include <QDateTime>
#include <QJsonObject>

namespace fmb::ctl {
namespace {

constexpr qsizetype ShortIdLength = 12;
// A session id ends in 192 random bits as hex, after the broker's node id
// (issue 14): the ID column shows the start of the random part, which evict
// accepts as a prefix too.
constexpr qsizetype RandomIdHexDigits = 48;

QString localTime(qint64 ms)
{
    if (ms <= 0)
        return QStringLiteral("-");
    return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
}

QString ago(qint64 ms, qint64 nowMs)
{
    if (ms <= 0)
        return QStringLiteral("-");
    return formatDuration(std::max<qint64>(0, nowMs - ms) / 1000) + QLatin1String(" ago");
}

QString render(const QList<QStringList> &rows)
{
    QList<qsizetype> widths;
    for (const QStringList &row : rows) {
        for (qsizetype column = 0; column < row.size(); ++column) {
            if (widths.size() <= column)
                widths.append(0);
            widths[column] = std::max(widths[column], row[column].size());
        }
    }
    QString text;
    for (const QStringList &row : rows) {
        QString line;
        for (qsizetype column = 0; column < row.size(); ++column) {
            if (column + 1 < row.size())
                line += row[column].leftJustified(widths[column] + 2);
            else
                line += row[column];
        }
        text += line + QLatin1Char('\n');
    }
    return text;
}

// A user child has no client of its own: it says what it is and how busy.
QString clientText(const SessionInfo &session)
{
    if (session.isUserChild())
        return QStringLiteral("user child (%1 in flight)").arg(session.pendingRequests);
    return session.client.isEmpty() ? QStringLiteral("-") : session.client;
}

} // namespace

QString formatDuration(qint64 seconds)
{
    seconds = std::max<qint64>(0, seconds);
    if (seconds < 60)
        return QStringLiteral("%1s").arg(seconds);
    if (seconds < 3600)
        return QStringLiteral("%1m %2s").arg(seconds / 60).arg(seconds % 60, 2, 10, QLatin1Char('0'));
    if (seconds < 86400)
        return QStringLiteral("%1h %2m")
            .arg(seconds / 3600)
            .arg((seconds % 3600) / 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1d %2h")
        .arg(seconds / 86400)
        .arg((seconds % 86400) / 3600, 2, 10, QLatin1Char('0'));
}

QString formatTokenExpiry(qint64 expiresMs, qint64 nowMs)
{
    if (expiresMs <= 0)
        return QStringLiteral("no token");
    if (expiresMs <= nowMs)
        return QStringLiteral("expired %1 ago").arg(formatDuration((nowMs - expiresMs) / 1000));
    return QStringLiteral("in %1").arg(formatDuration((expiresMs - nowMs + 999) / 1000));
}

namespace {

QStringList sessionHeader()
{
    return {QStringLiteral("ID"),
            QStringLiteral("USER"),
            QStringLiteral("CLIENT"),
            QStringLiteral("CREATED"),
            QStringLiteral("LAST ACTIVE"),
            QStringLiteral("IDLE"),
            QStringLiteral("TOKEN EXPIRES"),
            QStringLiteral("PID"),
            QStringLiteral("STATE")};
}

QStringList sessionCells(const SessionInfo &session, qint64 nowMs)
{
    return {session.id.right(RandomIdHexDigits).left(ShortIdLength),
            session.user,
            clientText(session),
            localTime(session.createdMs),
            ago(session.lastActiveMs, nowMs),
            session.active ? QStringLiteral("active") : formatDuration(session.idleMs / 1000),
            formatTokenExpiry(session.tokenExpiresMs, nowMs),
            session.childPid > 0 ? QString::number(session.childPid) : QStringLiteral("-"),
            session.state};
}

} // namespace

QString formatSessionTable(const QList<SessionInfo> &sessions, qint64 nowMs)
{
    if (sessions.isEmpty())
        return QStringLiteral("No sessions.\n");
    QList<QStringList> rows{sessionHeader()};
    for (const SessionInfo &session : sessions)
        rows.append(sessionCells(session, nowMs));
    return render(rows) + QStringLiteral("%1 session(s)\n").arg(sessions.size());
}

QString formatFleetTable(const QList<FleetSession> &sessions, qint64 nowMs)
{
    if (sessions.isEmpty())
        return QStringLiteral("No sessions.\n");
    QList<QStringList> rows{QStringList{QStringLiteral("BROKER")} + sessionHeader()};
    for (const FleetSession &row : sessions)
        rows.append(QStringList{row.broker} + sessionCells(row.session, nowMs));
    return render(rows) + QStringLiteral("%1 session(s)\n").arg(sessions.size());
}

QString brokerState(const BrokerStatus &broker)
{
    if (broker.stoppedMs > 0)
        return QStringLiteral("stopped");
    if (broker.stale)
        return QStringLiteral("stale");
    return QStringLiteral("up");
}

QString formatBrokerTable(const QList<BrokerStatus> &brokers, const QStringList &unreachable)
{
    QList<QStringList> rows;
    rows.append({QStringLiteral("BROKER"), QStringLiteral("HOST"), QStringLiteral("PID"),
                 QStringLiteral("STARTED"), QStringLiteral("HEARTBEAT"), QStringLiteral("SESSIONS"),
                 QStringLiteral("STATE")});
    for (const BrokerStatus &broker : brokers) {
        rows.append(
            {broker.nodeId, broker.host.isEmpty() ? QStringLiteral("-") : broker.host,
             broker.pid > 0 ? QString::number(broker.pid) : QStringLiteral("-"), localTime(broker.startedMs),
             broker.heartbeatMs > 0 ? formatDuration(broker.heartbeatAgeMs / 1000) + QLatin1String(" ago")
                                    : QStringLiteral("-"),
             broker.userChildren > 0
                 ? QStringLiteral("%1 (%2 user children)").arg(broker.sessions).arg(broker.userChildren)
                 : QString::number(broker.sessions),
             brokerState(broker)});
    }
    QString text = render(rows);
    for (const QString &problem : unreachable)
        text += QStringLiteral("unreachable: %1\n").arg(problem);
    const auto stale = std::count_if(brokers.cbegin(), brokers.cend(),
                                     [](const BrokerStatus &b) { return b.stale && b.stoppedMs == 0; });
    text += QStringLiteral("%1 broker(s), %2 stale\n").arg(brokers.size()).arg(stale);
    if (!brokers.isEmpty())
        text += QStringLiteral("stale: no heartbeat for more than %1\n")
                    .arg(formatDuration(brokers.first().staleAfterMs / 1000));
    return text;
}

QString formatDaemonInfo(const DaemonInfo &info)
{
    const QList<QStringList> rows = {
        {QStringLiteral("version:"), info.version},
        {QStringLiteral("pid:"), QString::number(info.pid)},
        {QStringLiteral("started:"), localTime(info.startedMs)},
        {QStringLiteral("uptime:"), formatDuration(info.uptimeSeconds)},
        {QStringLiteral("listen url:"), info.listenUrl},
        {QStringLiteral("auth mode:"),
         info.authMode == QLatin1String("none") ? QStringLiteral("none (local mode)") : info.authMode},
        {QStringLiteral("admin socket:"), info.adminSocket},
        {QStringLiteral("sessions:"), QStringLiteral("%1 of %2 (%3 users; %4 stopping)")
                                          .arg(info.sessions)
                                          .arg(info.maxSessions)
                                          .arg(info.users)
                                          .arg(info.stoppingSessions)},
        {QStringLiteral("admin clients:"),
         QStringLiteral("%1 (%2 watching)").arg(info.adminClients).arg(info.subscribers)},
    };
    return render(rows);
}

QString formatEvent(const AdminEvent &event, qint64 nowMs)
{
    const std::optional<SessionInfo> &session = event.session;
    QString line = QDateTime::fromMSecsSinceEpoch(nowMs).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) +
                   QLatin1Char(' ') + event.name;
    if (!session)
        return line;
    line += QLatin1Char(' ') + session->id;
    line += QStringLiteral(" user=%1").arg(session->user);
    if (!session->client.isEmpty())
        line += QStringLiteral(" client=\"%1\"").arg(session->client);
    line += QStringLiteral(" state=%1").arg(session->state);
    if (session->childPid > 0)
        line += QStringLiteral(" pid=%1").arg(session->childPid);
    line += QStringLiteral(" token=\"%1\"").arg(formatTokenExpiry(session->tokenExpiresMs, nowMs));
    if (!event.reason.isEmpty())
        line += QStringLiteral(" reason=\"%1\"").arg(event.reason);
    return line;
}

QString revokeQuestion(const QString &user, int openSessions)
{
    return QStringLiteral("Revoke all access of user %1? This ends %2 open session(s) of %1 with their "
                          "children, revokes every grant and broker token of %1 and deletes the Forgejo "
                          "tokens the broker keeps for %1; %1 must sign in again. [y/N] ")
        .arg(user)
        .arg(openSessions);
}

bool isYes(const QString &answer)
{
    const QString word = answer.trimmed().toLower();
    return word == QLatin1String("y") || word == QLatin1String("yes");
}

QString formatRevokeOutcome(const RevokeOutcome &outcome)
{
    return QStringLiteral("revoked %1: %2 session(s) ended, %3 grant(s) and %4 broker token(s) revoked, "
                          "Forgejo tokens of %5 grant(s) deleted\n")
        .arg(outcome.user)
        .arg(outcome.sessions)
        .arg(outcome.grants)
        .arg(outcome.brokerTokens)
        .arg(outcome.upstreamTokens);
}

} // namespace fmb::ctl
