// Qt's own classes (QTimer, QProcess, QTcpSocket, QLocalSocket) run on the
// epoll dispatcher here, installed in main() before the application object,
// as the daemon does. Every case waits on conditions and events, not on sleeps.
#include <algorithm>
#include <memory>
#include <numeric>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <QElapsedTimer>
#include <QEventLoop>
#include <QLocalServer>
#include <QLocalSocket>
#include <QPointer>
#include <QProcess>
#include <QSignalSpy>
#include <QSocketNotifier>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTemporaryFile>
#include <QTest>
#include <QThread>
#include <QTimer>

#include "eventloop/EpollEventDispatcher.h"

using fmb::EpollEventDispatcher;

namespace {

// A pipe whose ends close with it.
class Pipe {
public:
    Pipe()
    {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
            m_read = fds[0];
            m_write = fds[1];
        }
    }
    ~Pipe()
    {
        closeRead();
        if (m_write >= 0)
            ::close(m_write);
    }
    Pipe(const Pipe &) = delete;
    Pipe &operator=(const Pipe &) = delete;

    [[nodiscard]] bool isValid() const { return m_read >= 0 && m_write >= 0; }
    [[nodiscard]] int readEnd() const { return m_read; }
    [[nodiscard]] int writeEnd() const { return m_write; }
    bool put(char byte) { return ::write(m_write, &byte, 1) == 1; }
    int take()
    {
        char byte = 0;
        return ::read(m_read, &byte, 1) == 1 ? byte : -1;
    }
    void closeRead()
    {
        if (m_read >= 0)
            ::close(m_read);
        m_read = -1;
    }

private:
    int m_read = -1;
    int m_write = -1;
};

// Counts its timer events; optionally kills or restarts the timer from inside one.
class TimerTarget : public QObject {
public:
    enum class OnFire { Nothing, Kill, Restart };

    int timerId = 0;
    int fired = 0;
    OnFire onFire = OnFire::Nothing;
    int restartInterval = 5;
    QList<int> firedIds;

protected:
    void timerEvent(QTimerEvent *event) override
    {
        ++fired;
        firedIds.append(event->timerId());
        if (onFire == OnFire::Kill) {
            killTimer(event->timerId());
        } else if (onFire == OnFire::Restart && fired == 1) {
            killTimer(event->timerId());
            timerId = startTimer(restartInterval);
        }
    }
};

// Runs a nested QEventLoop from inside its first timer event.
class NestingTarget : public QObject {
public:
    int fired = 0;
    int firedWhileNested = 0;
    bool nested = false;
    bool innerLoopRan = false;

protected:
    void timerEvent(QTimerEvent *) override
    {
        ++fired;
        if (nested) {
            ++firedWhileNested;
            return;
        }
        nested = true;
        QEventLoop inner;
        QTimer::singleShot(60, &inner, [&] {
            innerLoopRan = true;
            inner.quit();
        });
        inner.exec();
        nested = false;
    }
};

class CustomEvent : public QEvent {
public:
    static QEvent::Type kind()
    {
        static const int type = QEvent::registerEventType();
        return QEvent::Type(type);
    }
    CustomEvent()
        : QEvent(kind())
    {}
};

class EventCounter : public QObject {
public:
    int custom = 0;

protected:
    bool event(QEvent *event) override
    {
        if (event->type() == CustomEvent::kind()) {
            ++custom;
            return true;
        }
        return QObject::event(event);
    }
};

} // namespace

class tst_EpollEventDispatcher : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void installedBeforeTheApplication();

    void timersFireInOrderAndNotEarly_data();
    void timersFireInOrderAndNotEarly();
    void singleShotFiresOnce();
    void repeatingTimerReportsItself();
    void killFromInsideTimerEvent();
    void restartFromInsideTimerEvent();
    void zeroTimerFiresOncePerIteration();
    void zeroTimerDoesNotStarveSockets();
    void nestedEventLoop();

    void postedEventsAndDeleteLater();
    void wakeUpFromAnotherThread();
    void quitFromAnotherThread();

    void pipeNotifiers();
    void excludeSocketNotifiers();
    void regularFileIsAlwaysReady();
    void notifierRemovedByAnotherInSameBatch_data();
    void notifierRemovedByAnotherInSameBatch();
    void tcpExchange();
    void processRunsToCompletion();
    void manyProcessesAtOnce();
    void localSocketExchange();
};

void tst_EpollEventDispatcher::installedBeforeTheApplication()
{
    QVERIFY(qobject_cast<EpollEventDispatcher *>(QAbstractEventDispatcher::instance()));
    QVERIFY(qobject_cast<EpollEventDispatcher *>(QCoreApplication::eventDispatcher()));
}

void tst_EpollEventDispatcher::timersFireInOrderAndNotEarly_data()
{
    QTest::addColumn<Qt::TimerType>("type");
    QTest::addColumn<QList<int>>("intervals");
    QTest::newRow("precise") << Qt::PreciseTimer << QList<int>{40, 10, 25, 0, 25};
    QTest::newRow("coarse") << Qt::CoarseTimer << QList<int>{45, 15, 30, 1};
    QTest::newRow("very coarse: whole seconds") << Qt::VeryCoarseTimer << QList<int>{2000, 1000};
}

void tst_EpollEventDispatcher::timersFireInOrderAndNotEarly()
{
    QFETCH(Qt::TimerType, type);
    QFETCH(QList<int>, intervals);

    QElapsedTimer clock;
    clock.start();
    QList<int> order;
    QList<qint64> firedAt;
    std::vector<std::unique_ptr<QTimer>> timers;
    for (qsizetype i = 0; i < intervals.size(); ++i) {
        auto timer = std::make_unique<QTimer>();
        timer->setTimerType(type);
        timer->setSingleShot(true);
        connect(timer.get(), &QTimer::timeout, this, [&, i] {
            order.append(int(i));
            firedAt.append(clock.elapsed());
        });
        timer->start(intervals.at(i));
        timers.push_back(std::move(timer));
    }
    QTRY_COMPARE_WITH_TIMEOUT(order.size(), intervals.size(), 10000);

    // Sorted by interval; equal intervals in the order they were started.
    QList<int> expected(intervals.size());
    std::iota(expected.begin(), expected.end(), 0);
    std::stable_sort(expected.begin(), expected.end(),
                     [&](int a, int b) { return intervals.at(a) < intervals.at(b); });
    QCOMPARE(order, expected);
    for (qsizetype i = 0; i < order.size(); ++i)
        QVERIFY2(firedAt.at(i) >= intervals.at(order.at(i)),
                 qPrintable(QStringLiteral("timer of %1 ms fired after %2 ms")
                                .arg(intervals.at(order.at(i)))
                                .arg(firedAt.at(i))));
}

void tst_EpollEventDispatcher::singleShotFiresOnce()
{
    int fired = 0;
    QTimer::singleShot(5, this, [&] { ++fired; });
    QEventLoop loop;
    // Three times the interval later, the single shot has had every chance to fire twice.
    QTimer::singleShot(15, &loop, &QEventLoop::quit);
    loop.exec();
    QCOMPARE(fired, 1);
}

void tst_EpollEventDispatcher::repeatingTimerReportsItself()
{
    TimerTarget target;
    target.timerId = target.startTimer(200, Qt::PreciseTimer);
    QVERIFY(target.timerId > 0);
    auto *dispatcher = QAbstractEventDispatcher::instance();
    const QList<QAbstractEventDispatcher::TimerInfo> infos = dispatcher->registeredTimers(&target);
    QCOMPARE(infos.size(), 1);
    QCOMPARE(infos.first().timerId, target.timerId);
    QCOMPARE(infos.first().interval, 200);
    QCOMPARE(infos.first().timerType, Qt::PreciseTimer);
    const int remaining = dispatcher->remainingTime(target.timerId);
    QVERIFY2(remaining > 0 && remaining <= 200, qPrintable(QString::number(remaining)));

    target.killTimer(target.timerId);
    QCOMPARE(dispatcher->registeredTimers(&target).size(), 0);
    QCOMPARE(dispatcher->remainingTime(target.timerId), -1);

    target.timerId = target.startTimer(1);
    QTRY_VERIFY(target.fired >= 3);
    QVERIFY(target.firedIds.count(target.timerId) == target.fired);
}

void tst_EpollEventDispatcher::killFromInsideTimerEvent()
{
    TimerTarget target;
    target.onFire = TimerTarget::OnFire::Kill;
    target.timerId = target.startTimer(1);
    QEventLoop loop;
    QTimer::singleShot(30, &loop, &QEventLoop::quit);
    loop.exec();
    QCOMPARE(target.fired, 1);
    QVERIFY(QAbstractEventDispatcher::instance()->registeredTimers(&target).isEmpty());
}

void tst_EpollEventDispatcher::restartFromInsideTimerEvent()
{
    // The id freed by killTimer() is usually handed straight back by startTimer().
    TimerTarget target;
    target.onFire = TimerTarget::OnFire::Restart;
    target.restartInterval = 5;
    const int first = target.startTimer(1);
    QTRY_VERIFY(target.fired >= 3);
    QCOMPARE(target.firedIds.first(), first);
    for (qsizetype i = 1; i < target.firedIds.size(); ++i)
        QCOMPARE(target.firedIds.at(i), target.timerId);
    QCOMPARE(QAbstractEventDispatcher::instance()->registeredTimers(&target).size(), 1);
    QCOMPARE(QAbstractEventDispatcher::instance()->registeredTimers(&target).first().interval, 5);
}

void tst_EpollEventDispatcher::zeroTimerFiresOncePerIteration()
{
    TimerTarget target;
    target.startTimer(0);
    QCoreApplication::processEvents();
    const int before = target.fired;
    QCoreApplication::processEvents(QEventLoop::AllEvents);
    QCOMPARE(target.fired, before + 1);
    QAbstractEventDispatcher::instance()->processEvents(QEventLoop::AllEvents);
    QCOMPARE(target.fired, before + 2);
}

void tst_EpollEventDispatcher::zeroTimerDoesNotStarveSockets()
{
    Pipe pipe;
    QVERIFY(pipe.isValid());
    TimerTarget busy;
    busy.startTimer(0);
    QSocketNotifier notifier(pipe.readEnd(), QSocketNotifier::Read);
    int reads = 0;
    connect(&notifier, &QSocketNotifier::activated, this, [&] {
        pipe.take();
        ++reads;
    });
    int posted = 0;
    QMetaObject::invokeMethod(
        this, [&] { ++posted; }, Qt::QueuedConnection);
    QVERIFY(pipe.put('x'));
    QTRY_COMPARE(reads, 1);
    QTRY_COMPARE(posted, 1);
    QVERIFY(busy.fired > 0);
}

void tst_EpollEventDispatcher::nestedEventLoop()
{
    NestingTarget target;
    target.startTimer(5);
    QTRY_VERIFY(target.innerLoopRan);
    QTRY_VERIFY(target.fired >= 3); // and it keeps firing once the nested loop has returned
    // Qt does not deliver a timer again while its own timerEvent is running.
    QCOMPARE(target.firedWhileNested, 0);
}

void tst_EpollEventDispatcher::postedEventsAndDeleteLater()
{
    EventCounter counter;
    QCoreApplication::postEvent(&counter, new CustomEvent);
    QCoreApplication::postEvent(&counter, new CustomEvent);
    QCOMPARE(counter.custom, 0); // posted, not sent
    QTRY_COMPARE(counter.custom, 2);

    QPointer<QObject> doomed = new QObject;
    doomed->deleteLater();
    QEventLoop loop;
    connect(doomed.data(), &QObject::destroyed, &loop, &QEventLoop::quit);
    QTimer::singleShot(5000, &loop, &QEventLoop::quit);
    loop.exec();
    QVERIFY(doomed.isNull());
}

void tst_EpollEventDispatcher::wakeUpFromAnotherThread()
{
    // Nothing else is registered while the loop waits: only the post from the
    // other thread (through the eventfd) can end the wait in time.
    QEventLoop loop;
    bool woken = false;
    QThread *poster = QThread::create([&] {
        QThread::msleep(50); // let the main thread block first
        QMetaObject::invokeMethod(
            &loop,
            [&] {
                woken = true;
                loop.quit();
            },
            Qt::QueuedConnection);
    });
    QElapsedTimer clock;
    clock.start();
    QTimer guard;
    guard.setSingleShot(true);
    connect(&guard, &QTimer::timeout, &loop, &QEventLoop::quit);
    guard.start(10000);
    poster->start();
    loop.exec();
    poster->wait();
    delete poster;
    QVERIFY(woken);
    QVERIFY2(clock.elapsed() < 5000, qPrintable(QString::number(clock.elapsed())));
}

void tst_EpollEventDispatcher::quitFromAnotherThread()
{
    QEventLoop loop;
    QThread *quitter = QThread::create([&] {
        QThread::msleep(50);
        QMetaObject::invokeMethod(&loop, &QEventLoop::quit, Qt::QueuedConnection);
    });
    QTimer guard;
    guard.setSingleShot(true);
    bool timedOut = false;
    connect(&guard, &QTimer::timeout, &loop, [&] {
        timedOut = true;
        loop.quit();
    });
    guard.start(10000);
    quitter->start();
    loop.exec();
    quitter->wait();
    delete quitter;
    QVERIFY(!timedOut);
}

void tst_EpollEventDispatcher::pipeNotifiers()
{
    Pipe pipe;
    QVERIFY(pipe.isValid());
    QSocketNotifier reader(pipe.readEnd(), QSocketNotifier::Read);
    QSocketNotifier writer(pipe.writeEnd(), QSocketNotifier::Write);
    QByteArray received;
    connect(&reader, &QSocketNotifier::activated, this, [&] {
        int byte;
        while ((byte = pipe.take()) >= 0)
            received.append(char(byte));
    });
    int writable = 0;
    connect(&writer, &QSocketNotifier::activated, this, [&] {
        ++writable;
        writer.setEnabled(false); // an empty pipe stays writable: once is enough
    });
    QTRY_COMPARE(writable, 1);
    QCOMPARE(received, QByteArray());

    QVERIFY(pipe.put('a'));
    QVERIFY(pipe.put('b'));
    QTRY_COMPARE(received, QByteArray("ab"));

    // Disabled: the byte stays in the pipe until the notifier is enabled again.
    reader.setEnabled(false);
    QVERIFY(pipe.put('c'));
    QCoreApplication::processEvents();
    QCoreApplication::processEvents();
    QCOMPARE(received, QByteArray("ab"));
    reader.setEnabled(true);
    QTRY_COMPARE(received, QByteArray("abc"));
    QCOMPARE(writable, 1);
}

void tst_EpollEventDispatcher::excludeSocketNotifiers()
{
    Pipe pipe;
    QVERIFY(pipe.isValid());
    QSocketNotifier reader(pipe.readEnd(), QSocketNotifier::Read);
    int activations = 0;
    connect(&reader, &QSocketNotifier::activated, this, [&] {
        ++activations;
        pipe.take();
    });
    QVERIFY(pipe.put('x'));

    // A ready socket must neither be delivered nor keep a waiting loop spinning.
    bool timerFired = false;
    QTimer::singleShot(20, this, [&] { timerFired = true; });
    QElapsedTimer clock;
    clock.start();
    while (!timerFired && clock.elapsed() < 5000)
        QAbstractEventDispatcher::instance()->processEvents(QEventLoop::ExcludeSocketNotifiers |
                                                            QEventLoop::WaitForMoreEvents);
    QVERIFY(timerFired);
    QCOMPARE(activations, 0);

    QTRY_COMPARE(activations, 1);
}

void tst_EpollEventDispatcher::regularFileIsAlwaysReady()
{
    // epoll refuses regular files (EPERM); poll() calls them always readable.
    QTemporaryFile file;
    QVERIFY(file.open());
    QSocketNotifier notifier(file.handle(), QSocketNotifier::Read);
    int activations = 0;
    connect(&notifier, &QSocketNotifier::activated, this, [&] {
        if (++activations == 3)
            notifier.setEnabled(false);
    });
    QTRY_COMPARE(activations, 3);
    QCoreApplication::processEvents();
    QCOMPARE(activations, 3);
}

void tst_EpollEventDispatcher::notifierRemovedByAnotherInSameBatch_data()
{
    QTest::addColumn<bool>("deleteIt");
    QTest::newRow("deleted") << true;
    QTest::newRow("disabled") << false;
}

void tst_EpollEventDispatcher::notifierRemovedByAnotherInSameBatch()
{
    // Both pipes are ready before the loop runs, so one epoll_wait returns both;
    // whichever notifier goes first removes the other, which must then not be
    // sent its event (deleted: a use after free, which ASan reports).
    QFETCH(bool, deleteIt);
    Pipe first;
    Pipe second;
    QVERIFY(first.isValid() && second.isValid());
    auto *a = new QSocketNotifier(first.readEnd(), QSocketNotifier::Read, this);
    auto *b = new QSocketNotifier(second.readEnd(), QSocketNotifier::Read, this);
    QPointer<QSocketNotifier> pa = a;
    QPointer<QSocketNotifier> pb = b;
    int activations = 0;
    auto removeOther = [&](QSocketNotifier *other) {
        ++activations;
        if (!other)
            return;
        if (deleteIt)
            delete other;
        else
            other->setEnabled(false);
    };
    connect(a, &QSocketNotifier::activated, this, [&] { removeOther(pb.data()); });
    connect(b, &QSocketNotifier::activated, this, [&] { removeOther(pa.data()); });
    QVERIFY(first.put('1'));
    QVERIFY(second.put('2'));

    QAbstractEventDispatcher::instance()->processEvents(QEventLoop::AllEvents);
    QCOMPARE(activations, 1);
    // Later iterations: the survivor stays ready (its byte is unread); the other stays silent.
    QAbstractEventDispatcher::instance()->processEvents(QEventLoop::AllEvents);
    QCOMPARE(activations, 2);
    QCOMPARE(int(pa.isNull()) + int(pb.isNull()), deleteIt ? 1 : 0);
    delete pa.data();
    delete pb.data();
}

void tst_EpollEventDispatcher::tcpExchange()
{
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));
    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, server.serverPort());
    QTRY_VERIFY(server.hasPendingConnections());
    std::unique_ptr<QTcpSocket> peer(server.nextPendingConnection());
    QTRY_COMPARE(client.state(), QAbstractSocket::ConnectedState);

    // Large enough to fill the socket buffers, so writing needs write notifications.
    const QByteArray payload(4 * 1024 * 1024, 'p');
    QByteArray received;
    connect(peer.get(), &QTcpSocket::readyRead, this, [&] { received += peer->readAll(); });
    client.write(payload);
    QTRY_COMPARE_WITH_TIMEOUT(received.size(), payload.size(), 20000);
    QCOMPARE(received, payload);

    QByteArray echoed;
    connect(&client, &QTcpSocket::readyRead, this, [&] { echoed += client.readAll(); });
    peer->write("pong\n");
    QTRY_COMPARE(echoed, QByteArray("pong\n"));

    QSignalSpy disconnected(&client, &QTcpSocket::disconnected);
    peer->disconnectFromHost();
    QVERIFY(disconnected.wait(5000));
}

void tst_EpollEventDispatcher::processRunsToCompletion()
{
    QProcess process;
    QSignalSpy finished(&process, &QProcess::finished);
    process.start(QStringLiteral("/bin/echo"), {QStringLiteral("hello")});
    QVERIFY(finished.wait(10000));
    QCOMPARE(process.exitStatus(), QProcess::NormalExit);
    QCOMPARE(process.exitCode(), 0);
    QCOMPARE(process.readAllStandardOutput(), QByteArray("hello\n"));

    // Both directions: cat echoes stdin until it is closed.
    QProcess cat;
    QSignalSpy catFinished(&cat, &QProcess::finished);
    cat.start(QStringLiteral("/bin/cat"), {});
    QByteArray out;
    connect(&cat, &QProcess::readyReadStandardOutput, this, [&] { out += cat.readAllStandardOutput(); });
    cat.write("one\ntwo\n");
    QTRY_COMPARE(out, QByteArray("one\ntwo\n"));
    cat.closeWriteChannel();
    QVERIFY(catFinished.wait(10000));
    QCOMPARE(cat.exitCode(), 0);
}

void tst_EpollEventDispatcher::manyProcessesAtOnce()
{
    // Each child brings three descriptors (two pipes and the pidfd) and frees
    // them when it ends; the numbers are reused by the next ones.
    constexpr int Count = 40;
    std::vector<std::unique_ptr<QProcess>> processes;
    int finished = 0;
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < Count; ++i) {
            auto process = std::make_unique<QProcess>();
            connect(process.get(), &QProcess::finished, this, [&] { ++finished; });
            process->start(QStringLiteral("/bin/echo"), {QString::number(i)});
            processes.push_back(std::move(process));
        }
        QTRY_COMPARE_WITH_TIMEOUT(finished, Count * (round + 1), 30000);
    }
    for (int i = 0; i < Count; ++i)
        QCOMPARE(processes.at(std::size_t(i))->readAllStandardOutput(), QByteArray::number(i) + '\n');
}

void tst_EpollEventDispatcher::localSocketExchange()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QLocalServer server;
    QVERIFY(server.listen(dir.filePath(QStringLiteral("s"))));
    QLocalSocket client;
    client.connectToServer(server.fullServerName());
    QTRY_VERIFY(server.hasPendingConnections());
    QLocalSocket *peer = server.nextPendingConnection();
    QVERIFY(peer);
    QTRY_COMPARE(client.state(), QLocalSocket::ConnectedState);

    QByteArray atPeer;
    connect(peer, &QLocalSocket::readyRead, this, [&] {
        atPeer += peer->readAll();
        if (atPeer.endsWith('\n'))
            peer->write("ack:" + atPeer);
    });
    QByteArray atClient;
    connect(&client, &QLocalSocket::readyRead, this, [&] { atClient += client.readAll(); });
    client.write("ping\n");
    QTRY_COMPARE(atClient, QByteArray("ack:ping\n"));

    QSignalSpy gone(peer, &QLocalSocket::disconnected);
    client.disconnectFromServer();
    QVERIFY(gone.wait(5000));
}

int main(int argc, char *argv[])
{
    // As in daemon/main.cpp: only possible before the application object exists.
    fmb::Result<std::unique_ptr<EpollEventDispatcher>> dispatcher = EpollEventDispatcher::create();
    if (!dispatcher) {
        qCritical("%s", qPrintable(dispatcher.error().message));
        return 1;
    }
    QCoreApplication::setEventDispatcher(dispatcher.value().release());
    QCoreApplication app(argc, argv);
    tst_EpollEventDispatcher test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_epolleventdispatcher.moc"
