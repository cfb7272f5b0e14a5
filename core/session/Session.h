#pragma once

#include <chrono>
#include <map>
#include <memory>

#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>

#include "EventBuffer.h"
#include "ReplayLog.h"
#include "StreamSink.h"
#include "base/Metrics.h"
#include "base/Result.h"
#include "base/SessionOwner.h"
#include "base/TokenBucket.h"
#include "child/Backend.h"
#include "jsonrpc/JsonRpc.h"

namespace fmb {

// The random part of a session id: 192 bits as hex, after "NODEID-" when the
// registry has a node id (issue 14).
inline constexpr qsizetype RandomIdHexDigits = 48;

// How logs name a session: 8 hex digits of its random part (after any
// node-id prefix), enough to grep for and no use to a reader of the log.
[[nodiscard]] QString shortSessionId(const QString &id);

struct StreamLimits {
    qsizetype maxEvents = 256;            // per SSE stream, for redelivery
    qsizetype maxBytes = 2 * 1024 * 1024; // per SSE stream
    int retainedStreams = 8;              // finished POST streams kept for a reconnect
    int retryMs = 1000;                   // the SSE retry field of priming events
    int respawnTimeoutMs = 30000;         // a respawned backend must answer initialize by then
    // What one client can make a session hold (issue 11); a request beyond a
    // cap is answered with JSON-RPC error LimitReached and never reaches the server.
    int maxPendingRequests = 1000; // client requests awaiting their answer
    int maxSubscriptions = 1000;   // distinct resources/subscribe URIs
    int maxServerRequests = 256;   // server->client requests awaiting the client's answer
};

// Its own namespace: one Q_NAMESPACE per namespace (see jsonrpc/JsonRpc.h).
namespace session {
Q_NAMESPACE
enum class SessionState { Starting, Ready, Respawning, Stopping };
Q_ENUM_NS(SessionState)
// A client's session (one child per MCP session), or the child the broker
// runs for all 2026-07-28 requests of one user (issue 13): the broker is its
// only client, so its ids are broker-owned and it has no GET stream.
enum class SessionKind { Client, UserChild };
Q_ENUM_NS(SessionKind)
// Why a session refused a client's POST or GET. Transport maps each to its
// HTTP status (StatusTable::failureOf); the session never picks one.
enum class Refusal {
    Ending,             // the session is stopping
    DuplicateRequestId, // a POST reuses a request id that is still pending
    StreamHasReader,    // a GET names a stream that has a reader already
};
Q_ENUM_NS(Refusal)
} // namespace session
using session::Refusal;
using session::SessionKind;
using session::SessionState;

struct SessionRefusal {
    Refusal kind = Refusal::Ending;
    QString subject; // the session or request id
    QString message; // for people
};

// One MCP session: its id, owner, current backend (child process), the
// client's pending requests and SSE streams, and the replay log used to
// respawn the backend invisibly (token rotation).
//
// Messages the backend writes are routed: a response to the stream of the
// POST that carried its request; a notification or server-to-client request
// to the stream of the request it belongs to (progress token, else the
// newest pending request), else to the standalone GET stream. A POST's answer
// stays plain JSON until something other than its response arrives for it;
// then it becomes an SSE stream (lazily).
//
// Lifetime: owned by SessionRegistry. ended() fires once, when the session
// stops serving (evicted, backend exited); finished() fires once, after every
// backend it started has exited — then the owner deletes it.
class Session final : public QObject {
    Q_OBJECT
public:
    Session(QString id, SessionOwner owner, StreamLimits limits, QObject *parent = nullptr);
    ~Session() override;

    [[nodiscard]] const QString &id() const { return m_id; }
    [[nodiscard]] const SessionOwner &owner() const { return m_owner; }
    [[nodiscard]] SessionState state() const { return m_state; }
    [[nodiscard]] SessionKind kind() const { return m_kind; }
    // A user child routes server messages by progress token only (other
    // requests in flight belong to other clients); a server request
    // (sampling, elicitation, roots) goes to the stream of the newest
    // tools/call, resources/read or prompts/get in flight, whose sink turns
    // it into input_required (2026-07-28 mrtr), and is refused when there is
    // none. The answer comes back as a client response (post()); the stream
    // resumes with openStream() and the event id of that request. Set
    // before start().
    void setKind(SessionKind kind) { m_kind = kind; }
    // The backend's answer to the first initialize (empty until ready()).
    [[nodiscard]] const QJsonObject &initializeResult() const { return m_initializeResult; }
    [[nodiscard]] qint64 createdMs() const { return m_createdMs; } // wall clock, ms since epoch
    // Rises with every Session made in this process: orders sessions made in one millisecond.
    [[nodiscard]] quint64 creationOrder() const { return m_creationOrder; }
    [[nodiscard]] qint64 lastActiveMs() const { return m_lastActiveMs; } // wall clock, ms since epoch
    [[nodiscard]] QString clientName() const;
    [[nodiscard]] QString protocolVersion() const { return m_protocolVersion; }
    [[nodiscard]] qint64 backendPid() const;
    [[nodiscard]] const ReplayLog &replayLog() const { return m_replay; }
    [[nodiscard]] int pendingRequests() const { return int(m_pending.size()); }
    // Slots the pending-request table holds memory for: 0 while none are
    // pending (an idle session keeps no table).
    [[nodiscard]] qsizetype pendingCapacity() const { return m_pending.capacity(); }
    // When the upstream (Forgejo) token the backend runs with expires, in ms
    // since the epoch; 0 when there is none (local mode).
    [[nodiscard]] qint64 tokenExpiresMs() const { return m_tokenExpiresMs; }
    void setTokenExpiresMs(qint64 expiresMs);

    // An open GET stream or a request whose client still waits counts as activity.
    [[nodiscard]] bool isActive() const;
    // Milliseconds since the last client activity (0 while active).
    [[nodiscard]] qint64 idleMs() const;

    // Takes the backend (reparented to this session) and starts it.
    void start(std::unique_ptr<Backend> backend);

    // Client -> server messages of one POST. Requests are answered on sink,
    // which must be non-null when there is a request; returns true when a
    // stream took the sink (false: only notifications/responses, answer 202).
    // Refused with DuplicateRequestId (a request id that is still pending)
    // or Ending.
    [[nodiscard]] Result<bool, SessionRefusal> post(const QList<JsonRpcMessage> &messages, bool batch,
                                                    StreamSink *sink);

    // GET: the standalone stream, or with Last-Event-ID the stream that id
    // belongs to, replaying what followed it. Refused with StreamHasReader
    // (that stream has a reader already) or Ending.
    [[nodiscard]] Result<void, SessionRefusal> openStream(StreamSink *sink, const QByteArray &lastEventId);

    // Starts `next`, replays the client's initialize (and initialized, logging
    // level, subscriptions) to it with broker-owned ids, and swaps it in once
    // it has answered initialize. The old backend finishes its in-flight
    // requests, then stops. backendSwapped or respawnFailed follows.
    void respawn(std::unique_ptr<Backend> next);

    // Ends the session: streams end, pending requests get an error, backends
    // stop. Idempotent.
    void stop(const QString &reason);

Q_SIGNALS:
    void ready(const QString &id);                        // the first initialize was answered
    void ended(const QString &id, const QString &reason); // once
    void finished(const QString &id);                     // once, after every backend exited
    void backendSwapped(const QString &id);
    void respawnFailed(const QString &id, const QString &reason);
    void activity(const QString &id);
    void tokenExpiryChanged(const QString &id);
    // A tools/call was answered (outcome "ok", or "error" for a JSON-RPC error
    // or a result with isError) or cancelled ("cancelled"), for the audit
    // trail: the tool's name and how long it took, never arguments or results.
    void toolCallFinished(const QString &id, const QString &tool, qint64 durationMs, const QString &outcome);

private:
    struct Stream {
        int id = 0;
        EventBuffer buffer;
        QPointer<StreamSink> sink;
        bool sse = false; // the response has become an event stream
        bool batch = false;
        int openRequests = 0;
        QList<QByteArray> jsonReplies; // answers collected while still plain JSON
        qint64 sentSeq = 0;            // last event written to a sink
        bool complete = false;         // every request answered
        Stream(int streamId, const StreamLimits &limits)
            : id(streamId)
            , buffer(limits.maxEvents, limits.maxBytes)
        {}
    };
    struct Pending {
        int streamId = 0;
        QPointer<Backend> backend;
        RequestId progressToken;
        bool initialize = false;
        metrics::Method method = metrics::Method::Other;
        QString tool;                                    // tools/call: params.name
        std::chrono::steady_clock::time_point forwarded; // for the operation-duration histogram
    };

    void attachBackend(Backend *backend);
    void onLine(Backend *from, const QByteArray &line);
    void onExited(Backend *from, const ExitInfo &info);
    void handleReplayResponse(Backend *from, const JsonRpcMessage &message);
    void forwardClientResponse(const JsonRpcMessage &message);
    void noteServerRequest(Backend *from, const JsonRpcMessage &message);
    // A user child's: the stream of the newest call of `from` that may ask for input, or null.
    [[nodiscard]] Stream *inputStreamFor(const Backend *from);
    // Why a client request must not go to the server (a cap), or empty.
    [[nodiscard]] QString refusalFor(const JsonRpcMessage &message) const;
    void swapToNext();
    void abandonNext(const QString &reason);
    void deliverResponse(const RequestId &id, const QByteArray &data,
                         AnswerKind failure = AnswerKind::Answered);
    void deliverMessage(Stream &stream, const QByteArray &data);
    // Releases a cancelled request; returns the backend that was running it.
    QPointer<Backend> forgetCancelled(const JsonRpcMessage &message);
    [[nodiscard]] Stream *routeFor(const JsonRpcMessage &message);
    void appendEvent(Stream &stream, const QByteArray &data);
    void flush(Stream &stream);
    void settle(Stream &stream);
    // `unavailable`: the backend never started for want of something that
    // may come back (ExitInfo::unavailable); a pending initialize says so.
    void failPending(Backend *backend, const QString &reason, bool unavailable = false);
    void stopBackendWhenIdle(Backend *backend);
    void touch();
    void watchSink(StreamSink *sink);
    [[nodiscard]] bool wantsPriming() const;
    [[nodiscard]] QByteArray eventId(const Stream &stream, qint64 seq) const;
    void maybeFinish();
    void releasePendingIfEmpty();
    void reportJunk(const QByteArray &line, const QString &reason);
    void flushJunkCount();

    QString m_id;
    SessionOwner m_owner;
    StreamLimits m_limits;
    SessionState m_state = SessionState::Starting;
    SessionKind m_kind = SessionKind::Client;
    QJsonObject m_initializeResult;
    qint64 m_createdMs = 0;
    quint64 m_creationOrder = 0;
    qint64 m_lastActiveMs = 0;
    std::chrono::steady_clock::time_point m_lastActive;
    QString m_protocolVersion;
    qint64 m_tokenExpiresMs = 0;
    ReplayLog m_replay;
    TokenBucket m_junkLog; // warnings about stdout lines that are not JSON-RPC

    QPointer<Backend> m_backend;         // current
    QPointer<Backend> m_next;            // being brought up by respawn()
    QString m_replayPrefix;              // broker-owned id prefix of the current respawn
    QList<QPointer<Backend>> m_draining; // swapped out, finishing in-flight requests
    int m_liveBackends = 0;              // started and not yet exited

    QHash<RequestId, Pending> m_pending;                  // by request id
    QHash<RequestId, RequestId> m_progress;               // progress token -> request id
    QHash<RequestId, QPointer<Backend>> m_serverRequests; // server->client request id -> asker
    std::map<int, std::unique_ptr<Stream>> m_streams;     // 0 = the standalone GET stream
    QList<int> m_retained; // finished streams kept for a reconnect, oldest first
    int m_nextStreamId = 1;
    int m_replayCounter = 0;
    bool m_ended = false;
    bool m_finished = false;
};

} // namespace fmb
