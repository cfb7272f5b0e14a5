#pragma once

// An event dispatcher for Linux built on epoll, for the daemon's main thread.
//
// Why: Qt 6.4 on Debian runs the glib dispatcher, which hands every
// registered descriptor to poll() on every loop iteration and keeps its
// socket notifiers in a list. The broker holds three descriptors per idle
// child (QProcess's stdout and stderr pipes and the forkfd pidfd), so with
// 1,000 idle sessions each iteration polled ~3,000 descriptors and active
// sessions lost half their throughput (docs/benchmarks.md, problem 1). Here
// each descriptor is registered with the kernel once, when its notifier is
// enabled, and an iteration costs O(ready descriptors + due timers).
//
// Only public Qt API is used (QAbstractEventDispatcher; no private headers
// are installed), so it follows what the API promises, not QEventDispatcherUNIX
// line by line:
// - Socket notifiers: one level-triggered epoll registration per descriptor,
//   the Read/Write/Exception notifiers of that descriptor merged into one
//   mask (EPOLL_CTL_MOD when one is enabled or disabled). Ready notifiers are
//   queued and sent QEvent::SockAct one by one; a notifier disabled or deleted
//   while queued is taken out of the queue first, also from inside a nested
//   event loop. A descriptor epoll refuses (a regular file) counts as always
//   ready, as poll() would report it.
// - Timers: ordered by deadline on the monotonic clock; a timer fires at most
//   once per processEvents() and never before its deadline. PreciseTimer and
//   CoarseTimer both keep millisecond accuracy (coarse timers are not batched);
//   VeryCoarseTimer rounds its interval to whole seconds and its deadline up to
//   a whole second, as Qt does.
// - Posted events: QCoreApplication::sendPostedEvents() at the start of each
//   processEvents(). wakeUp() from another thread writes an eventfd; from the
//   dispatcher's own thread it only sets a flag, so posting an event (every
//   deleteLater) costs no system call.
//
// Owned by QCoreApplication once installed with
// QCoreApplication::setEventDispatcher(). Not for GUI threads: it dispatches no
// native window-system events.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <utility>

#include <QAbstractEventDispatcher>
#include <QHash>
#include <QList>
#include <QMultiHash>

#include "base/Result.h"

class QSocketNotifier;

namespace fmb {

class EpollEventDispatcher final : public QAbstractEventDispatcher {
    Q_OBJECT
public:
    // Creates the epoll instance and the wake-up eventfd; an Error when the
    // kernel refuses either (then keep Qt's dispatcher).
    [[nodiscard]] static Result<std::unique_ptr<EpollEventDispatcher>> create(QObject *parent = nullptr);
    ~EpollEventDispatcher() override;

    bool processEvents(QEventLoop::ProcessEventsFlags flags) override;

    void registerSocketNotifier(QSocketNotifier *notifier) override;
    void unregisterSocketNotifier(QSocketNotifier *notifier) override;

    void registerTimer(int timerId, qint64 interval, Qt::TimerType timerType, QObject *object) override;
    bool unregisterTimer(int timerId) override;
    bool unregisterTimers(QObject *object) override;
    [[nodiscard]] QList<TimerInfo> registeredTimers(QObject *object) const override;
    int remainingTime(int timerId) override;

    void wakeUp() override;    // any thread
    void interrupt() override; // any thread

private:
    using Clock = std::chrono::steady_clock;
    using TimerKey = std::pair<Clock::time_point, quint64>; // deadline, then order of scheduling

    // The notifiers enabled on one descriptor, indexed by QSocketNotifier::Type.
    struct Descriptor {
        QSocketNotifier *notifiers[3] = {nullptr, nullptr, nullptr};
        quint32 wanted = 0;     // the events the notifiers ask for
        quint32 registered = 0; // the events epoll watches (applied before the next wait)
        quint8 queued = 0;      // bit per type: in m_readyQueue
        bool dirty = false;     // in m_dirty
        bool polled = true;     // false: epoll refused it (a regular file), always ready
    };

    struct Timer {
        QObject *object = nullptr;
        qint64 interval = 0; // ms; whole seconds for VeryCoarseTimer
        Qt::TimerType type = Qt::CoarseTimer;
        TimerKey key;             // its place in m_timerQueue
        quint64 registration = 0; // tells a re-registered id from the one in a snapshot
        bool firing = false;      // in its timerEvent (a nested loop must not fire it again)
    };

    EpollEventDispatcher(int epollFd, int wakeFd, QObject *parent);

    void markDirty(int fd, Descriptor &descriptor);
    void applyChanges();
    void queueReady(int fd, quint32 events);
    int sendQueuedNotifiers();
    int sendDueTimers();
    void schedule(int timerId, Timer &timer, Clock::time_point deadline);
    [[nodiscard]] Clock::time_point nextDeadline(const Timer &timer, Clock::time_point from) const;
    [[nodiscard]] int waitTimeoutMs(bool includeTimers) const;
    [[nodiscard]] int wait(int timeoutMs, bool includeNotifiers);
    void drainWakeFd();

    int m_epollFd = -1;
    int m_wakeFd = -1; // eventfd: wakeUp() from other threads

    QHash<int, Descriptor> m_descriptors;  // by fd
    QList<int> m_dirty;                    // fds whose wanted events epoll does not have yet
    QList<QSocketNotifier *> m_readyQueue; // ready, not yet sent SockAct
    QList<int> m_alwaysReady;              // fds epoll cannot watch

    QHash<int, Timer> m_timers;            // by timer id
    QMultiHash<QObject *, int> m_timerIds; // object -> its timer ids
    std::map<TimerKey, int> m_timerQueue;  // deadline order -> timer id
    quint64 m_nextOrder = 0;
    quint64 m_nextRegistration = 0;

    std::atomic<Qt::HANDLE> m_loopThread{nullptr}; // the thread running processEvents()
    std::atomic<bool> m_wakeUpPending{false};
    std::atomic<bool> m_interrupted{false};
};

} // namespace fmb
