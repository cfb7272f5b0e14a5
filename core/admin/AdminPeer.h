#pragma once

#include <QObject>
#include <QPointer>

#include "AdminProtocol.h"

class QLocalSocket;

namespace fmb {

// One admin connection on the daemon's side: frames the socket's bytes into
// requests and queues replies and events, with a bound on what may wait
// unsent (a subscriber that stops reading is dropped, not buffered forever).
// Owned by AdminServer; the socket is our child.
class AdminPeer final : public QObject {
    Q_OBJECT
public:
    AdminPeer(quint64 id, QLocalSocket *socket, qsizetype maxLineBytes, qint64 maxQueuedBytes,
              QObject *parent = nullptr);
    ~AdminPeer() override;

    [[nodiscard]] quint64 id() const { return m_id; }
    [[nodiscard]] bool isOpen() const;
    [[nodiscard]] bool isSubscribed() const { return m_subscribed; }
    void setSubscribed(bool subscribed) { m_subscribed = subscribed; }

    // Starts reading (after the caller has connected to our signals).
    void start();
    // Queues one line. Over the queue bound the peer is dropped: closed() follows.
    void send(const QByteArray &line);
    // Queues line, then closes once it has been written; reads nothing more.
    void sendAndClose(const QByteArray &line);
    void abort();

Q_SIGNALS:
    // Every complete line, parsed; problems included (the server answers them).
    void requestReceived(quint64 peerId, const fmb::ParsedAdminRequest &request);
    // Emitted once, when the connection is gone (by either side).
    void closed(quint64 peerId);

private:
    void onReadyRead();
    void onDisconnected();

    quint64 m_id;
    QPointer<QLocalSocket> m_socket;
    AdminLineReader m_reader;
    qsizetype m_maxLineBytes;
    qint64 m_maxQueuedBytes;
    bool m_subscribed = false;
    bool m_closing = false; // no more input is read
    bool m_closed = false;
};

} // namespace fmb
