#include "BrokerDirectory.h"

#include <QThread>
#include <QTimer>

#include "BrokerDirectoryWorker.h"
#include "Logging.h"

namespace fmb {
namespace {

Error closedError(const QString &nodeId)
{
    return Error{ErrorCode::Unavailable, nodeId, QStringLiteral("the broker directory is closed")};
}

} // namespace

BrokerDirectory::BrokerDirectory(BrokerDirectoryConfig config, QObject *parent)
    : QObject(parent)
    , m_config(std::move(config))
    , m_timer(new QTimer(this))
    , m_thread(new QThread)
    , m_worker(new BrokerDirectoryWorker(m_config))
{
    m_thread->setObjectName(QStringLiteral("fmb.brokers"));
    m_worker->moveToThread(m_thread);
    // Queued: the worker emits on its thread, this object answers on its own.
    connect(m_worker, &BrokerDirectoryWorker::beaten, this, &BrokerDirectory::onBeaten);
    connect(m_worker, &BrokerDirectoryWorker::brokersRead, this, &BrokerDirectory::onBrokersRead);
    connect(m_worker, &BrokerDirectoryWorker::stopped, this, &BrokerDirectory::stopped);
    m_thread->start();
    m_timer->setInterval(m_config.heartbeatInterval);
    connect(m_timer, &QTimer::timeout, this, [this] { (void)beat(); });
}

BrokerDirectory::~BrokerDirectory()
{
    m_timer->stop();
    // After whatever was sent before (a stop() above all): close on the
    // thread that opened the connection, then end that thread.
    QMetaObject::invokeMethod(
        m_worker,
        [worker = m_worker] {
            worker->close();
            QThread::currentThread()->quit();
        },
        Qt::QueuedConnection);
    if (!m_thread->wait(QDeadlineTimer(FinishWait))) {
        // A statement stuck on a lock or a hung server: the process's exit
        // ends it. Destroying a running QThread would abort instead.
        qCWarning(lcStore).noquote() << "the broker directory's thread is still in a statement after"
                                     << FinishWait.count() << "ms; leaving it to the exit";
        return;
    }
    delete m_worker;
    delete m_thread;
}

Result<void> BrokerDirectory::open()
{
    if (isOpen())
        return {};
    Result<void> opened;
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker, &opened] { opened = worker->open(); }, Qt::BlockingQueuedConnection);
    if (!opened.ok())
        return opened;
    m_open = true;
    m_timer->start();
    return {};
}

bool BrokerDirectory::beat()
{
    if (!isOpen())
        return false;
    if (m_beating)
        m_beatAgain = true;
    else
        sendBeat();
    return true;
}

void BrokerDirectory::sendBeat()
{
    // The load is read here, on the owner's thread (the session registry is
    // not thread-safe); the worker only gets the numbers.
    const BrokerLoad load = m_load ? m_load() : BrokerLoad{};
    m_beating = true;
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker, load] { worker->beat(load); }, Qt::QueuedConnection);
}

void BrokerDirectory::onBeaten(const QString &failure)
{
    m_beating = false;
    if (failure.isEmpty())
        Q_EMIT beatWritten();
    else
        Q_EMIT beatFailed(failure);
    if (m_beatAgain && isOpen()) {
        m_beatAgain = false;
        sendBeat();
    }
}

void BrokerDirectory::stop()
{
    m_timer->stop();
    m_beatAgain = false;
    if (!isOpen())
        return;
    m_open = false;
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker] { worker->stop(); }, Qt::QueuedConnection);
}

void BrokerDirectory::brokers(QObject *context, BrokersReply reply)
{
    const quint64 request = m_nextRead++;
    m_reads.insert(request, PendingRead{QPointer<QObject>(context), std::move(reply)});
    if (!isOpen()) {
        // Answered later all the same: the caller never hears back before
        // brokers() returns.
        QMetaObject::invokeMethod(
            this, [this, request] { onBrokersRead(request, false, {}, closedError(m_config.nodeId)); },
            Qt::QueuedConnection);
        return;
    }
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker, request] { worker->readBrokers(request); }, Qt::QueuedConnection);
}

void BrokerDirectory::onBrokersRead(quint64 request, bool ok, const QList<BrokerRecord> &records,
                                    const Error &error)
{
    PendingRead pending = m_reads.take(request);
    if (!pending.context || !pending.reply)
        return; // the asker left meanwhile
    if (ok)
        pending.reply(records);
    else
        pending.reply(error);
}

} // namespace fmb
