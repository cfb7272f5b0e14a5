#include "EpollEventDispatcher.h"

#include <cerrno>
#include <climits>
#include <cstring>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QSocketNotifier>
#include <QThread>
#include <QTimerEvent>
#include <QVarLengthArray>

#include "Logging.h"

namespace fmb {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Enough for one iteration's ready descriptors; more stay ready (level-triggered)
// and come with the next wait.
constexpr int MaxEventsPerWait = 256;

constexpr quint32 typeEvents(QSocketNotifier::Type type)
{
    switch (type) {
    case QSocketNotifier::Read:
        return EPOLLIN;
    case QSocketNotifier::Write:
        return EPOLLOUT;
    case QSocketNotifier::Exception:
        return EPOLLPRI;
    }
    return 0;
}

// What activates a notifier of each type: as poll() reports it, a hang-up or
// error wakes every notifier of the descriptor, so the owner sees the failure.
constexpr quint32 activatingEvents(QSocketNotifier::Type type)
{
    return typeEvents(type) | EPOLLHUP | EPOLLERR;
}

const char *typeName(QSocketNotifier::Type type)
{
    switch (type) {
    case QSocketNotifier::Read:
        return "Read";
    case QSocketNotifier::Write:
        return "Write";
    case QSocketNotifier::Exception:
        return "Exception";
    }
    return "?";
}

int msecsUntil(std::chrono::steady_clock::time_point deadline, std::chrono::steady_clock::time_point now)
{
    if (deadline <= now)
        return 0;
    // Rounded up: waking a little late is allowed, firing early is not.
    const qint64 ms = std::chrono::ceil<milliseconds>(deadline - now).count();
    return ms > INT_MAX ? INT_MAX : int(ms);
}

} // namespace

Result<std::unique_ptr<EpollEventDispatcher>> EpollEventDispatcher::create(QObject *parent)
{
    const int epollFd = epoll_create1(EPOLL_CLOEXEC);
    if (epollFd < 0)
        return Error{ErrorCode::Unavailable, QStringLiteral("epoll"),
                     QStringLiteral("epoll_create1 failed: %1").arg(QString::fromLocal8Bit(strerror(errno)))};
    const int wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakeFd < 0) {
        const int error = errno;
        ::close(epollFd);
        return Error{ErrorCode::Unavailable, QStringLiteral("eventfd"),
                     QStringLiteral("eventfd failed: %1").arg(QString::fromLocal8Bit(strerror(error)))};
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wakeFd;
    if (epoll_ctl(epollFd, EPOLL_CTL_ADD, wakeFd, &event) < 0) {
        const int error = errno;
        ::close(wakeFd);
        ::close(epollFd);
        return Error{ErrorCode::Unavailable, QStringLiteral("epoll"),
                     QStringLiteral("epoll_ctl on the eventfd failed: %1")
                         .arg(QString::fromLocal8Bit(strerror(error)))};
    }
    return std::unique_ptr<EpollEventDispatcher>(new EpollEventDispatcher(epollFd, wakeFd, parent));
}

EpollEventDispatcher::EpollEventDispatcher(int epollFd, int wakeFd, QObject *parent)
    : QAbstractEventDispatcher(parent)
    , m_epollFd(epollFd)
    , m_wakeFd(wakeFd)
{}

EpollEventDispatcher::~EpollEventDispatcher()
{
    ::close(m_wakeFd);
    ::close(m_epollFd);
}

bool EpollEventDispatcher::processEvents(QEventLoop::ProcessEventsFlags flags)
{
    m_loopThread.store(QThread::currentThreadId(), std::memory_order_relaxed);
    m_interrupted.store(false, std::memory_order_relaxed);
    Q_EMIT awake();

    // Everything posted so far is sent now; a post from here on sets the flag again.
    m_wakeUpPending.store(false, std::memory_order_release);
    QCoreApplication::sendPostedEvents();
    if (m_interrupted.load(std::memory_order_relaxed))
        return false;

    const bool includeTimers = !flags.testFlag(QEventLoop::X11ExcludeTimers);
    const bool includeNotifiers = !flags.testFlag(QEventLoop::ExcludeSocketNotifiers);
    bool canWait = flags.testFlag(QEventLoop::WaitForMoreEvents) &&
                   !m_wakeUpPending.load(std::memory_order_acquire) &&
                   (!includeNotifiers || (m_readyQueue.isEmpty() && m_alwaysReady.isEmpty()));
    if (canWait) {
        Q_EMIT aboutToBlock();
        // A slot on aboutToBlock may have posted something or quit the loop.
        canWait = !m_wakeUpPending.load(std::memory_order_acquire) &&
                  !m_interrupted.load(std::memory_order_relaxed);
    }
    const int handledWaits = wait(canWait ? waitTimeoutMs(includeTimers) : 0, includeNotifiers);

    int handled = handledWaits;
    if (includeNotifiers) {
        for (const int fd : std::as_const(m_alwaysReady))
            queueReady(fd, EPOLLIN | EPOLLOUT);
        handled += sendQueuedNotifiers();
    }
    if (includeTimers)
        handled += sendDueTimers();

    // What the handlers posted (every finished request deletes objects later)
    // goes out in this iteration rather than costing another wait.
    if (m_wakeUpPending.exchange(false, std::memory_order_acq_rel)) {
        QCoreApplication::sendPostedEvents();
        ++handled;
    }
    return handled > 0;
}

int EpollEventDispatcher::wait(int timeoutMs, bool includeNotifiers)
{
    if (!includeNotifiers) {
        // Ready sockets must not end the wait (level-triggered, they would spin):
        // wait for a wake-up only, as Qt's own dispatcher does.
        pollfd wakePoll{m_wakeFd, POLLIN, 0};
        if (::poll(&wakePoll, 1, timeoutMs) > 0) {
            drainWakeFd();
            return 1;
        }
        return 0;
    }
    applyChanges();
    epoll_event events[MaxEventsPerWait];
    const int count = epoll_wait(m_epollFd, events, MaxEventsPerWait, timeoutMs);
    if (count < 0) {
        if (errno != EINTR)
            qCWarning(lcEventLoop) << "epoll_wait failed:" << strerror(errno);
        return 0;
    }
    int woken = 0;
    for (int i = 0; i < count; ++i) {
        if (events[i].data.fd == m_wakeFd) {
            drainWakeFd();
            ++woken;
        } else {
            queueReady(events[i].data.fd, events[i].events);
        }
    }
    return woken;
}

void EpollEventDispatcher::drainWakeFd()
{
    eventfd_t value = 0;
    (void)eventfd_read(m_wakeFd, &value);
}

void EpollEventDispatcher::wakeUp()
{
    // One pending wake-up is enough; the loop clears the flag when it sends posted events.
    if (m_wakeUpPending.exchange(true, std::memory_order_acq_rel))
        return;
    // On the loop's own thread the flag is seen before the next wait.
    if (QThread::currentThreadId() == m_loopThread.load(std::memory_order_relaxed))
        return;
    (void)eventfd_write(m_wakeFd, 1);
}

void EpollEventDispatcher::interrupt()
{
    m_interrupted.store(true, std::memory_order_relaxed);
    wakeUp();
}

// --- socket notifiers -------------------------------------------------------

void EpollEventDispatcher::registerSocketNotifier(QSocketNotifier *notifier)
{
    Q_ASSERT(notifier);
    const int fd = int(notifier->socket());
    const QSocketNotifier::Type type = notifier->type();
    Descriptor &descriptor = m_descriptors[fd];
    QSocketNotifier *&slot = descriptor.notifiers[type];
    if (slot && slot != notifier)
        qCWarning(lcEventLoop, "QSocketNotifier: Multiple socket notifiers for same socket %d and type %s",
                  fd, typeName(type));
    slot = notifier;
    descriptor.wanted |= typeEvents(type);
    markDirty(fd, descriptor);
}

void EpollEventDispatcher::unregisterSocketNotifier(QSocketNotifier *notifier)
{
    Q_ASSERT(notifier);
    const int fd = int(notifier->socket());
    const QSocketNotifier::Type type = notifier->type();
    const auto it = m_descriptors.find(fd);
    if (it == m_descriptors.end() || it->notifiers[type] != notifier)
        return;
    Descriptor &descriptor = *it;
    descriptor.notifiers[type] = nullptr;
    descriptor.wanted &= ~typeEvents(type);
    if (descriptor.queued & (1u << type)) {
        // Ready in this batch, but disabled or being deleted: it must not be sent SockAct.
        descriptor.queued &= ~(1u << type);
        m_readyQueue.removeOne(notifier);
    }
    if (descriptor.wanted != 0) {
        markDirty(fd, descriptor);
        return;
    }
    // The last notifier of the descriptor: leave epoll now, while the descriptor is
    // still open (its owner may close it next, and its number may be reused).
    if (descriptor.registered != 0)
        (void)epoll_ctl(m_epollFd, EPOLL_CTL_DEL, fd, nullptr);
    if (!descriptor.polled)
        m_alwaysReady.removeOne(fd);
    m_descriptors.erase(it);
}

void EpollEventDispatcher::markDirty(int fd, Descriptor &descriptor)
{
    if (descriptor.dirty)
        return;
    descriptor.dirty = true;
    m_dirty.append(fd);
}

// epoll_ctl for what changed since the last wait: a notifier that is enabled and
// disabled again before the next wait (a socket written and flushed at once)
// costs no system call.
void EpollEventDispatcher::applyChanges()
{
    QList<QSocketNotifier *> invalid;
    for (const int fd : std::as_const(m_dirty)) {
        const auto it = m_descriptors.find(fd);
        if (it == m_descriptors.end() || !it->dirty)
            continue;
        Descriptor &descriptor = *it;
        descriptor.dirty = false;
        if (!descriptor.polled || descriptor.wanted == descriptor.registered)
            continue;
        epoll_event event{};
        event.events = descriptor.wanted;
        event.data.fd = fd;
        int op = descriptor.registered == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
        int result = epoll_ctl(m_epollFd, op, fd, &event);
        if (result < 0 && (errno == EEXIST || errno == ENOENT)) {
            // Our view and the kernel's differ (the descriptor was closed behind a
            // notifier and its number reused): take the other operation.
            op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
            result = epoll_ctl(m_epollFd, op, fd, &event);
        }
        if (result == 0) {
            descriptor.registered = descriptor.wanted;
        } else if (errno == EPERM) {
            // A regular file: poll() calls it always ready, and so do we.
            descriptor.polled = false;
            descriptor.registered = 0;
            m_alwaysReady.append(fd);
        } else {
            qCWarning(lcEventLoop, "QSocketNotifier: Invalid socket %d (%s), disabling...", fd,
                      strerror(errno));
            for (QSocketNotifier *notifier : descriptor.notifiers) {
                if (notifier)
                    invalid.append(notifier);
            }
        }
    }
    m_dirty.clear();
    for (QSocketNotifier *notifier : std::as_const(invalid))
        notifier->setEnabled(false);
}

void EpollEventDispatcher::queueReady(int fd, quint32 events)
{
    const auto it = m_descriptors.find(fd);
    if (it == m_descriptors.end())
        return;
    for (int type = QSocketNotifier::Read; type <= QSocketNotifier::Exception; ++type) {
        QSocketNotifier *notifier = it->notifiers[type];
        if (!notifier || (it->queued & (1u << type)) ||
            !(events & activatingEvents(QSocketNotifier::Type(type))))
            continue;
        it->queued |= 1u << type;
        m_readyQueue.append(notifier);
    }
}

int EpollEventDispatcher::sendQueuedNotifiers()
{
    // The queue is a member, not a local: a handler that runs a nested event loop
    // sends the rest from there, and unregisterSocketNotifier() takes a disabled
    // or deleted notifier out of it before it is reached.
    int sent = 0;
    while (!m_readyQueue.isEmpty()) {
        QSocketNotifier *notifier = m_readyQueue.takeFirst();
        const auto it = m_descriptors.find(int(notifier->socket()));
        if (it != m_descriptors.end())
            it->queued &= ~(1u << notifier->type());
        QEvent event(QEvent::SockAct);
        QCoreApplication::sendEvent(notifier, &event);
        ++sent;
    }
    return sent;
}

// --- timers -----------------------------------------------------------------

void EpollEventDispatcher::registerTimer(int timerId, qint64 interval, Qt::TimerType timerType,
                                         QObject *object)
{
    Q_ASSERT(timerId > 0 && interval >= 0 && object);
    Timer timer;
    timer.object = object;
    timer.type = timerType;
    // Qt rounds very coarse timers to whole seconds.
    timer.interval = timerType == Qt::VeryCoarseTimer ? (interval + 500) / 1000 * 1000 : interval;
    timer.registration = ++m_nextRegistration;
    auto it = m_timers.insert(timerId, timer);
    m_timerIds.insert(object, timerId);
    const Clock::time_point now = Clock::now();
    schedule(timerId, *it, nextDeadline(*it, now));
}

EpollEventDispatcher::Clock::time_point EpollEventDispatcher::nextDeadline(const Timer &timer,
                                                                           Clock::time_point from) const
{
    const Clock::time_point deadline = from + milliseconds(timer.interval);
    if (timer.type != Qt::VeryCoarseTimer)
        return deadline;
    // Up to the next whole second, so very coarse timers wake the loop together.
    return Clock::time_point(std::chrono::ceil<seconds>(deadline.time_since_epoch()));
}

void EpollEventDispatcher::schedule(int timerId, Timer &timer, Clock::time_point deadline)
{
    timer.key = {deadline, ++m_nextOrder};
    m_timerQueue.emplace(timer.key, timerId);
}

bool EpollEventDispatcher::unregisterTimer(int timerId)
{
    const auto it = m_timers.find(timerId);
    if (it == m_timers.end())
        return false;
    m_timerQueue.erase(it->key);
    m_timerIds.remove(it->object, timerId);
    m_timers.erase(it);
    return true;
}

bool EpollEventDispatcher::unregisterTimers(QObject *object)
{
    const QList<int> ids = m_timerIds.values(object);
    for (const int timerId : ids) {
        const auto it = m_timers.find(timerId);
        if (it == m_timers.end())
            continue;
        m_timerQueue.erase(it->key);
        m_timers.erase(it);
    }
    m_timerIds.remove(object);
    return !ids.isEmpty();
}

QList<QAbstractEventDispatcher::TimerInfo> EpollEventDispatcher::registeredTimers(QObject *object) const
{
    QList<TimerInfo> infos;
    for (auto it = m_timerIds.constFind(object); it != m_timerIds.cend() && it.key() == object; ++it) {
        const Timer &timer = m_timers.value(*it);
        infos.append(TimerInfo(*it, int(timer.interval), timer.type));
    }
    return infos;
}

int EpollEventDispatcher::remainingTime(int timerId)
{
    const auto it = m_timers.constFind(timerId);
    if (it == m_timers.cend())
        return -1;
    return msecsUntil(it->key.first, Clock::now());
}

int EpollEventDispatcher::waitTimeoutMs(bool includeTimers) const
{
    if (!includeTimers || m_timerQueue.empty())
        return -1;
    return msecsUntil(m_timerQueue.begin()->first.first, Clock::now());
}

int EpollEventDispatcher::sendDueTimers()
{
    if (m_timerQueue.empty())
        return 0;
    const Clock::time_point now = Clock::now();
    // A snapshot: a timer fires at most once per call, and one registered (or
    // re-registered under the same id) by a handler waits for the next call.
    QVarLengthArray<std::pair<int, quint64>, 16> due;
    for (auto it = m_timerQueue.begin(); it != m_timerQueue.end() && it->first.first <= now; ++it)
        due.append({it->second, m_timers.value(it->second).registration});

    int sent = 0;
    for (const auto &[timerId, registration] : due) {
        auto it = m_timers.find(timerId);
        if (it == m_timers.end() || it->registration != registration || it->key.first > now)
            continue; // killed, replaced, or already fired by a nested loop
        // The next deadline is set before the event goes out, so killing or
        // restarting the timer from its own timerEvent just works. A precise
        // timer keeps its phase; one that fell behind skips what it missed.
        Clock::time_point next = it->key.first + milliseconds(it->interval);
        if (it->type == Qt::VeryCoarseTimer || next <= now)
            next = nextDeadline(*it, now);
        m_timerQueue.erase(it->key);
        schedule(timerId, *it, next);
        if (it->firing)
            continue;
        it->firing = true;
        QObject *object = it->object;
        QTimerEvent event(timerId);
        QCoreApplication::sendEvent(object, &event);
        ++sent;
        it = m_timers.find(timerId); // the handler may have changed m_timers
        if (it != m_timers.end() && it->registration == registration)
            it->firing = false;
    }
    return sent;
}

} // namespace fmb
