#pragma once

#include <optional>

#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>
#include <QStringList>

namespace fmb {

// The admin protocol, version 1: one JSON object per line (UTF-8, '\n'),
// spoken over the admin socket by forgejo-mcp-brokerctl and the console.
//
//   -> {"v":1,"id":7,"cmd":"list"}
//   <- {"v":1,"id":7,"ok":true,"result":{"sessions":[...]}}
//   <- {"v":1,"id":7,"ok":false,"error":{"code":"unknown_command","message":"..."}}
//   <- {"v":1,"event":"session.started","session":{...}}   (after "subscribe")
//
// Commands: info, list, evict ("sessions":[ids or unique prefixes] | "session":id
// | "user":login | "all":true), revoke ("user":login: evict with reason "revoked",
// and take the user's grants, broker tokens and stored Forgejo tokens; added
// in issue 15, older daemons answer unknown_command), subscribe (the reply
// holds the sessions at that moment, then events follow), unsubscribe, brokers
// (the brokers of a cluster with heartbeat age and a stale flag, BrokerList;
// added in issue 14, older daemons answer unknown_command). Pure: no I/O here, so the parser and
// encoder test without an event loop (STYLE.md §1).
constexpr int AdminProtocolVersion = 1;
// Longer request lines get "line_too_long" and the connection is closed.
constexpr qsizetype AdminMaxLineBytes = 64 * 1024;

namespace AdminErrorCode {
inline constexpr QLatin1String BadJson("bad_json");                       // not JSON
inline constexpr QLatin1String BadRequest("bad_request");                 // JSON, but the wrong shape
inline constexpr QLatin1String MissingField("missing_field");             // a required member is absent
inline constexpr QLatin1String UnsupportedVersion("unsupported_version"); // "v" is not 1
inline constexpr QLatin1String UnknownCommand("unknown_command");
inline constexpr QLatin1String LineTooLong("line_too_long"); // then the server closes
inline constexpr QLatin1String Forbidden("forbidden");       // another uid; then closed
inline constexpr QLatin1String Busy("busy");                 // too many admin clients; then closed
inline constexpr QLatin1String Disconnected("disconnected"); // client side: no answer came
inline constexpr QLatin1String Unavailable("unavailable"); // revoke: no token store (local mode) or it failed
} // namespace AdminErrorCode

namespace AdminEventName {
inline constexpr QLatin1String SessionStarted("session.started");
inline constexpr QLatin1String SessionUpdated("session.updated"); // state changed (e.g. ready)
inline constexpr QLatin1String SessionRotated("session.rotated"); // new backend swapped in
inline constexpr QLatin1String TokenExpiry("session.token_expiry");
inline constexpr QLatin1String SessionActivity("session.activity"); // rate-limited per session
inline constexpr QLatin1String SessionEnded("session.ended");       // carries "reason"
} // namespace AdminEventName

enum class AdminCommand { Info, List, Evict, Revoke, Subscribe, Unsubscribe, Brokers };

struct AdminRequest {
    QJsonValue id; // echoed in the reply; null when absent
    AdminCommand command = AdminCommand::Info;
    QStringList sessions; // evict: full ids or unique prefixes
    QString user;         // evict: every session of this user; revoke: the user
    bool all = false;     // evict: every session
};

struct AdminProblem {
    QString code; // one of AdminErrorCode
    QString message;
};

struct ParsedAdminRequest {
    AdminRequest request; // request.id is set whenever the line carried a usable id
    AdminProblem problem; // empty code: the request is good
    [[nodiscard]] bool ok() const { return problem.code.isEmpty(); }
};

[[nodiscard]] ParsedAdminRequest parseAdminRequest(QByteArrayView line);
[[nodiscard]] QString adminCommandName(AdminCommand command);

// Each encoder returns one complete line, '\n' included.
[[nodiscard]] QByteArray encodeAdminRequest(const QJsonValue &id, const QString &command,
                                            const QJsonObject &fields = {});
[[nodiscard]] QByteArray encodeAdminResult(const QJsonValue &id, const QJsonValue &result);
[[nodiscard]] QByteArray encodeAdminError(const QJsonValue &id, const QString &code, const QString &message);
[[nodiscard]] QByteArray encodeAdminEvent(const QString &event, const QJsonObject &fields);

// A line from the daemon, as a client reads it.
struct AdminMessage {
    enum class Kind { Invalid, Reply, Event };
    Kind kind = Kind::Invalid;
    QJsonValue id;      // Reply
    bool ok = false;    // Reply
    QJsonValue result;  // Reply, ok
    AdminProblem error; // Reply, !ok; Invalid: why
    QString event;      // Event
    QJsonObject object; // the whole line
};
[[nodiscard]] AdminMessage parseAdminMessage(QByteArrayView line);

// Splits the incoming byte stream into lines. Once a line grows past the limit
// the reader reports the overflow and takes nothing more (the server answers
// line_too_long and closes). Empty lines are skipped; a trailing '\r' is cut.
class AdminLineReader final {
public:
    explicit AdminLineReader(qsizetype maxLineBytes = AdminMaxLineBytes);

    struct Chunk {
        QList<QByteArray> lines;
        bool overflow = false; // the lines before it are still good
    };
    [[nodiscard]] Chunk feed(QByteArrayView bytes);
    [[nodiscard]] bool overflowed() const { return m_overflowed; }
    [[nodiscard]] qsizetype buffered() const { return m_buffer.size(); }

private:
    qsizetype m_maxLineBytes;
    QByteArray m_buffer;
    bool m_overflowed = false;
};

// ISO 8601 in UTC with milliseconds ("2026-01-02T03:04:05.678Z"); 0 <-> null.
[[nodiscard]] QJsonValue adminTimestamp(qint64 msSinceEpoch);
[[nodiscard]] qint64 parseAdminTimestamp(const QJsonValue &value);

// One session as list, subscribe and events describe it.
struct SessionInfo {
    QString id;
    QString user;
    QString client;       // clientInfo.name of its initialize; empty until known
    QString state;        // starting, ready, respawning, stopping; "ended" in session.ended
    qint64 createdMs = 0; // wall clock, ms since the epoch
    qint64 lastActiveMs = 0;
    qint64 idleMs = 0;         // since the last client activity; 0 while active
    bool active = false;       // a stream is open or a request waits
    qint64 tokenExpiresMs = 0; // 0: no upstream token (local mode) -> JSON null
    qint64 childPid = 0;       // 0: none -> JSON null
    int pendingRequests = 0;
    // "session", or "user child": the child serving every 2026-07-28 request
    // of one user (issue 13); its pendingRequests are the requests in flight.
    QString kind = QStringLiteral("session");

    [[nodiscard]] bool isUserChild() const { return kind == QLatin1String("user child"); }
    [[nodiscard]] QJsonObject toJson() const;
    // Null when the object has no string "id".
    [[nodiscard]] static std::optional<SessionInfo> fromJson(const QJsonObject &object);
    friend bool operator==(const SessionInfo &, const SessionInfo &) = default;
};

// A pushed event (after "subscribe"), decoded once for the console and
// brokerctl alike: {"event":NAME,"session":{...},"reason":"..."}.
struct AdminEvent {
    QString name;                       // AdminEventName::...
    std::optional<SessionInfo> session; // null when the event carries none with an "id"
    QString reason;                     // session.ended: why; else empty

    [[nodiscard]] static AdminEvent fromJson(const QString &name, const QJsonObject &message);
};

// What "list" and "subscribe" answer: {"sessions":[...]}, oldest first.
[[nodiscard]] QJsonObject sessionListToJson(const QList<SessionInfo> &sessions);
// Entries without a string "id" are skipped.
[[nodiscard]] QList<SessionInfo> sessionListFromJson(const QJsonValue &result);

// Counts since the daemon started, for rates (the console's charts): the
// same process-wide counters /metrics serves, so the two never disagree.
struct ActivityCounters {
    quint64 requests = 0;        // MCP requests relayed to children (every method)
    quint64 refreshes = 0;       // upstream token refreshes that succeeded
    quint64 refreshFailures = 0; // refused by the forge or the forge unreachable
    quint64 errors = 0;          // HTTP responses with a 5xx status

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static ActivityCounters fromJson(const QJsonObject &object);
    friend bool operator==(const ActivityCounters &, const ActivityCounters &) = default;
};

// What "info" answers.
struct DaemonInfo {
    QString version;
    QString nodeId; // --node-id: which broker of a cluster (issue 14)
    qint64 pid = 0;
    qint64 startedMs = 0;
    qint64 uptimeSeconds = 0;
    QString listenUrl;
    QString authMode; // "none" (local mode) or "oauth"
    QString adminSocket;
    int sessions = 0;
    int stoppingSessions = 0;
    int maxSessions = 0;
    int users = 0;
    int adminClients = 0;
    int subscribers = 0;
    int refreshLeadSeconds = 300; // token rotation lead: the console marks expiry within it
    ActivityCounters counters;    // "counters"; all zero from a daemon that predates them

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static DaemonInfo fromJson(const QJsonObject &object);
};

// What "evict" answers.
struct EvictOutcome {
    QStringList evicted;   // full ids
    QStringList notFound;  // as asked
    QStringList ambiguous; // prefixes matching more than one session

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static EvictOutcome fromJson(const QJsonObject &object);
};

// What "revoke" answers: how much of the user went.
struct RevokeOutcome {
    QString user;
    int sessions = 0;       // ended, with reason "revoked"
    int grants = 0;         // revoked
    int brokerTokens = 0;   // live access and refresh tokens revoked
    int upstreamTokens = 0; // grants whose stored Forgejo tokens were deleted

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static RevokeOutcome fromJson(const QJsonObject &object);
    friend bool operator==(const RevokeOutcome &, const RevokeOutcome &) = default;
};

// One broker as "brokers" describes it (issue 14).
struct BrokerStatus {
    QString nodeId;
    QString host;
    qint64 pid = 0;
    QString listenUrl;
    qint64 startedMs = 0;
    qint64 heartbeatMs = 0;    // the last heartbeat (the database's clock); 0: none
    qint64 heartbeatAgeMs = 0; // how long ago, by the database's clock
    qint64 staleAfterMs = 0;   // the bound: an age over it without a clean stop is stale
    bool stale = false;        // stopped beating without stopping cleanly (killed, hung, cut off)
    qint64 stoppedMs = 0;      // stopped cleanly at; 0 while running
    int sessions = 0;
    int userChildren = 0;
    bool self = false; // the broker that answered

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static BrokerStatus fromJson(const QJsonObject &object);
    friend bool operator==(const BrokerStatus &, const BrokerStatus &) = default;
};

// What "brokers" answers: {"source":"database"|"self","brokers":[...]} by
// node id. "self": a single broker (SQLite store or local mode) keeps no
// directory and lists only itself.
struct BrokerList {
    QString source;
    QList<BrokerStatus> brokers;

    [[nodiscard]] QJsonObject toJson() const;
    [[nodiscard]] static BrokerList fromJson(const QJsonObject &object);
};

// Whom an "evict" names: one of full ids or unique prefixes, a user, or everyone.
struct EvictSelector {
    QStringList sessions;
    QString user;
    bool all = false;

    [[nodiscard]] static EvictSelector ofSessions(const QStringList &ids);
    [[nodiscard]] static EvictSelector ofUser(const QString &user);
    [[nodiscard]] static EvictSelector everything();
    // The request's fields: "all", else "user", else "sessions".
    [[nodiscard]] QJsonObject toJson() const;
};

// Resolves evict's "sessions" against the live ids: a full id or a unique
// prefix of at least MinPrefix characters names one session.
constexpr qsizetype EvictMinPrefix = 6;
[[nodiscard]] EvictOutcome resolveEvictTargets(const QStringList &asked, const QStringList &liveIds);

} // namespace fmb
