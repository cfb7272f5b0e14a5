// StoreRunner (issue 14): where the token store's statements run. A threaded
// runner opens a real SQLite store on its own thread and runs the work
// there; results come back on the caller's thread, in order, and are dropped
// for a caller that is gone. An inline runner runs the work at once but
// still answers from the event loop.
#include <memory>

#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "store/SqliteTokenStore.h"
#include "store/StoreRunner.h"

using namespace fmb;

namespace {

// The id of the thread the work ran on, and whether the store was open there.
struct Where {
    Qt::HANDLE thread = nullptr;
    bool open = false;
};

} // namespace

class tst_StoreRunner : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void threadedRunsOnItsOwnThread();
    void resultsArriveInOrder();
    void goneCallerGetsNoResult();
    void failedOpenIsAnError();
    void inlineAnswersLater();

private:
    [[nodiscard]] StoreRunner::Open sqliteIn(const QString &dir) const
    {
        return [dir]() -> Result<std::unique_ptr<TokenStore>> {
            auto store = std::make_unique<SqliteTokenStore>();
            if (Result<void> opened = store->open(dir); !opened)
                return opened.error();
            return std::unique_ptr<TokenStore>(std::move(store));
        };
    }
};

void tst_StoreRunner::threadedRunsOnItsOwnThread()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    Result<std::unique_ptr<StoreRunner>> runner =
        StoreRunner::start(QStringLiteral("test-store"), sqliteIn(dir.path()));
    QVERIFY2(runner.ok(), runner.ok() ? "" : qPrintable(runner.error().message));
    QVERIFY(runner.value()->isThreaded());
    std::optional<Where> where;
    Qt::HANDLE doneOn = nullptr;
    runner.value()->run<Where>(
        this,
        [](TokenStore &store) {
            return Where{QThread::currentThreadId(), store.isOpen()};
        },
        [&](Where result) {
            where = result;
            doneOn = QThread::currentThreadId();
        });
    QVERIFY(!where); // never before run() returns
    QTRY_VERIFY(where.has_value());
    QVERIFY(where->open);
    QVERIFY(where->thread != QThread::currentThreadId());
    QCOMPARE(doneOn, QThread::currentThreadId());
}

void tst_StoreRunner::resultsArriveInOrder()
{
    QTemporaryDir dir;
    Result<std::unique_ptr<StoreRunner>> runner =
        StoreRunner::start(QStringLiteral("test-store"), sqliteIn(dir.path()));
    QVERIFY(runner.ok());
    // A write and the reads queued behind it: each read sees the write.
    ClientRecord client;
    client.clientId = QStringLiteral("ordered");
    client.clientName = QStringLiteral("Ordered");
    client.redirectUris = {QStringLiteral("http://127.0.0.1/cb")};
    client.tokenEndpointAuthMethod = QStringLiteral("none");
    QList<int> order;
    runner.value()->run<Result<void>>(
        this, [client](TokenStore &store) { return store.registerClient(client); },
        [&](const Result<void> &stored) { order.append(stored.ok() ? 0 : -1); });
    for (int i = 1; i <= 20; ++i) {
        runner.value()->run<bool>(
            this, [](TokenStore &store) { return store.findClient(QStringLiteral("ordered")).ok(); },
            [&order, i](bool found) { order.append(found ? i : -i); });
    }
    QTRY_COMPARE(order.size(), 21);
    for (int i = 0; i <= 20; ++i)
        QCOMPARE(order.at(i), i);
}

void tst_StoreRunner::goneCallerGetsNoResult()
{
    QTemporaryDir dir;
    Result<std::unique_ptr<StoreRunner>> runner =
        StoreRunner::start(QStringLiteral("test-store"), sqliteIn(dir.path()));
    QVERIFY(runner.ok());
    auto caller = std::make_unique<QObject>();
    bool ran = false;
    bool answered = false;
    runner.value()->run<bool>(
        caller.get(),
        [&ran](TokenStore &) {
            ran = true;
            return true;
        },
        [&answered](bool) { answered = true; });
    caller.reset();
    // A marker queued behind it: once it is back, the first result was due.
    bool marker = false;
    runner.value()->run<bool>(
        this, [](TokenStore &) { return true; }, [&marker](bool) { marker = true; });
    QTRY_VERIFY(marker);
    QVERIFY(ran); // the work still ran (a sign-in whose client left still commits)
    QVERIFY(!answered);
}

void tst_StoreRunner::failedOpenIsAnError()
{
    Result<std::unique_ptr<StoreRunner>> runner =
        StoreRunner::start(QStringLiteral("test-store"), []() -> Result<std::unique_ptr<TokenStore>> {
            return Error{ErrorCode::Unavailable, QStringLiteral("db"), QStringLiteral("cannot reach it")};
        });
    QVERIFY(!runner.ok());
    QCOMPARE(runner.error().code, ErrorCode::Unavailable);
    QCOMPARE(runner.error().message, QStringLiteral("cannot reach it"));
}

void tst_StoreRunner::inlineAnswersLater()
{
    QTemporaryDir dir;
    SqliteTokenStore store;
    QVERIFY(store.open(dir.path()).ok());
    std::unique_ptr<StoreRunner> runner = StoreRunner::inlineOn(&store);
    QVERIFY(!runner->isThreaded());
    Qt::HANDLE ranOn = nullptr;
    bool answered = false;
    runner->run<bool>(
        this,
        [&ranOn](TokenStore &used) {
            ranOn = QThread::currentThreadId();
            return used.isOpen();
        },
        [&answered](bool open) { answered = open; });
    QCOMPARE(ranOn, QThread::currentThreadId()); // at once, here
    QVERIFY(!answered);                          // but answered from the event loop
    QTRY_VERIFY(answered);
}

QTEST_GUILESS_MAIN(tst_StoreRunner)
#include "tst_storerunner.moc"
