#pragma once

#include <QByteArray>
#include <QList>

namespace fmbtest {

// systemd's end of $NOTIFY_SOCKET for tests: an AF_UNIX datagram socket bound
// at a path, or at an abstract name when it starts with '@'. received()
// drains what has arrived without blocking, so tests wait on it with QTRY_*.
class NotifySocket {
public:
    explicit NotifySocket(const QByteArray &name);
    ~NotifySocket();
    NotifySocket(const NotifySocket &) = delete;
    NotifySocket &operator=(const NotifySocket &) = delete;

    [[nodiscard]] bool bound() const { return m_bound; }
    // What NOTIFY_SOCKET names.
    [[nodiscard]] const QByteArray &name() const { return m_name; }
    // Every datagram so far, one entry each, in arrival order.
    [[nodiscard]] const QList<QByteArray> &received();
    // The index of the first datagram starting with prefix, or -1.
    [[nodiscard]] qsizetype indexOf(const QByteArray &prefix);

private:
    QByteArray m_name;
    QList<QByteArray> m_messages;
    int m_fd = -1;
    bool m_bound = false;
};

} // namespace fmbtest
