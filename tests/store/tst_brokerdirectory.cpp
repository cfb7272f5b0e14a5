// BrokerDirectory (issue 14) against a throwaway PostgreSQL cluster: the
// heartbeat rows, stale detection, a clean stop, and brokers opening one
// fresh database at once, and statements that wait on the database without
// stopping the caller's event loop.
#include <array>
#include <atomic>
#include <chrono>
#include <memory>

#include <QElapsedTimer>
#include <QSemaphore>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTest>
#include <QThread>
#include <QTimer>

#include "PgCluster.h"
#include "store/BrokerDirectory.h"

using namespace std::chrono_literals;
using fmb::BrokerDirectory;
using fmb::BrokerDirectoryConfig;
using fmb::BrokerRecord;

#define VERIFY_OK(expr)                                                                                      \
    do {                                                                                                     \
        const auto r_ = (expr);                                                                              \
        QVERIFY2(r_.ok(), r_.ok() ? "" : qPrintable(r_.error().message));                                    \
    } while (false)

class tst_BrokerDirectory : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();

    void openWritesTheRow();
    void beatUpdatesHeartbeatAndLoad();
    void silentBrokerTurnsStale();
    void cleanStopIsNotStale();
    void stopLandsBeforeDestructionReturns();
    void restartReusesTheRow();
    void brokersStartAtOnce();
    void closedDirectoryRefuses();
    void beatsResumeAfterServerRestart();
    void beatReinsertsDeletedRow();
    void brokersGoneForGoodAreForgotten();
    void lockedTableStallsOnlyTheDirectorysThread();

private:
    [[nodiscard]] BrokerDirectoryConfig config(const QString &node, std::chrono::milliseconds interval) const;
    // brokers() answered, as the admin socket asks it.
    [[nodiscard]] static fmb::Result<QList<BrokerRecord>> read(BrokerDirectory &directory);
    [[nodiscard]] static std::optional<BrokerRecord> find(BrokerDirectory &directory, const QString &node);
    // beat() until it landed (true) or failed.
    [[nodiscard]] static bool beatNow(BrokerDirectory &directory);

    std::unique_ptr<fmbtest::PgCluster> m_cluster;
    QString m_unavailable;
    fmb::PostgresParams m_pg;
};

void tst_BrokerDirectory::initTestCase()
{
    m_unavailable = fmbtest::PgCluster::unavailableReason();
    if (!m_unavailable.isEmpty())
        return;
    m_cluster = std::make_unique<fmbtest::PgCluster>();
    if (fmb::Result<void> r = m_cluster->start(); !r.ok())
        m_unavailable = r.error().message;
}

void tst_BrokerDirectory::init()
{
    if (!m_unavailable.isEmpty())
        QSKIP(qPrintable(QStringLiteral("no PostgreSQL cluster: ") + m_unavailable));
    fmb::Result<fmb::PostgresParams> db = m_cluster->createDatabase();
    QVERIFY2(db.ok(), db.ok() ? "" : qPrintable(db.error().message));
    m_pg = db.value();
}

BrokerDirectoryConfig tst_BrokerDirectory::config(const QString &node,
                                                  std::chrono::milliseconds interval) const
{
    BrokerDirectoryConfig config;
    config.params = m_pg;
    config.nodeId = node;
    config.host = QStringLiteral("host-") + node;
    config.listenUrl = QStringLiteral("http://127.0.0.1:8080");
    config.heartbeatInterval = interval;
    return config;
}

fmb::Result<QList<BrokerRecord>> tst_BrokerDirectory::read(BrokerDirectory &directory)
{
    std::optional<fmb::Result<QList<BrokerRecord>>> answer;
    QObject context;
    directory.brokers(&context,
                      [&answer](fmb::Result<QList<BrokerRecord>> records) { answer = std::move(records); });
    if (answer) // never before brokers() returned
        return fmb::Error{fmb::ErrorCode::Internal, directory.nodeId(), QStringLiteral("answered at once")};
    if (!QTest::qWaitFor([&answer] { return answer.has_value(); }, 20000))
        return fmb::Error{fmb::ErrorCode::Unavailable, directory.nodeId(), QStringLiteral("no answer")};
    return std::move(*answer);
}

std::optional<BrokerRecord> tst_BrokerDirectory::find(BrokerDirectory &directory, const QString &node)
{
    fmb::Result<QList<BrokerRecord>> records = read(directory);
    if (!records.ok())
        return std::nullopt;
    for (const BrokerRecord &record : records.value()) {
        if (record.nodeId == node)
            return record;
    }
    return std::nullopt;
}

bool tst_BrokerDirectory::beatNow(BrokerDirectory &directory)
{
    QSignalSpy written(&directory, &BrokerDirectory::beatWritten);
    QSignalSpy failed(&directory, &BrokerDirectory::beatFailed);
    if (!directory.beat())
        return false;
    return QTest::qWaitFor([&] { return written.count() + failed.count() > 0; }, 20000) &&
           written.count() > 0;
}

void tst_BrokerDirectory::openWritesTheRow()
{
    BrokerDirectory one(config(QStringLiteral("web1"), 1h));
    BrokerDirectory two(config(QStringLiteral("web2"), 1h));
    VERIFY_OK(one.open());
    VERIFY_OK(two.open());

    fmb::Result<QList<BrokerRecord>> records = read(one);
    VERIFY_OK(records);
    QCOMPARE(records.value().size(), 2);
    const BrokerRecord &first = records.value().at(0);
    QCOMPARE(first.nodeId, QStringLiteral("web1"));
    QCOMPARE(first.host, QStringLiteral("host-web1"));
    QCOMPARE(first.pid, QCoreApplication::applicationPid());
    QCOMPARE(first.listenUrl, QStringLiteral("http://127.0.0.1:8080"));
    QCOMPARE(first.heartbeatIntervalMs, qint64(3600 * 1000));
    QVERIFY(first.startedMs > 0);
    QCOMPARE(first.heartbeatMs, first.startedMs);
    QCOMPARE(first.stoppedMs, qint64(0));
    QVERIFY(!first.isStale());
    QCOMPARE(records.value().at(1).nodeId, QStringLiteral("web2"));
}

void tst_BrokerDirectory::beatUpdatesHeartbeatAndLoad()
{
    BrokerDirectory directory(config(QStringLiteral("web1"), 20ms));
    int beats = 0;
    directory.setLoadProvider([&beats] {
        ++beats;
        return fmb::BrokerLoad{4, 1};
    });
    VERIFY_OK(directory.open());
    const qint64 started = find(directory, QStringLiteral("web1"))->startedMs;
    // The timer beats by itself: the counts arrive and the heartbeat moves on.
    QTRY_VERIFY(beats >= 2);
    QTRY_VERIFY(find(directory, QStringLiteral("web1"))->heartbeatMs > started);
    const BrokerRecord record = *find(directory, QStringLiteral("web1"));
    QCOMPARE(record.sessions, 4);
    QCOMPARE(record.userChildren, 1);
    QCOMPARE(record.startedMs, started);
}

void tst_BrokerDirectory::silentBrokerTurnsStale()
{
    // A broker that stops beating without stop() (kill -9, a hung process)
    // turns stale once StaleBeats of its own interval have passed.
    BrokerDirectory watcher(config(QStringLiteral("watcher"), 1h));
    VERIFY_OK(watcher.open());
    {
        BrokerDirectory silent(config(QStringLiteral("silent"), 30ms));
        VERIFY_OK(silent.open());
        const std::optional<BrokerRecord> fresh = find(watcher, QStringLiteral("silent"));
        QVERIFY(fresh);
        QCOMPARE(fresh->staleAfterMs(), qint64(90));
        QVERIFY(!fresh->isStale());
    } // destroyed without stop(): the row stays as last written
    QTRY_VERIFY(find(watcher, QStringLiteral("silent"))->isStale());
    const BrokerRecord stale = *find(watcher, QStringLiteral("silent"));
    QVERIFY(stale.heartbeatAgeMs > 90);
    QCOMPARE(stale.stoppedMs, qint64(0));
    QVERIFY(!find(watcher, QStringLiteral("watcher"))->isStale());
}

void tst_BrokerDirectory::cleanStopIsNotStale()
{
    BrokerDirectory watcher(config(QStringLiteral("watcher"), 1h));
    VERIFY_OK(watcher.open());
    BrokerDirectory leaving(config(QStringLiteral("leaving"), 30ms));
    leaving.setLoadProvider([] { return fmb::BrokerLoad{2, 0}; });
    VERIFY_OK(leaving.open());
    QVERIFY(beatNow(leaving));
    QSignalSpy stopped(&leaving, &BrokerDirectory::stopped);
    leaving.stop();
    QVERIFY(!leaving.isOpen());
    QTRY_COMPARE(stopped.count(), 1);
    const qint64 stoppedAt = find(watcher, QStringLiteral("leaving"))->stoppedMs;
    QVERIFY(stoppedAt > 0);
    // Long past the stale bound it still reads as stopped, not stale.
    QTRY_VERIFY(find(watcher, QStringLiteral("leaving"))->heartbeatAgeMs > 200);
    const BrokerRecord record = *find(watcher, QStringLiteral("leaving"));
    QVERIFY(!record.isStale());
    QCOMPARE(record.sessions, 0);
}

void tst_BrokerDirectory::stopLandsBeforeDestructionReturns()
{
    // The daemon's exit: stop() at shutdown, and the directory destroyed as
    // soon as the children are gone, with no event loop in between.
    BrokerDirectory watcher(config(QStringLiteral("watcher"), 1h));
    VERIFY_OK(watcher.open());
    {
        BrokerDirectory leaving(config(QStringLiteral("leaving"), 1h));
        VERIFY_OK(leaving.open());
        leaving.stop();
    }
    const std::optional<BrokerRecord> record = find(watcher, QStringLiteral("leaving"));
    QVERIFY(record);
    QVERIFY(record->stoppedMs > 0);
}

void tst_BrokerDirectory::restartReusesTheRow()
{
    {
        BrokerDirectory first(config(QStringLiteral("web1"), 1h));
        VERIFY_OK(first.open());
        first.stop();
    }
    BrokerDirectory again(config(QStringLiteral("web1"), 1h));
    VERIFY_OK(again.open());
    fmb::Result<QList<BrokerRecord>> records = read(again);
    VERIFY_OK(records);
    QCOMPARE(records.value().size(), 1);
    QCOMPARE(records.value().at(0).stoppedMs, qint64(0));
}

void tst_BrokerDirectory::brokersStartAtOnce()
{
    // Several brokers on a database without the table: each creates it "if
    // not exists" at the same moment; without the advisory lock one of them
    // fails on pg_type's unique index.
    constexpr int Brokers = 6;
    std::array<QString, Brokers> outcomes;
    std::atomic<int> ready{0};
    QList<QThread *> threads;
    for (int i = 0; i < Brokers; ++i) {
        threads.append(QThread::create([&, i] {
            BrokerDirectory directory(config(QStringLiteral("node%1").arg(i), 1h));
            ++ready;
            while (ready.load() < Brokers)
                QThread::yieldCurrentThread();
            const fmb::Result<void> r = directory.open();
            outcomes[size_t(i)] = r.ok() ? QStringLiteral("ok") : r.error().message;
            directory.stop();
        }));
        threads.last()->start();
    }
    for (QThread *thread : std::as_const(threads)) {
        QVERIFY(thread->wait(60000));
        delete thread;
    }
    for (int i = 0; i < Brokers; ++i)
        QCOMPARE(outcomes[size_t(i)], QStringLiteral("ok"));
    BrokerDirectory watcher(config(QStringLiteral("watcher"), 1h));
    VERIFY_OK(watcher.open());
    fmb::Result<QList<BrokerRecord>> records = read(watcher);
    VERIFY_OK(records);
    QCOMPARE(records.value().size(), Brokers + 1);
}

void tst_BrokerDirectory::closedDirectoryRefuses()
{
    BrokerDirectory directory(config(QStringLiteral("web1"), 1h));
    QVERIFY(!directory.beat());
    const fmb::Result<QList<BrokerRecord>> closed = read(directory);
    QVERIFY(!closed.ok());
    QCOMPARE(closed.error().message, QStringLiteral("the broker directory is closed"));
    QSignalSpy failed(&directory, &BrokerDirectory::beatFailed);
    VERIFY_OK(directory.open());
    QVERIFY(beatNow(directory));
    QCOMPARE(failed.count(), 0);
}

void tst_BrokerDirectory::beatsResumeAfterServerRestart()
{
    // A PostgreSQL restart drops every connection; the directory must open a
    // new one instead of failing every beat until the daemon restarts.
    // Beats a second apart: stale only after three missed ones, so a loaded
    // machine's pauses between the checks below cannot make it stale.
    BrokerDirectory directory(config(QStringLiteral("web1"), 1s));
    directory.setLoadProvider([] { return fmb::BrokerLoad{3, 0}; });
    QSignalSpy failed(&directory, &BrokerDirectory::beatFailed);
    VERIFY_OK(directory.open());
    const qint64 before = find(directory, QStringLiteral("web1"))->heartbeatMs;

    m_cluster->stopServer();
    QTRY_VERIFY_WITH_TIMEOUT(failed.count() >= 2, 15000); // down across beats, not a single hiccup
    QVERIFY(directory.isOpen());
    VERIFY_OK(m_cluster->startServer());

    // The directory's own reads come back once a beat has reconnected...
    QTRY_VERIFY_WITH_TIMEOUT(find(directory, QStringLiteral("web1")).has_value(), 20000);
    // ...and so do its beats: a fresh watcher sees the row young again.
    BrokerDirectory watcher(config(QStringLiteral("watcher"), 1h));
    VERIFY_OK(watcher.open());
    QTRY_VERIFY(find(watcher, QStringLiteral("web1"))->heartbeatMs > before);
    const BrokerRecord record = *find(watcher, QStringLiteral("web1"));
    QVERIFY(!record.isStale());
    QCOMPARE(record.sessions, 3);
}

void tst_BrokerDirectory::beatReinsertsDeletedRow()
{
    BrokerDirectory directory(config(QStringLiteral("web1"), 1h));
    directory.setLoadProvider([] { return fmb::BrokerLoad{2, 1}; });
    VERIFY_OK(directory.open());
    const qint64 started = find(directory, QStringLiteral("web1"))->startedMs;
    {
        // An operator cleaning up the table by hand.
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("operator"));
        m_pg.applyTo(db);
        QVERIFY2(db.open(), qPrintable(db.lastError().text()));
        QSqlQuery query(db);
        QVERIFY2(query.exec(QStringLiteral("DELETE FROM brokers WHERE node_id = 'web1'")),
                 qPrintable(query.lastError().text()));
        QCOMPARE(query.numRowsAffected(), 1);
        query.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("operator"));
    QVERIFY(!find(directory, QStringLiteral("web1")));

    QVERIFY(beatNow(directory));
    const std::optional<BrokerRecord> record = find(directory, QStringLiteral("web1"));
    QVERIFY(record);
    QCOMPARE(record->host, QStringLiteral("host-web1"));
    QCOMPARE(record->pid, QCoreApplication::applicationPid());
    QCOMPARE(record->listenUrl, QStringLiteral("http://127.0.0.1:8080"));
    QCOMPARE(record->heartbeatIntervalMs, qint64(3600 * 1000));
    QCOMPARE(record->startedMs, started);
    QCOMPARE(record->stoppedMs, qint64(0));
    QCOMPARE(record->sessions, 2);
    QCOMPARE(record->userChildren, 1);
}

void tst_BrokerDirectory::brokersGoneForGoodAreForgotten()
{
    // A node id that has not beaten for forgetAfter is gone for good: the
    // next broker that opens the directory deletes its row. A row that is
    // merely stale stays, and so does the opener's own.
    {
        BrokerDirectory gone(config(QStringLiteral("gone"), 1h));
        VERIFY_OK(gone.open());
        BrokerDirectory stale(config(QStringLiteral("stale"), 1h));
        VERIFY_OK(stale.open());
    }
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("ager"));
        m_pg.applyTo(db);
        QVERIFY2(db.open(), qPrintable(db.lastError().text()));
        QSqlQuery query(db);
        // Eight days without a beat, and two minutes.
        QVERIFY2(query.exec(QStringLiteral(
                     "UPDATE brokers SET heartbeat_ms = heartbeat_ms - 8 * 86400000 WHERE node_id = 'gone'")),
                 qPrintable(query.lastError().text()));
        QVERIFY2(query.exec(QStringLiteral(
                     "UPDATE brokers SET heartbeat_ms = heartbeat_ms - 120000 WHERE node_id = 'stale'")),
                 qPrintable(query.lastError().text()));
        query.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("ager"));

    BrokerDirectory opener(config(QStringLiteral("opener"), 1h));
    VERIFY_OK(opener.open());
    QVERIFY(!find(opener, QStringLiteral("gone")));
    QVERIFY(find(opener, QStringLiteral("stale")));
    QVERIFY(find(opener, QStringLiteral("opener")));
}

void tst_BrokerDirectory::lockedTableStallsOnlyTheDirectorysThread()
{
    // Issue 14: a statement that waits on the database (here a lock another
    // session holds) must not stop the thread that serves HTTP.
    BrokerDirectory directory(config(QStringLiteral("web1"), 1h));
    directory.setLoadProvider([] { return fmb::BrokerLoad{5, 2}; });
    VERIFY_OK(directory.open());

    // The lock is let go after 10 s at the latest, so a directory that ran
    // its statements on this thread fails the checks below instead of
    // hanging the test.
    std::atomic<bool> locked{false};
    QString lockProblem;
    QSemaphore release;
    std::unique_ptr<QThread> locker(QThread::create([&] {
        const QString name = QStringLiteral("locker");
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
            m_pg.applyTo(db);
            if (db.open()) {
                QSqlQuery query(db);
                if (!query.exec(QStringLiteral("BEGIN")) ||
                    !query.exec(QStringLiteral("LOCK TABLE brokers IN ACCESS EXCLUSIVE MODE")))
                    lockProblem = query.lastError().text();
                locked = true;
                (void)release.tryAcquire(1, 10000);
                (void)query.exec(QStringLiteral("ROLLBACK"));
                query.finish();
                db.close();
            } else {
                lockProblem = db.lastError().text();
                locked = true;
            }
        }
        QSqlDatabase::removeDatabase(name);
    }));
    locker->start();
    QTRY_VERIFY(locked.load());
    QVERIFY2(lockProblem.isEmpty(), qPrintable(lockProblem));

    int ticks = 0;
    QTimer ticker;
    ticker.setInterval(10ms);
    connect(&ticker, &QTimer::timeout, this, [&ticks] { ++ticks; });
    ticker.start();
    QSignalSpy written(&directory, &BrokerDirectory::beatWritten);
    QElapsedTimer call;
    call.start();
    QVERIFY(directory.beat());
    const qint64 callMs = call.elapsed();
    QVERIFY2(callMs < 1000, qPrintable(QStringLiteral("beat() took %1 ms").arg(callMs)));
    qInfo("beat() returned after %lld ms with the table locked", callMs);

    // A read asked meanwhile waits behind the beat; its asker leaves.
    bool answeredTheGone = false;
    {
        QObject gone;
        directory.brokers(
            &gone, [&answeredTheGone](const fmb::Result<QList<BrokerRecord>> &) { answeredTheGone = true; });
    }

    // The upsert waits on the server, and this thread's loop runs meanwhile.
    QSqlDatabase probe = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("probe"));
    m_pg.applyTo(probe);
    QVERIFY2(probe.open(), qPrintable(probe.lastError().text()));
    const auto waiting = [&probe] {
        QSqlQuery query(probe);
        if (!query.exec(QStringLiteral("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                                       " WHERE c.relname = 'brokers' AND NOT l.granted")) ||
            !query.next())
            return -1;
        return query.value(0).toInt();
    };
    QTRY_COMPARE(waiting(), 1);
    const int before = ticks;
    QTRY_VERIFY(ticks >= before + 5);
    qInfo("%d ticks of a 10 ms timer while the beat waited", ticks);
    QCOMPARE(written.count(), 0);
    QVERIFY(!locker->isFinished()); // the lock was still held all along
    // Beats asked meanwhile do not pile up behind the stuck one: one more.
    QVERIFY(directory.beat());
    QVERIFY(directory.beat());

    release.release();
    QVERIFY(locker->wait(10000));
    QTRY_COMPARE(written.count(), 2);
    const std::optional<BrokerRecord> record = find(directory, QStringLiteral("web1"));
    QCOMPARE(written.count(), 2); // the read queued after them is answered: no third beat
    QVERIFY(record);
    QCOMPARE(record->sessions, 5);
    QCOMPARE(record->userChildren, 2);
    QVERIFY(!answeredTheGone);
    probe.close();
    probe = QSqlDatabase();
    QSqlDatabase::removeDatabase(QStringLiteral("probe"));
}

QTEST_GUILESS_MAIN(tst_BrokerDirectory)
#include "tst_brokerdirectory.moc"
