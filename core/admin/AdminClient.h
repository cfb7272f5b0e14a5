#pragma once

#include <chrono>
#include <functional>
#include <map>

#include <QJsonObject>
#include <QObject>
#include <QPointer>

#include "AdminProtocol.h"
#include "AdminTarget.h"
#include "SshTunnel.h"

class QLocalSocket;
class QTimer;

namespace fmb {

struct AdminReply {
    bool ok = false;
    QJsonValue result;  // ok
    AdminProblem error; // !ok; code "disconnected" when the connection went first
};

// The client end of the admin socket, for forgejo-mcp-brokerctl and the
// console: connects to a local socket or through an SshTunnel, sends requests
// and hands each reply to its handler, and passes pushed events on.
class AdminClient final : public QObject {
    Q_OBJECT
public:
    enum class State { Disconnected, Connecting, Connected };
    Q_ENUM(State)
    using ReplyHandler = std::function<void(const AdminReply &reply)>;

    explicit AdminClient(QObject *parent = nullptr);
    ~AdminClient() override;

    void setSshOptions(const SshOptions &options) { m_sshOptions = options; }
    // How long the broker may leave a request unanswered (0: forever): a
    // broker that accepts but never answers is then dropped as disconnected
    // (issue 14), and every pending handler gets the error.
    void setReplyTimeout(std::chrono::milliseconds timeout);

    // connected() or connectionFailed() follows, never before this returns.
    // Any previous connection is closed first (its handlers get "disconnected").
    void connectTo(const AdminTarget &target);
    // Closes the connection (and the ssh forward); no disconnected() follows.
    void disconnectFromDaemon();

    [[nodiscard]] State state() const { return m_state; }
    [[nodiscard]] const AdminTarget &target() const { return m_target; }

    // Sends one request. The handler runs once: with the reply, or with a
    // "disconnected" error when the connection ends first (never, when this
    // client is destroyed first). Returns its id.
    qint64 request(const QString &command, const QJsonObject &fields, ReplyHandler handler);

    // The commands, decoded, for brokerctl and the console alike. Each
    // handler runs once as request()'s does; the value is decoded only when
    // reply.ok (else it is empty), and reply.result keeps the result as sent.
    using SessionsHandler = std::function<void(const AdminReply &reply, const QList<SessionInfo> &sessions)>;
    using InfoHandler = std::function<void(const AdminReply &reply, const DaemonInfo &info)>;
    using EvictHandler = std::function<void(const AdminReply &reply, const EvictOutcome &outcome)>;
    using RevokeHandler = std::function<void(const AdminReply &reply, const RevokeOutcome &outcome)>;
    using BrokersHandler = std::function<void(const AdminReply &reply, const BrokerList &brokers)>;
    qint64 listSessions(SessionsHandler handler);
    // The sessions at this moment; eventReceived() carries what follows.
    qint64 subscribe(SessionsHandler handler);
    qint64 info(InfoHandler handler);
    qint64 evict(const EvictSelector &selector, EvictHandler handler);
    // Ends the user's sessions and takes their grants and tokens (issue 15).
    qint64 revoke(const QString &user, RevokeHandler handler);
    // The brokers of the cluster (issue 14); unknown_command from older daemons.
    qint64 brokers(BrokersHandler handler);

Q_SIGNALS:
    void stateChanged(fmb::AdminClient::State state);
    void connected();
    void connectionFailed(const QString &message); // instead of connected()
    void disconnected(const QString &reason);      // after connected()
    // A pushed event as sent (brokerctl --json), then the same decoded.
    void eventReceived(const QString &event, const QJsonObject &message);
    void sessionEvent(const fmb::AdminEvent &event);

private:
    qint64 requestSessions(const QString &command, SessionsHandler handler);
    void connectSocket(const QString &path);
    void onSocketConnected();
    void onSocketError();
    void onSocketDisconnected();
    void onReadyRead();
    void handleLine(const QByteArray &line);
    void finish(bool wasConnected, const QString &message);
    void failPending(const QString &message);
    void onReplyTimeout();
    void setState(State state);
    [[nodiscard]] QString describeLocalFailure(const QString &path) const;

    AdminTarget m_target;
    SshOptions m_sshOptions;
    QPointer<QLocalSocket> m_socket; // child
    QPointer<SshTunnel> m_tunnel;    // child
    AdminLineReader m_reader;
    std::map<qint64, ReplyHandler> m_pending;
    qint64 m_nextId = 1;
    State m_state = State::Disconnected;
    QString m_refusal; // an error line without id: why the broker is closing on us
    std::chrono::milliseconds m_replyTimeout{0};
    QTimer *m_replyTimer = nullptr; // child; runs while a request waits, restarts on each reply
};

} // namespace fmb
