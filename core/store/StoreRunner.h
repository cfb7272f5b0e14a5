#pragma once

#include <functional>
#include <memory>
#include <utility>

#include <QObject>
#include <QPointer>
#include <QString>

#include "base/Result.h"
#include "store/TokenStore.h"

class QThread;

namespace fmb {

// Where the token store's statements run (issue 14: QSqlQuery blocks, and
// with a database across the network no statement may wait on the thread
// that serves HTTP).
//
// A threaded runner owns a thread with its own store, opened there (a Qt Sql
// connection belongs to the thread that opened it). run() queues the work to
// that thread in order and hands its result back on the caller's thread.
// An inline runner uses a store of the caller's thread: the work runs at
// once and the result still arrives later, from the event loop, so a caller
// reads the same in both (tests use it to look into the store between
// requests).
//
// `done` is dropped when `context` is gone by the time the result arrives;
// the work has still run (a sign-in the client gave up on still commits).
// Create, use and destroy a runner on one thread, the thread that calls
// run(). Destroying a threaded runner waits for the queued work, then closes
// the store on its thread.
class StoreRunner final {
public:
    using Open = std::function<Result<std::unique_ptr<TokenStore>>()>;

    // `store` must outlive the runner.
    [[nodiscard]] static std::unique_ptr<StoreRunner> inlineOn(TokenStore *store);
    // Starts the thread (named `name`), runs `open` there and returns once
    // it has: the store's error when it failed (the thread is gone again).
    [[nodiscard]] static Result<std::unique_ptr<StoreRunner>> start(const QString &name, Open open);
    ~StoreRunner();
    StoreRunner(const StoreRunner &) = delete;
    StoreRunner &operator=(const StoreRunner &) = delete;

    [[nodiscard]] bool isThreaded() const { return m_thread != nullptr; }

    // `work` gets the store on the store's thread; `done` its result on this
    // one. `work` must not touch anything of this thread (copy what it needs
    // into the lambda) and must not keep the store.
    template <typename T>
    void run(const QObject *context, std::function<T(TokenStore &store)> work,
             std::function<void(T result)> done) const
    {
        QPointer<const QObject> receiver(context);
        post([work = std::move(work), done = std::move(done), receiver](TokenStore &store) {
            auto result = std::make_shared<T>(work(store));
            return std::function<void()>([done, receiver, result] {
                if (receiver)
                    done(std::move(*result));
            });
        });
    }

private:
    // What the store's thread ran, to be called back on the runner's thread.
    using Job = std::function<std::function<void()>(TokenStore &store)>;

    StoreRunner() = default;
    void post(Job job) const;

    TokenStore *m_inline = nullptr;      // the inline runner's store
    std::unique_ptr<TokenStore> m_owned; // the threaded runner's store: used and destroyed on m_thread
    QThread *m_thread = nullptr;
    QObject *m_worker = nullptr; // lives on m_thread: the target of the queued work
    QObject *m_home = nullptr;   // lives on the runner's thread: where results arrive
};

} // namespace fmb
