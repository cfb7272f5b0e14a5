#include "AdminProtocol.h"

#include "session/Session.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

namespace fmb {
namespace {

const QString VersionKey = QStringLiteral("v");
const QString IdKey = QStringLiteral("id");
const QString CmdKey = QStringLiteral("cmd");

ParsedAdminRequest problem(const QJsonValue &id, QLatin1String code, const QString &message)
{
    ParsedAdminRequest parsed;
    parsed.request.id = id;
    parsed.problem = AdminProblem{QString(code), message};
    return parsed;
}

QByteArray line(const QJsonObject &object)
{
    return QJsonDocument(object).toJson(QJsonDocument::Compact) + '\n';
}

QJsonValue pidValue(qint64 pid)
{
    return pid > 0 ? QJsonValue(pid) : QJsonValue(QJsonValue::Null);
}

QJsonArray toArray(const QStringList &list)
{
    return QJsonArray::fromStringList(list);
}

QStringList toStringList(const QJsonValue &value)
{
    QStringList list;
    const QJsonArray array = value.toArray();
    for (const QJsonValue &item : array) {
        if (item.isString())
            list.append(item.toString());
    }
    return list;
}

// "user": a non-empty string, into request.user; the problem, if any.
std::optional<ParsedAdminRequest> takeUser(ParsedAdminRequest &parsed, const QJsonObject &object)
{
    const QJsonValue user = object.value(QLatin1String("user"));
    if (!user.isString() || user.toString().isEmpty())
        return problem(parsed.request.id, AdminErrorCode::BadRequest,
                       QStringLiteral("\"user\" must be a non-empty string"));
    parsed.request.user = user.toString();
    return std::nullopt;
}

ParsedAdminRequest parseRevoke(ParsedAdminRequest parsed, const QJsonObject &object)
{
    if (!object.contains(QLatin1String("user")))
        return problem(parsed.request.id, AdminErrorCode::MissingField,
                       QStringLiteral("revoke needs \"user\" (a login)"));
    if (std::optional<ParsedAdminRequest> bad = takeUser(parsed, object))
        return *bad;
    return parsed;
}

ParsedAdminRequest parseEvict(ParsedAdminRequest parsed, const QJsonObject &object)
{
    const QJsonValue &id = parsed.request.id;
    const bool hasSessions = object.contains(QLatin1String("sessions"));
    const bool hasSession = object.contains(QLatin1String("session"));
    const bool hasUser = object.contains(QLatin1String("user"));
    const bool hasAll = object.contains(QLatin1String("all"));
    const int selectors = int(hasSessions) + int(hasSession) + int(hasUser) + int(hasAll);
    if (selectors == 0) {
        return problem(id, AdminErrorCode::MissingField,
                       QStringLiteral("evict needs \"sessions\" (ids), \"session\", \"user\" or \"all\""));
    }
    if (selectors > 1) {
        return problem(id, AdminErrorCode::BadRequest,
                       QStringLiteral("evict takes one of \"sessions\", \"session\", \"user\" and \"all\", "
                                      "not several"));
    }
    AdminRequest &request = parsed.request;
    if (hasSessions) {
        const QJsonValue sessions = object.value(QLatin1String("sessions"));
        if (!sessions.isArray())
            return problem(id, AdminErrorCode::BadRequest,
                           QStringLiteral("\"sessions\" must be an array of ids"));
        const QJsonArray array = sessions.toArray();
        for (const QJsonValue &item : array) {
            if (!item.isString() || item.toString().isEmpty()) {
                return problem(id, AdminErrorCode::BadRequest,
                               QStringLiteral("\"sessions\" must hold non-empty strings"));
            }
            request.sessions.append(item.toString());
        }
        if (request.sessions.isEmpty())
            return problem(id, AdminErrorCode::MissingField, QStringLiteral("\"sessions\" is empty"));
    } else if (hasSession) {
        const QJsonValue session = object.value(QLatin1String("session"));
        if (!session.isString() || session.toString().isEmpty())
            return problem(id, AdminErrorCode::BadRequest,
                           QStringLiteral("\"session\" must be a non-empty string"));
        request.sessions.append(session.toString());
    } else if (hasUser) {
        if (std::optional<ParsedAdminRequest> bad = takeUser(parsed, object))
            return *bad;
    } else {
        if (object.value(QLatin1String("all")) != QJsonValue(true))
            return problem(id, AdminErrorCode::BadRequest, QStringLiteral("\"all\" must be true"));
        request.all = true;
    }
    return parsed;
}

} // namespace

ParsedAdminRequest parseAdminRequest(QByteArrayView bytes)
{
    QJsonParseError error;
    const QJsonDocument document =
        QJsonDocument::fromJson(QByteArray::fromRawData(bytes.data(), bytes.size()), &error);
    if (error.error != QJsonParseError::NoError) {
        return problem(
            QJsonValue::Null, AdminErrorCode::BadJson,
            QStringLiteral("not JSON: %1 at offset %2").arg(error.errorString()).arg(error.offset));
    }
    if (!document.isObject())
        return problem(QJsonValue::Null, AdminErrorCode::BadRequest,
                       QStringLiteral("a request is a JSON object"));
    const QJsonObject object = document.object();

    QJsonValue id = object.value(IdKey);
    if (id.isUndefined())
        id = QJsonValue::Null;
    if (!id.isNull() && !id.isString() && !id.isDouble())
        return problem(QJsonValue::Null, AdminErrorCode::BadRequest,
                       QStringLiteral("\"id\" must be a number or a string"));

    const QJsonValue version = object.value(VersionKey);
    if (version.isUndefined())
        return problem(id, AdminErrorCode::MissingField,
                       QStringLiteral("\"v\" (the protocol version, 1) is missing"));
    if (version != QJsonValue(AdminProtocolVersion)) {
        return problem(id, AdminErrorCode::UnsupportedVersion,
                       QStringLiteral("protocol version %1 is not supported (this broker speaks %2)")
                           .arg(version.isDouble() ? QString::number(version.toDouble())
                                                   : QStringLiteral("of a non-number"))
                           .arg(AdminProtocolVersion));
    }

    const QJsonValue cmd = object.value(CmdKey);
    if (cmd.isUndefined())
        return problem(id, AdminErrorCode::MissingField, QStringLiteral("\"cmd\" is missing"));
    if (!cmd.isString())
        return problem(id, AdminErrorCode::BadRequest, QStringLiteral("\"cmd\" must be a string"));

    ParsedAdminRequest parsed;
    parsed.request.id = id;
    const QString name = cmd.toString();
    if (name == QLatin1String("info")) {
        parsed.request.command = AdminCommand::Info;
    } else if (name == QLatin1String("list")) {
        parsed.request.command = AdminCommand::List;
    } else if (name == QLatin1String("subscribe")) {
        parsed.request.command = AdminCommand::Subscribe;
    } else if (name == QLatin1String("unsubscribe")) {
        parsed.request.command = AdminCommand::Unsubscribe;
    } else if (name == QLatin1String("brokers")) {
        parsed.request.command = AdminCommand::Brokers;
    } else if (name == QLatin1String("evict")) {
        parsed.request.command = AdminCommand::Evict;
        return parseEvict(std::move(parsed), object);
    } else if (name == QLatin1String("revoke")) {
        parsed.request.command = AdminCommand::Revoke;
        return parseRevoke(std::move(parsed), object);
    } else {
        return problem(
            id, AdminErrorCode::UnknownCommand,
            QStringLiteral(
                "unknown command \"%1\" (try info, list, evict, revoke, subscribe, unsubscribe, brokers)")
                .arg(name.left(64)));
    }
    return parsed;
}

QString adminCommandName(AdminCommand command)
{
    switch (command) {
    case AdminCommand::Info:
        return QStringLiteral("info");
    case AdminCommand::List:
        return QStringLiteral("list");
    case AdminCommand::Evict:
        return QStringLiteral("evict");
    case AdminCommand::Revoke:
        return QStringLiteral("revoke");
    case AdminCommand::Subscribe:
        return QStringLiteral("subscribe");
    case AdminCommand::Unsubscribe:
        return QStringLiteral("unsubscribe");
    case AdminCommand::Brokers:
        return QStringLiteral("brokers");
    }
    return QString();
}

QByteArray encodeAdminRequest(const QJsonValue &id, const QString &command, const QJsonObject &fields)
{
    QJsonObject object = fields;
    object.insert(VersionKey, AdminProtocolVersion);
    object.insert(IdKey, id);
    object.insert(CmdKey, command);
    return line(object);
}

QByteArray encodeAdminResult(const QJsonValue &id, const QJsonValue &result)
{
    return line(QJsonObject{{VersionKey, AdminProtocolVersion},
                            {IdKey, id},
                            {QStringLiteral("ok"), true},
                            {QStringLiteral("result"), result}});
}

QByteArray encodeAdminError(const QJsonValue &id, const QString &code, const QString &message)
{
    return line(QJsonObject{{VersionKey, AdminProtocolVersion},
                            {IdKey, id},
                            {QStringLiteral("ok"), false},
                            {QStringLiteral("error"), QJsonObject{{QStringLiteral("code"), code},
                                                                  {QStringLiteral("message"), message}}}});
}

QByteArray encodeAdminEvent(const QString &event, const QJsonObject &fields)
{
    QJsonObject object = fields;
    object.insert(VersionKey, AdminProtocolVersion);
    object.insert(QStringLiteral("event"), event);
    return line(object);
}

AdminMessage parseAdminMessage(QByteArrayView bytes)
{
    AdminMessage message;
    QJsonParseError error;
    const QJsonDocument document =
        QJsonDocument::fromJson(QByteArray::fromRawData(bytes.data(), bytes.size()), &error);
    if (error.error != QJsonParseError::NoError || !document.isObject()) {
        message.error = AdminProblem{QString(AdminErrorCode::BadJson),
                                     QStringLiteral("the broker sent a line that is not a JSON object")};
        return message;
    }
    message.object = document.object();
    if (message.object.value(VersionKey) != QJsonValue(AdminProtocolVersion)) {
        message.error = AdminProblem{QString(AdminErrorCode::UnsupportedVersion),
                                     QStringLiteral("the broker speaks another admin protocol version")};
        return message;
    }
    if (message.object.contains(QLatin1String("event"))) {
        message.kind = AdminMessage::Kind::Event;
        message.event = message.object.value(QLatin1String("event")).toString();
        return message;
    }
    const QJsonValue ok = message.object.value(QLatin1String("ok"));
    if (!ok.isBool()) {
        message.error =
            AdminProblem{QString(AdminErrorCode::BadRequest), QStringLiteral("a reply without \"ok\"")};
        return message;
    }
    message.kind = AdminMessage::Kind::Reply;
    message.id = message.object.value(IdKey);
    message.ok = ok.toBool();
    if (message.ok) {
        message.result = message.object.value(QLatin1String("result"));
    } else {
        const QJsonObject error = message.object.value(QLatin1String("error")).toObject();
        message.error = AdminProblem{error.value(QLatin1String("code")).toString(),
                                     error.value(QLatin1String("message")).toString()};
    }
    return message;
}

AdminLineReader::AdminLineReader(qsizetype maxLineBytes)
    : m_maxLineBytes(maxLineBytes)
{}

AdminLineReader::Chunk AdminLineReader::feed(QByteArrayView bytes)
{
    Chunk chunk;
    if (m_overflowed)
        return chunk;
    qsizetype start = 0;
    while (start < bytes.size()) {
        const qsizetype newline = bytes.indexOf('\n', start);
        const QByteArrayView piece = bytes.sliced(start, (newline < 0 ? bytes.size() : newline) - start);
        if (m_buffer.size() + piece.size() > m_maxLineBytes) {
            m_overflowed = true;
            m_buffer.clear();
            chunk.overflow = true;
            return chunk;
        }
        m_buffer.append(piece);
        if (newline < 0)
            break;
        if (m_buffer.endsWith('\r'))
            m_buffer.chop(1);
        if (!m_buffer.isEmpty())
            chunk.lines.append(std::exchange(m_buffer, QByteArray()));
        start = newline + 1;
    }
    return chunk;
}

QJsonValue adminTimestamp(qint64 msSinceEpoch)
{
    if (msSinceEpoch <= 0)
        return QJsonValue::Null;
    return QDateTime::fromMSecsSinceEpoch(msSinceEpoch, Qt::UTC).toString(Qt::ISODateWithMs);
}

qint64 parseAdminTimestamp(const QJsonValue &value)
{
    if (!value.isString())
        return 0;
    const QDateTime time = QDateTime::fromString(value.toString(), Qt::ISODateWithMs);
    return time.isValid() ? time.toMSecsSinceEpoch() : 0;
}

QJsonObject SessionInfo::toJson() const
{
    return QJsonObject{
        {QStringLiteral("id"), id},
        {QStringLiteral("user"), user},
        {QStringLiteral("client"), client.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(client)},
        {QStringLiteral("state"), state},
        {QStringLiteral("created"), adminTimestamp(createdMs)},
        {QStringLiteral("last_active"), adminTimestamp(lastActiveMs)},
        {QStringLiteral("idle_seconds"), idleMs / 1000},
        {QStringLiteral("active"), active},
        {QStringLiteral("token_expires"), adminTimestamp(tokenExpiresMs)},
        {QStringLiteral("child_pid"), pidValue(childPid)},
        {QStringLiteral("pending_requests"), pendingRequests},
        {QStringLiteral("kind"), kind},
    };
}

AdminEvent AdminEvent::fromJson(const QString &name, const QJsonObject &message)
{
    return {name, SessionInfo::fromJson(message.value(QLatin1String("session")).toObject()),
            message.value(QLatin1String("reason")).toString()};
}

std::optional<SessionInfo> SessionInfo::fromJson(const QJsonObject &object)
{
    const QJsonValue id = object.value(QLatin1String("id"));
    if (!id.isString() || id.toString().isEmpty())
        return std::nullopt;
    SessionInfo info;
    info.id = id.toString();
    info.user = object.value(QLatin1String("user")).toString();
    info.client = object.value(QLatin1String("client")).toString();
    info.state = object.value(QLatin1String("state")).toString();
    info.createdMs = parseAdminTimestamp(object.value(QLatin1String("created")));
    info.lastActiveMs = parseAdminTimestamp(object.value(QLatin1String("last_active")));
    info.idleMs = qint64(object.value(QLatin1String("idle_seconds")).toDouble()) * 1000;
    info.active = object.value(QLatin1String("active")).toBool();
    info.tokenExpiresMs = parseAdminTimestamp(object.value(QLatin1String("token_expires")));
    info.childPid = qint64(object.value(QLatin1String("child_pid")).toDouble());
    info.pendingRequests = object.value(QLatin1String("pending_requests")).toInt();
    // A daemon from before issue 13 sends no kind: all its entries are sessions.
    info.kind = object.value(QLatin1String("kind")).toString(info.kind);
    return info;
}

QJsonObject sessionListToJson(const QList<SessionInfo> &sessions)
{
    QJsonArray array;
    for (const SessionInfo &info : sessions)
        array.append(info.toJson());
    return QJsonObject{{QStringLiteral("sessions"), array}};
}

QList<SessionInfo> sessionListFromJson(const QJsonValue &result)
{
    QList<SessionInfo> sessions;
    const QJsonArray array = result.toObject().value(QLatin1String("sessions")).toArray();
    for (const QJsonValue &value : array) {
        if (std::optional<SessionInfo> info = SessionInfo::fromJson(value.toObject()))
            sessions.append(*info);
    }
    return sessions;
}

QJsonObject DaemonInfo::toJson() const
{
    return QJsonObject{
        {QStringLiteral("version"), version},
        {QStringLiteral("node_id"), nodeId},
        {QStringLiteral("pid"), pid},
        {QStringLiteral("started"), adminTimestamp(startedMs)},
        {QStringLiteral("uptime_seconds"), uptimeSeconds},
        {QStringLiteral("listen_url"), listenUrl},
        {QStringLiteral("auth_mode"), authMode},
        {QStringLiteral("admin_socket"), adminSocket},
        {QStringLiteral("sessions"), sessions},
        {QStringLiteral("stopping_sessions"), stoppingSessions},
        {QStringLiteral("max_sessions"), maxSessions},
        {QStringLiteral("users"), users},
        {QStringLiteral("admin_clients"), adminClients},
        {QStringLiteral("subscribers"), subscribers},
        {QStringLiteral("refresh_lead_seconds"), refreshLeadSeconds},
        {QStringLiteral("counters"), counters.toJson()},
    };
}

DaemonInfo DaemonInfo::fromJson(const QJsonObject &object)
{
    DaemonInfo info;
    info.version = object.value(QLatin1String("version")).toString();
    info.nodeId = object.value(QLatin1String("node_id")).toString();
    info.pid = qint64(object.value(QLatin1String("pid")).toDouble());
    info.startedMs = parseAdminTimestamp(object.value(QLatin1String("started")));
    info.uptimeSeconds = qint64(object.value(QLatin1String("uptime_seconds")).toDouble());
    info.listenUrl = object.value(QLatin1String("listen_url")).toString();
    info.authMode = object.value(QLatin1String("auth_mode")).toString();
    info.adminSocket = object.value(QLatin1String("admin_socket")).toString();
    info.sessions = object.value(QLatin1String("sessions")).toInt();
    info.stoppingSessions = object.value(QLatin1String("stopping_sessions")).toInt();
    info.maxSessions = object.value(QLatin1String("max_sessions")).toInt();
    info.users = object.value(QLatin1String("users")).toInt();
    info.adminClients = object.value(QLatin1String("admin_clients")).toInt();
    info.subscribers = object.value(QLatin1String("subscribers")).toInt();
    info.refreshLeadSeconds = object.value(QLatin1String("refresh_lead_seconds")).toInt(300);
    info.counters = ActivityCounters::fromJson(object.value(QLatin1String("counters")).toObject());
    return info;
}

QJsonObject BrokerStatus::toJson() const
{
    return QJsonObject{
        {QStringLiteral("node_id"), nodeId},
        {QStringLiteral("host"), host},
        {QStringLiteral("pid"), pidValue(pid)},
        {QStringLiteral("listen_url"), listenUrl},
        {QStringLiteral("started"), adminTimestamp(startedMs)},
        {QStringLiteral("heartbeat"), adminTimestamp(heartbeatMs)},
        {QStringLiteral("heartbeat_age_ms"), heartbeatAgeMs},
        {QStringLiteral("stale_after_ms"), staleAfterMs},
        {QStringLiteral("stale"), stale},
        {QStringLiteral("stopped"), adminTimestamp(stoppedMs)},
        {QStringLiteral("sessions"), sessions},
        {QStringLiteral("user_children"), userChildren},
        {QStringLiteral("self"), self},
    };
}

BrokerStatus BrokerStatus::fromJson(const QJsonObject &object)
{
    BrokerStatus status;
    status.nodeId = object.value(QLatin1String("node_id")).toString();
    status.host = object.value(QLatin1String("host")).toString();
    status.pid = qint64(object.value(QLatin1String("pid")).toDouble());
    status.listenUrl = object.value(QLatin1String("listen_url")).toString();
    status.startedMs = parseAdminTimestamp(object.value(QLatin1String("started")));
    status.heartbeatMs = parseAdminTimestamp(object.value(QLatin1String("heartbeat")));
    status.heartbeatAgeMs = qint64(object.value(QLatin1String("heartbeat_age_ms")).toDouble());
    status.staleAfterMs = qint64(object.value(QLatin1String("stale_after_ms")).toDouble());
    status.stale = object.value(QLatin1String("stale")).toBool();
    status.stoppedMs = parseAdminTimestamp(object.value(QLatin1String("stopped")));
    status.sessions = object.value(QLatin1String("sessions")).toInt();
    status.userChildren = object.value(QLatin1String("user_children")).toInt();
    status.self = object.value(QLatin1String("self")).toBool();
    return status;
}

QJsonObject BrokerList::toJson() const
{
    QJsonArray array;
    for (const BrokerStatus &broker : brokers)
        array.append(broker.toJson());
    return QJsonObject{{QStringLiteral("source"), source}, {QStringLiteral("brokers"), array}};
}

BrokerList BrokerList::fromJson(const QJsonObject &object)
{
    BrokerList list;
    list.source = object.value(QLatin1String("source")).toString();
    const QJsonArray array = object.value(QLatin1String("brokers")).toArray();
    for (const QJsonValue &item : array) {
        if (item.isObject())
            list.brokers.append(BrokerStatus::fromJson(item.toObject()));
    }
    return list;
}

QJsonObject ActivityCounters::toJson() const
{
    // JSON numbers are doubles: exact up to 2^53, far beyond any daemon's life.
    return QJsonObject{
        {QStringLiteral("requests"), double(requests)},
        {QStringLiteral("refreshes"), double(refreshes)},
        {QStringLiteral("refresh_failures"), double(refreshFailures)},
        {QStringLiteral("errors"), double(errors)},
    };
}

ActivityCounters ActivityCounters::fromJson(const QJsonObject &object)
{
    const auto count = [&object](QLatin1String key) -> quint64 {
        const double value = object.value(key).toDouble();
        return value > 0 ? quint64(value) : 0;
    };
    return ActivityCounters{count(QLatin1String("requests")), count(QLatin1String("refreshes")),
                            count(QLatin1String("refresh_failures")), count(QLatin1String("errors"))};
}

QJsonObject EvictOutcome::toJson() const
{
    return QJsonObject{{QStringLiteral("evicted"), toArray(evicted)},
                       {QStringLiteral("not_found"), toArray(notFound)},
                       {QStringLiteral("ambiguous"), toArray(ambiguous)}};
}

EvictOutcome EvictOutcome::fromJson(const QJsonObject &object)
{
    return EvictOutcome{toStringList(object.value(QLatin1String("evicted"))),
                        toStringList(object.value(QLatin1String("not_found"))),
                        toStringList(object.value(QLatin1String("ambiguous")))};
}

QJsonObject RevokeOutcome::toJson() const
{
    return QJsonObject{{QStringLiteral("user"), user},
                       {QStringLiteral("sessions"), sessions},
                       {QStringLiteral("grants"), grants},
                       {QStringLiteral("broker_tokens"), brokerTokens},
                       {QStringLiteral("upstream_tokens"), upstreamTokens}};
}

RevokeOutcome RevokeOutcome::fromJson(const QJsonObject &object)
{
    RevokeOutcome outcome;
    outcome.user = object.value(QLatin1String("user")).toString();
    outcome.sessions = object.value(QLatin1String("sessions")).toInt();
    outcome.grants = object.value(QLatin1String("grants")).toInt();
    outcome.brokerTokens = object.value(QLatin1String("broker_tokens")).toInt();
    outcome.upstreamTokens = object.value(QLatin1String("upstream_tokens")).toInt();
    return outcome;
}

EvictSelector EvictSelector::ofSessions(const QStringList &ids)
{
    EvictSelector selector;
    selector.sessions = ids;
    return selector;
}

EvictSelector EvictSelector::ofUser(const QString &user)
{
    EvictSelector selector;
    selector.user = user;
    return selector;
}

EvictSelector EvictSelector::everything()
{
    EvictSelector selector;
    selector.all = true;
    return selector;
}

QJsonObject EvictSelector::toJson() const
{
    if (all)
        return QJsonObject{{QStringLiteral("all"), true}};
    if (!user.isEmpty())
        return QJsonObject{{QStringLiteral("user"), user}};
    return QJsonObject{{QStringLiteral("sessions"), QJsonArray::fromStringList(sessions)}};
}

EvictOutcome resolveEvictTargets(const QStringList &asked, const QStringList &liveIds)
{
    EvictOutcome outcome;
    for (const QString &wanted : asked) {
        if (liveIds.contains(wanted)) {
            if (!outcome.evicted.contains(wanted))
                outcome.evicted.append(wanted);
            continue;
        }
        QStringList matches;
        if (wanted.size() >= EvictMinPrefix) {
            for (const QString &id : liveIds) {
                // Also the random part after a node id (issue 14): what the log shows.
                if (id.startsWith(wanted) || id.right(RandomIdHexDigits).startsWith(wanted))
                    matches.append(id);
            }
        }
        if (matches.size() == 1) {
            if (!outcome.evicted.contains(matches.constFirst()))
                outcome.evicted.append(matches.constFirst());
        } else if (matches.size() > 1) {
            outcome.ambiguous.append(wanted);
        } else {
            outcome.notFound.append(wanted);
        }
    }
    return outcome;
}

} // namespace fmb
