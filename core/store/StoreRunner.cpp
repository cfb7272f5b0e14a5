#include "StoreRunner.h"

#include <QThread>

namespace fmb {

std::unique_ptr<StoreRunner> StoreRunner::inlineOn(TokenStore *store)
{
    std::unique_ptr<StoreRunner> runner(new StoreRunner);
    runner->m_inline = store;
    runner->m_home = new QObject;
    return runner;
}

Result<std::unique_ptr<StoreRunner>> StoreRunner::start(const QString &name, Open open)
{
    std::unique_ptr<StoreRunner> runner(new StoreRunner);
    runner->m_home = new QObject;
    runner->m_thread = new QThread;
    runner->m_thread->setObjectName(name);
    runner->m_worker = new QObject;
    runner->m_worker->moveToThread(runner->m_thread);
    // The worker goes with the thread's event loop, on that thread.
    QObject::connect(runner->m_thread, &QThread::finished, runner->m_worker, &QObject::deleteLater);
    runner->m_thread->start();

    Result<void> opened;
    StoreRunner *raw = runner.get();
    QMetaObject::invokeMethod(
        runner->m_worker,
        [raw, &open, &opened] {
            Result<std::unique_ptr<TokenStore>> store = open();
            if (store)
                raw->m_owned = std::move(store).value();
            else
                opened = store.error();
        },
        Qt::BlockingQueuedConnection);
    if (!opened)
        return opened.error(); // the destructor stops the thread
    return runner;
}

StoreRunner::~StoreRunner()
{
    if (m_thread) {
        // Queued after every job so far: the store closes on its own thread.
        QMetaObject::invokeMethod(
            m_worker, [this] { m_owned.reset(); }, Qt::BlockingQueuedConnection);
        m_thread->quit();
        m_thread->wait();
        delete m_thread;
    }
    // Results still queued for m_home are discarded with it.
    delete m_home;
}

void StoreRunner::post(Job job) const
{
    QObject *home = m_home;
    if (!m_thread) {
        std::function<void()> deliver = job(*m_inline);
        QMetaObject::invokeMethod(home, std::move(deliver), Qt::QueuedConnection);
        return;
    }
    TokenStore *store = m_owned.get();
    // `home` outlives the thread (the destructor stops the thread first).
    QMetaObject::invokeMethod(
        m_worker,
        [store, home, job = std::move(job)] {
            std::function<void()> deliver = job(*store);
            QMetaObject::invokeMethod(home, std::move(deliver), Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

} // namespace fmb
