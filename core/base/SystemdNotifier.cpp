#include "SystemdNotifier.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <QLoggingCategory>
#include <QTimer>

namespace fmb {
namespace {

Q_LOGGING_CATEGORY(lcSystemd, "fmb.systemd", QtInfoMsg)

// STATUS= is one line: a newline would start another assignment.
QByteArray statusLine(const QString &status)
{
    QByteArray line = status.toUtf8();
    line.replace('\n', ' ');
    return "STATUS=" + line;
}

} // namespace

SystemdNotifier::SystemdNotifier(const QProcessEnvironment &env, QObject *parent)
    : QObject(parent)
    , m_watchdog(new QTimer(this))
{
    connect(m_watchdog, &QTimer::timeout, this, [this] { notify("WATCHDOG=1"); });

    const QByteArray path = env.value(QStringLiteral("NOTIFY_SOCKET")).toLocal8Bit();
    if (path.isEmpty())
        return;
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    // sd_notify(3): an absolute path, or '@' for a name in the abstract
    // namespace (a leading NUL byte, and no terminating one counted).
    const bool abstract = path.startsWith('@');
    if ((!abstract && !path.startsWith('/')) || path.size() >= qsizetype(sizeof address.sun_path)) {
        qCWarning(lcSystemd).noquote() << "NOTIFY_SOCKET" << QString::fromLocal8Bit(path)
                                       << "is not an absolute path or an abstract name that fits a Unix "
                                          "socket address; not notifying systemd";
        return;
    }
    std::memcpy(address.sun_path, path.constData(), size_t(path.size()));
    if (abstract)
        address.sun_path[0] = '\0';
    m_addressLength = unsigned(offsetof(sockaddr_un, sun_path) + size_t(path.size()) + (abstract ? 0 : 1));
    m_address = QByteArray(reinterpret_cast<const char *>(&address), qsizetype(sizeof address));
    m_socket = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (m_socket < 0) {
        qCWarning(lcSystemd) << "cannot make a socket to notify systemd:" << std::strerror(errno);
        m_addressLength = 0;
        return;
    }

    const QString usec = env.value(QStringLiteral("WATCHDOG_USEC"));
    const QString pid = env.value(QStringLiteral("WATCHDOG_PID"));
    bool usecOk = false;
    const qint64 micros = usec.toLongLong(&usecOk);
    bool pidOk = false;
    const qint64 watchdogPid = pid.toLongLong(&pidOk);
    // The variables are inherited: a WATCHDOG_PID of another process means
    // the watchdog is that process's (our parent's), not ours.
    if (usecOk && micros > 0 && (pid.isEmpty() || (pidOk && watchdogPid == qint64(::getpid())))) {
        // Half the interval, as sd_watchdog_enabled(3) recommends; at least 1 ms.
        m_watchdogInterval = std::max(std::chrono::milliseconds(1), std::chrono::milliseconds(micros / 2000));
        m_watchdog->setInterval(m_watchdogInterval);
    }
}

SystemdNotifier::~SystemdNotifier()
{
    if (m_socket >= 0)
        ::close(m_socket);
}

void SystemdNotifier::ready(const QString &status)
{
    m_status = status;
    notify("READY=1\nMAINPID=" + QByteArray::number(qint64(::getpid())) + '\n' + statusLine(status));
    if (m_watchdogInterval.count() > 0 && !m_watchdog->isActive() && enabled()) {
        qCInfo(lcSystemd) << "systemd watchdog: pinging every" << m_watchdogInterval.count() << "ms";
        m_watchdog->start();
    }
}

void SystemdNotifier::setStatus(const QString &status)
{
    if (status == m_status)
        return;
    m_status = status;
    notify(statusLine(status));
}

void SystemdNotifier::reloading(const QString &status)
{
    m_status = status;
    // systemd 253's Type=notify-reload wants the CLOCK_MONOTONIC time of the
    // reload with it; older ones ignore the field.
    timespec now = {};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const qint64 usec = qint64(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
    notify("RELOADING=1\nMONOTONIC_USEC=" + QByteArray::number(usec) + '\n' + statusLine(status));
}

void SystemdNotifier::stopping(const QString &status)
{
    m_watchdog->stop();
    m_status = status;
    notify("STOPPING=1\n" + statusLine(status));
}

bool SystemdNotifier::notify(const QByteArray &state)
{
    if (!enabled())
        return false;
    const ssize_t sent =
        ::sendto(m_socket, state.constData(), size_t(state.size()), MSG_NOSIGNAL,
                 reinterpret_cast<const sockaddr *>(m_address.constData()), socklen_t(m_addressLength));
    if (sent == ssize_t(state.size()))
        return true;
    if (!m_warned) {
        m_warned = true;
        qCWarning(lcSystemd) << "cannot notify systemd:" << std::strerror(errno);
    }
    return false;
}

} // namespace fmb
