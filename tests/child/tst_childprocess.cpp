#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "ChildProbe.h"
#include "child/ChildProcess.h"
#include "child/Logging.h"

Q_DECLARE_METATYPE(fmb::ChildSpec)
Q_DECLARE_METATYPE(fmb::ChildStdioKind)

using namespace std::chrono_literals;
using fmb::ChildProcess;
using fmb::ChildSpec;
using fmb::ChildStdioKind;
using fmb::ExitInfo;

using fmbtest::toolCall;

namespace {

const QString Shell = QStringLiteral("/bin/sh");
// Short, for children that must be escalated; children that leave on stdin
// EOF get a long one, so a loaded machine cannot turn their exit into a signal.
constexpr std::chrono::milliseconds Grace = 100ms;
constexpr std::chrono::milliseconds PatientGrace = 5000ms;

// The stdio of the children made in the current test: every test runs once
// with pipes and once with the socket (initTestCase_data).
ChildStdioKind g_stdio = ChildStdioKind::Pipes;

QString testServerPath()
{
    return QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server");
}

ChildSpec spec(const QString &program, const QStringList &arguments = {})
{
    ChildSpec spec;
    spec.program = program;
    spec.arguments = arguments;
    spec.environment.insert(QStringLiteral("PATH"), QStringLiteral("/usr/bin:/bin"));
    spec.environment.insert(QStringLiteral("LANG"), QStringLiteral("C.UTF-8"));
    spec.stopGrace = Grace;
    spec.label = QStringLiteral("tst child");
    spec.stdio = g_stdio;
    return spec;
}

ChildSpec shell(const QString &script)
{
    return spec(Shell, {QStringLiteral("-c"), script});
}

ChildSpec patient(ChildSpec spec)
{
    spec.stopGrace = PatientGrace;
    return spec;
}

// True while a process with this pid exists, zombies included: a reaped child is gone (ESRCH).
bool processExists(qint64 pid)
{
    return ::kill(pid_t(pid), 0) == 0 || errno != ESRCH;
}

// The stop and framing paths must tell the operator (fmb.child warnings),
// unless the environment has switched those warnings off.
void expectWarning(const QString &pattern)
{
    if (fmb::lcChild().isWarningEnabled())
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(pattern));
}

// Open descriptors of this process.
int openDescriptors()
{
    return int(QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::Files | QDir::System).size());
}

// Closes this process's stdin for a test and gives it back afterwards.
class StdinClosed {
public:
    StdinClosed()
        : m_saved(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3))
    {
        ::close(STDIN_FILENO);
    }
    ~StdinClosed()
    {
        (void)::dup2(m_saved, STDIN_FILENO);
        ::close(m_saved);
    }
    StdinClosed(const StdinClosed &) = delete;
    StdinClosed &operator=(const StdinClosed &) = delete;

    [[nodiscard]] bool isClosed() const { return m_saved >= 0 && ::fcntl(STDIN_FILENO, F_GETFD) == -1; }

private:
    int m_saved;
};

// Fills this process's descriptor table (under a soft limit lowered to 256)
// until no pipe can be made; gives everything back when released.
class DescriptorsExhausted {
public:
    DescriptorsExhausted()
    {
        (void)::getrlimit(RLIMIT_NOFILE, &m_saved);
        struct rlimit low = m_saved;
        low.rlim_cur = std::min<rlim_t>(m_saved.rlim_cur, 256);
        (void)::setrlimit(RLIMIT_NOFILE, &low);
        for (int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC); fd >= 0;
             fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC))
            m_fds.append(fd);
    }
    ~DescriptorsExhausted()
    {
        for (int fd : std::as_const(m_fds))
            ::close(fd);
        (void)::setrlimit(RLIMIT_NOFILE, &m_saved);
    }
    DescriptorsExhausted(const DescriptorsExhausted &) = delete;
    DescriptorsExhausted &operator=(const DescriptorsExhausted &) = delete;

private:
    struct rlimit m_saved = {};
    QList<int> m_fds;
};

// An environment provider the test answers when it chooses (issue 14: the
// daemon's answers come from the store thread).
struct DeferredEnvironment {
    int asked = 0;
    QPointer<QObject> context;
    fmb::EnvironmentAnswer done;

    fmb::EnvironmentProvider provider()
    {
        return [this](QObject *askedBy, fmb::EnvironmentAnswer answer) {
            ++asked;
            context = askedBy;
            done = std::move(answer);
        };
    }
};

// What one child said and how it ended, in order.
struct Recorder {
    QList<QByteArray> lines;
    QList<ExitInfo> exits;
    QStringList order; // "started", "line", "exit"
    int started = 0;
    qint64 startedPid = 0;

    void watch(ChildProcess *child)
    {
        QObject::connect(child, &ChildProcess::started, child, [this, child] {
            ++started;
            startedPid = child->processId();
            order.append(QStringLiteral("started"));
        });
        QObject::connect(child, &ChildProcess::lineReceived, child, [this](const QByteArray &line) {
            lines.append(line);
            order.append(QStringLiteral("line"));
        });
        QObject::connect(child, &ChildProcess::exited, child, [this](const ExitInfo &info) {
            exits.append(info);
            order.append(QStringLiteral("exit"));
        });
    }
};

// A child of `spec` started with `environment` as its provider, watched by
// `recorder`, with one line written while it waits.
std::unique_ptr<ChildProcess> startWaiting(DeferredEnvironment &environment, ChildSpec spec,
                                           Recorder &recorder)
{
    spec.environmentProvider = environment.provider();
    auto child = std::make_unique<ChildProcess>(spec);
    recorder.watch(child.get());
    child->start();
    if (!child->write("pending"))
        return nullptr;
    return child;
}

} // namespace

class tst_ChildProcess : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase_data();
    void init();
    void lineRoundTrip_data();
    void lineRoundTrip();
    void framesLines();
    void exitedOnce_data();
    void exitedOnce();
    void failedToStart_data();
    void failedToStart();
    void stopEscalates_data();
    void stopEscalates();
    void stopIsIdempotent();
    void overlongLineDropped_data();
    void overlongLineDropped();
    void writeRefused_data();
    void writeRefused();
    void writeBoundedByPendingInput();
    void nothingEmittedInsideWrite();
    void noZombie_data();
    void noZombie();
    void destructorKillsRunningChild();
    void childSeesItsStdio();
    void descriptorsPerChild();
    void standardStreamClosedInParent();
    void bulkRoundTrip();
    void writeAfterChildClosedStdin();
    void deferredEnvironmentReachesChild();
    void deferredEnvironmentErrorFailsStart();
    void stopWhileEnvironmentPending();

private:
    void drainPostedEvents();
};

void tst_ChildProcess::initTestCase_data()
{
    QTest::addColumn<ChildStdioKind>("stdio");
    QTest::newRow("pipes") << ChildStdioKind::Pipes;
    QTest::newRow("socket") << ChildStdioKind::Socket;
}

void tst_ChildProcess::init()
{
    QFETCH_GLOBAL(ChildStdioKind, stdio);
    g_stdio = stdio;
}

// Lets every event already posted run (a second exited() would be among them).
void tst_ChildProcess::drainPostedEvents()
{
    bool drained = false;
    QMetaObject::invokeMethod(
        this, [&drained] { drained = true; }, Qt::QueuedConnection);
    QTRY_VERIFY(drained);
}

void tst_ChildProcess::lineRoundTrip_data()
{
    QTest::addColumn<ChildSpec>("childSpec");
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<QByteArray>("expected");
    QTest::addColumn<bool>("asJson");

    QTest::newRow("cat echoes a line") << patient(spec(QStringLiteral("/bin/cat")))
                                       << QByteArray("hello, child") << QByteArray("hello, child") << false;
    QTest::newRow("test server answers echo")
        << patient(spec(testServerPath()))
        << toolCall(1, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("hi")}})
        << QByteArray(R"({"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}})")
        << true;
}

void tst_ChildProcess::lineRoundTrip()
{
    QFETCH(ChildSpec, childSpec);
    childSpec.stdio = g_stdio; // the row was made before init() chose
    QFETCH(QByteArray, input);
    QFETCH(QByteArray, expected);
    QFETCH(bool, asJson);

    Recorder recorder;
    ChildProcess child(childSpec);
    recorder.watch(&child);
    child.start();
    QCOMPARE(recorder.started, 0); // start() never calls back before it returns
    QTRY_COMPARE(recorder.started, 1);
    QVERIFY(child.isRunning());
    QVERIFY(child.processId() > 0);
    QCOMPARE(recorder.startedPid, child.processId());

    QVERIFY(child.write(input));
    QTRY_COMPARE(recorder.lines.size(), 1);
    if (asJson)
        QCOMPARE(QJsonDocument::fromJson(recorder.lines.first()), QJsonDocument::fromJson(expected));
    else
        QCOMPARE(recorder.lines.first(), expected);

    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
    QVERIFY(!recorder.exits.first().crashed); // both leave when their stdin closes
}

void tst_ChildProcess::framesLines()
{
    // CRLF loses its CR, empty lines are skipped, and a line split over writes is joined.
    Recorder recorder;
    ChildProcess child(shell(QStringLiteral("printf 'one\\r\\n\\n'; printf 'tw'; printf 'o\\n'")));
    recorder.watch(&child);
    child.start();
    QTRY_COMPARE(recorder.exits.size(), 1);
    QCOMPARE(recorder.lines, (QList<QByteArray>{"one", "two"}));
    // A child that writes at once is still heard only after started().
    QCOMPARE(recorder.order, (QStringList{QStringLiteral("started"), QStringLiteral("line"),
                                          QStringLiteral("line"), QStringLiteral("exit")}));
}

void tst_ChildProcess::exitedOnce_data()
{
    QTest::addColumn<ChildSpec>("childSpec");
    QTest::addColumn<QByteArray>("input");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<bool>("crashed");
    QTest::addColumn<QList<QByteArray>>("lines");

    QTest::newRow("exit status 0") << shell(QStringLiteral("exit 0")) << QByteArray() << 0 << false
                                   << QList<QByteArray>{};
    QTest::newRow("exit status 7, last words first")
        << shell(QStringLiteral("echo last words; exit 7")) << QByteArray() << 7 << false
        << QList<QByteArray>{"last words"};
    QTest::newRow("killed by SIGKILL") << shell(QStringLiteral("kill -KILL $$")) << QByteArray()
                                       << int(SIGKILL) << true << QList<QByteArray>{};
    QTest::newRow("test server crash tool, code 5")
        << spec(testServerPath()) << toolCall(1, QStringLiteral("crash"), {{QStringLiteral("code"), 5}}) << 5
        << false << QList<QByteArray>{};
}

void tst_ChildProcess::exitedOnce()
{
    QFETCH(ChildSpec, childSpec);
    childSpec.stdio = g_stdio; // the row was made before init() chose
    QFETCH(QByteArray, input);
    QFETCH(int, exitCode);
    QFETCH(bool, crashed);
    QFETCH(QList<QByteArray>, lines);

    Recorder recorder;
    ChildProcess child(childSpec);
    recorder.watch(&child);
    child.start();
    if (!input.isEmpty())
        QVERIFY(child.write(input));
    QTRY_COMPARE(recorder.exits.size(), 1);
    drainPostedEvents();
    QCOMPARE(recorder.exits.size(), 1);

    const ExitInfo info = recorder.exits.first();
    QCOMPARE(info.crashed, crashed);
    QCOMPARE(info.exitCode, exitCode);
    QVERIFY(!info.failedToStart);
    QVERIFY(!info.reason.isEmpty());
    QCOMPARE(recorder.lines, lines);
    QCOMPARE(recorder.order.constLast(), QStringLiteral("exit")); // what it wrote came before its end
    QVERIFY(!child.isRunning());
    QCOMPARE(child.processId(), 0);

    // Stopping what has already gone is a no-op, not a second exited().
    child.stop();
    drainPostedEvents();
    QCOMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::failedToStart_data()
{
    QTest::addColumn<QString>("kind");
    QTest::newRow("program does not exist") << QStringLiteral("missing");
    QTest::newRow("program is not executable") << QStringLiteral("noexec");
    QTest::newRow("program is a directory") << QStringLiteral("directory");
    // QProcess::start() reports this one before it returns (it cannot make its pipes).
    QTest::newRow("no descriptors left for the pipes") << QStringLiteral("descriptors");
}

void tst_ChildProcess::failedToStart()
{
    QFETCH(QString, kind);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QString program = dir.filePath(QStringLiteral("no-such-program"));
    if (kind == QLatin1String("noexec")) {
        QFile file(program);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("#!/bin/sh\nexit 0\n");
        file.close();
        QVERIFY(file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner));
    } else if (kind == QLatin1String("directory")) {
        program = dir.path();
    } else if (kind == QLatin1String("descriptors")) {
        program = QStringLiteral("/bin/true");
    }

    Recorder recorder;
    ChildProcess child(spec(program));
    recorder.watch(&child);
    {
        std::optional<DescriptorsExhausted> exhausted;
        if (kind == QLatin1String("descriptors"))
            exhausted.emplace();
        child.start();
    }
    QCOMPARE(recorder.exits.size(), 0); // reported from the event loop, never from inside start()
    QTRY_COMPARE(recorder.exits.size(), 1);
    drainPostedEvents();
    QCOMPARE(recorder.exits.size(), 1);
    QCOMPARE(recorder.started, 0);

    const ExitInfo info = recorder.exits.first();
    QVERIFY(info.failedToStart);
    QVERIFY(!info.crashed);
    QCOMPARE(info.exitCode, -1);
    QVERIFY2(info.reason.contains(program), qPrintable(info.reason));
    QVERIFY(!child.isRunning());
    QCOMPARE(child.processId(), 0);
    QVERIFY(!child.write("ping"));

    child.stop();
    drainPostedEvents();
    QCOMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::stopEscalates_data()
{
    QTest::addColumn<ChildSpec>("childSpec");
    QTest::addColumn<int>("gracesNeeded"); // 0: stdin EOF was enough; 1: SIGTERM; 2: SIGKILL
    QTest::addColumn<bool>("crashed");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("warning"); // the fmb.child warning the stop must log, if any

    // Each prints "ready" once its signal dispositions are in place; exec keeps no shell behind.
    QTest::newRow("leaves on stdin EOF")
        << patient(shell(QStringLiteral("echo ready; exec cat"))) << 0 << false << 0 << QString();
    QTest::newRow("ignores EOF, SIGTERM ends it")
        << shell(QStringLiteral("echo ready; exec sleep 30")) << 1 << true << int(SIGTERM) << QString();
    QTest::newRow("ignores EOF and SIGTERM, SIGKILL ends it")
        << shell(QStringLiteral("trap '' TERM; echo ready; exec sleep 30")) << 2 << true << int(SIGKILL)
        << QStringLiteral("ignored SIGTERM; sending SIGKILL");
}

void tst_ChildProcess::stopEscalates()
{
    QFETCH(ChildSpec, childSpec);
    childSpec.stdio = g_stdio; // the row was made before init() chose
    QFETCH(int, gracesNeeded);
    QFETCH(bool, crashed);
    QFETCH(int, exitCode);
    QFETCH(QString, warning);

    Recorder recorder;
    ChildProcess child(childSpec);
    recorder.watch(&child);
    child.start();
    QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});
    const qint64 pid = child.processId();
    if (!warning.isEmpty())
        expectWarning(QRegularExpression::escape(warning));

    QElapsedTimer elapsed;
    elapsed.start();
    child.stop();
    QVERIFY(!child.write("too late")); // stdin is closed once stopping
    QTRY_COMPARE(recorder.exits.size(), 1);
    // Coarse timers may fire up to 5% early.
    QVERIFY2(elapsed.elapsed() >= gracesNeeded * Grace.count() * 9 / 10,
             qPrintable(QStringLiteral("exited after %1 ms").arg(elapsed.elapsed())));

    const ExitInfo info = recorder.exits.first();
    QCOMPARE(info.crashed, crashed);
    QCOMPARE(info.exitCode, exitCode);
    QVERIFY2(info.reason.startsWith(QLatin1String("stopped (")), qPrintable(info.reason));
    QVERIFY(!processExists(pid));
    drainPostedEvents();
    QCOMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::stopIsIdempotent()
{
    // Before start(): nothing to stop, and the child then runs normally.
    Recorder recorder;
    ChildProcess child(shell(QStringLiteral("trap '' TERM; echo ready; exec sleep 30")));
    recorder.watch(&child);
    child.stop();
    child.start();
    QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});
    QVERIFY(child.isRunning());

    expectWarning(QStringLiteral("ignored SIGTERM; sending SIGKILL"));
    child.stop();
    child.stop();
    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
    QVERIFY(recorder.exits.first().crashed);
    QCOMPARE(recorder.exits.first().exitCode, int(SIGKILL)); // the escalation ran to its end once
    child.stop();
    drainPostedEvents();
    QCOMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::overlongLineDropped_data()
{
    QTest::addColumn<int>("bytes");
    QTest::addColumn<qint64>("dropped");

    QTest::newRow("exactly the limit is kept") << 1024 << qint64(0);
    QTest::newRow("one byte over is dropped") << 1025 << qint64(1);
    QTest::newRow("far over, in many reads, is dropped") << 300000 << qint64(1);
}

void tst_ChildProcess::overlongLineDropped()
{
    QFETCH(int, bytes);
    QFETCH(qint64, dropped);

    ChildSpec childSpec = spec(testServerPath());
    childSpec.maxLineBytes = 1024;
    Recorder recorder;
    ChildProcess child(childSpec);
    recorder.watch(&child);
    if (dropped)
        expectWarning(QStringLiteral("wrote a line of %1 bytes, over the limit of 1024").arg(bytes));
    child.start();
    QVERIFY(child.write(toolCall(1, QStringLiteral("huge"), {{QStringLiteral("bytes"), bytes}})));
    QVERIFY(child.write(
        toolCall(2, QStringLiteral("echo"), {{QStringLiteral("text"), QStringLiteral("after")}})));

    // The huge line (if kept), then both answers: the framer resynchronises after a drop.
    const int expectedLines = dropped ? 2 : 3;
    QTRY_COMPARE(recorder.lines.size(), expectedLines);
    QCOMPARE(child.droppedLines(), dropped);
    if (!dropped)
        QCOMPARE(recorder.lines.first(), QByteArray(bytes, 'x'));
    const QJsonObject first = QJsonDocument::fromJson(recorder.lines.at(expectedLines - 2)).object();
    const QJsonObject second = QJsonDocument::fromJson(recorder.lines.at(expectedLines - 1)).object();
    QCOMPARE(first.value(QLatin1String("id")).toInt(), 1);
    QCOMPARE(second.value(QLatin1String("id")).toInt(), 2);
    QVERIFY(child.isRunning());

    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::writeRefused_data()
{
    QTest::addColumn<QString>("when");
    QTest::newRow("before start") << QStringLiteral("before start");
    QTest::newRow("while stopping") << QStringLiteral("stopping");
    QTest::newRow("after exit") << QStringLiteral("exited");
}

void tst_ChildProcess::writeRefused()
{
    QFETCH(QString, when);

    Recorder recorder;
    ChildProcess child(shell(QStringLiteral("echo ready; exec cat")));
    recorder.watch(&child);
    if (when == QLatin1String("before start")) {
        QVERIFY(!child.write("early"));
        child.start();
        QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});
        QVERIFY(child.write("now"));
        QTRY_COMPARE(recorder.lines, (QList<QByteArray>{"ready", "now"}));
        child.stop();
        QTRY_COMPARE(recorder.exits.size(), 1);
        return;
    }
    child.start();
    QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});
    child.stop();
    if (when == QLatin1String("stopping")) {
        QVERIFY(child.isRunning());
        QVERIFY(!child.write("late"));
    }
    QTRY_COMPARE(recorder.exits.size(), 1);
    QVERIFY(!child.write("later"));
    QCOMPARE(recorder.lines, QList<QByteArray>{"ready"});
}

void tst_ChildProcess::writeBoundedByPendingInput()
{
    // A child that never reads its stdin: the socket fills, then our queue hits its bound.
    ChildSpec childSpec = shell(QStringLiteral("echo ready; exec sleep 30"));
    childSpec.maxPendingInputBytes = 100000;
    Recorder recorder;
    ChildProcess child(childSpec);
    recorder.watch(&child);
    child.start();
    QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});

    const QByteArray line(40000, 'i');
    expectWarning(QStringLiteral("is not reading its input"));
    int accepted = 0;
    bool refused = false;
    for (int i = 0; i < 100 && !refused; ++i) {
        if (child.write(line))
            ++accepted;
        else
            refused = true;
    }
    QVERIFY(refused);
    QVERIFY2(accepted >= 2, qPrintable(QString::number(accepted)));
    QVERIFY(child.isRunning()); // refusing input does not end the child
    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::nothingEmittedInsideWrite()
{
    // write() hands the line to the socket at once. With the socket full,
    // output that arrives meanwhile must still reach us from the event loop,
    // never from inside write().
    ChildSpec childSpec = shell(QStringLiteral("echo ready; sleep 0.2; echo late; exec sleep 30"));
    childSpec.maxPendingInputBytes = 1024 * 1024;
    ChildProcess child(childSpec);
    Recorder recorder;
    recorder.watch(&child);
    bool insideWrite = false;
    int emittedInside = 0;
    connect(&child, &ChildProcess::lineReceived, this, [&] { emittedInside += insideWrite ? 1 : 0; });
    child.start();
    QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});

    // The child never reads: the socket fills, and "late" arrives
    // on stdout while we go on writing without returning to the event loop.
    const QByteArray line(8000, 'i');
    for (int i = 0; i < 100; ++i) {
        insideWrite = true;
        QVERIFY(child.write(line));
        insideWrite = false;
        QThread::msleep(5); // the child's "late" is due 200 ms in: keep writing past it
    }
    QCOMPARE(emittedInside, 0);
    QTRY_COMPARE(recorder.lines, (QList<QByteArray>{"ready", "late"}));
    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::noZombie_data()
{
    QTest::addColumn<ChildSpec>("childSpec");
    QTest::addColumn<bool>("stop");

    QTest::newRow("exits by itself") << shell(QStringLiteral("echo ready; read line; exit 3")) << false;
    QTest::newRow("killed by a signal")
        << shell(QStringLiteral("echo ready; read line; kill -KILL $$")) << false;
    QTest::newRow("stopped with SIGKILL")
        << shell(QStringLiteral("trap '' TERM; echo ready; exec sleep 30")) << true;
}

void tst_ChildProcess::noZombie()
{
    QFETCH(ChildSpec, childSpec);
    childSpec.stdio = g_stdio; // the row was made before init() chose
    QFETCH(bool, stop);

    Recorder recorder;
    ChildProcess child(childSpec);
    recorder.watch(&child);
    child.start();
    QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});
    const qint64 pid = recorder.startedPid;
    QVERIFY(pid > 0);
    QVERIFY(processExists(pid));

    if (stop) {
        expectWarning(QStringLiteral("ignored SIGTERM"));
        child.stop();
    } else {
        QVERIFY(child.write("go"));
    }
    QTRY_COMPARE(recorder.exits.size(), 1);
    // exited() comes after the child was reaped: not even a zombie is left.
    QCOMPARE(::kill(pid_t(pid), 0), -1);
    QCOMPARE(errno, ESRCH);
}

void tst_ChildProcess::destructorKillsRunningChild()
{
    Recorder recorder;
    auto child =
        std::make_unique<ChildProcess>(shell(QStringLiteral("trap '' TERM; echo ready; exec sleep 30")));
    recorder.watch(child.get());
    child->start();
    QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});
    const qint64 pid = child->processId();
    QVERIFY(processExists(pid));

    child.reset(); // an owner that forgot stop(): the last resort must leave nothing behind
    QVERIFY(!processExists(pid));
    QCOMPARE(recorder.exits.size(), 0);
}

void tst_ChildProcess::childSeesItsStdio()
{
    // Pipes: fd 0 and 1 are two pipes. Socket: they are one socket. Both
    // block for the child (fdinfo flags in octal: O_NONBLOCK is 04000); fd 2
    // is QProcess's pipe either way.
    Recorder recorder;
    ChildProcess child(patient(
        shell(QStringLiteral("readlink /proc/self/fd/0; readlink /proc/self/fd/1; readlink /proc/self/fd/2; "
                             "sed -n 's/^flags:[[:space:]]*//p' /proc/self/fdinfo/0; "
                             "sed -n 's/^flags:[[:space:]]*//p' /proc/self/fdinfo/1; exec cat"))));
    recorder.watch(&child);
    child.start();
    QTRY_COMPARE(recorder.lines.size(), 5);
    const QByteArray kind = g_stdio == ChildStdioKind::Socket ? "socket:[" : "pipe:[";
    QVERIFY2(recorder.lines.at(0).startsWith(kind), recorder.lines.at(0).constData());
    QVERIFY2(recorder.lines.at(1).startsWith(kind), recorder.lines.at(1).constData());
    QCOMPARE(recorder.lines.at(0) == recorder.lines.at(1), g_stdio == ChildStdioKind::Socket);
    QVERIFY2(recorder.lines.at(2).startsWith("pipe:["), recorder.lines.at(2).constData());
    for (int i : {3, 4}) {
        bool ok = false;
        const int flags = recorder.lines.at(i).toInt(&ok, 8);
        QVERIFY2(ok, recorder.lines.at(i).constData());
        QCOMPARE(flags & O_NONBLOCK, 0);
    }

    QVERIFY(child.write("still cat"));
    QTRY_COMPARE(recorder.lines.size(), 6);
    QCOMPARE(recorder.lines.last(), QByteArray("still cat"));
    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
    QVERIFY(!recorder.exits.first().crashed); // stdin EOF was enough
}

void tst_ChildProcess::descriptorsPerChild()
{
    // The session ceiling is computed from this figure (Daemon, FileLimit).
    QCOMPARE(ChildProcess::descriptors(ChildStdioKind::Pipes), 4);
    QCOMPARE(ChildProcess::descriptors(ChildStdioKind::Socket), 3);
    const int before = openDescriptors();
    std::vector<std::unique_ptr<ChildProcess>> children;
    std::vector<std::unique_ptr<Recorder>> recorders;
    constexpr int Count = 5;
    for (int i = 0; i < Count; ++i) {
        children.push_back(
            std::make_unique<ChildProcess>(patient(shell(QStringLiteral("echo ready; exec cat")))));
        recorders.push_back(std::make_unique<Recorder>());
        recorders.back()->watch(children.back().get());
        children.back()->start();
    }
    for (const auto &recorder : recorders)
        QTRY_COMPARE(recorder->lines, QList<QByteArray>{"ready"});
    QCOMPARE(openDescriptors() - before, Count * ChildProcess::descriptors(g_stdio));

    for (const auto &child : children)
        child->stop();
    for (const auto &recorder : recorders)
        QTRY_COMPARE(recorder->exits.size(), 1);
    drainPostedEvents();
    QCOMPARE(openDescriptors(), before); // every end closed with its child
}

void tst_ChildProcess::standardStreamClosedInParent()
{
    // A daemon started with stdin (or stdout) closed: our end of a pipe or of
    // the socket would get descriptor 0, which the child's own set-up would
    // clobber. It must still work. Descriptor 0 stays free until the child
    // has gone: QProcess may put one of its own pipes there meanwhile.
    StdinClosed closed;
    QVERIFY(closed.isClosed());
    Recorder recorder;
    {
        ChildProcess child(patient(shell(QStringLiteral("echo ready; exec cat"))));
        recorder.watch(&child);
        child.start();
        QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});
        QVERIFY(child.write("through descriptor 0"));
        QTRY_COMPARE(recorder.lines, (QList<QByteArray>{"ready", "through descriptor 0"}));
        child.stop();
        QTRY_COMPARE(recorder.exits.size(), 1);
        QVERIFY(!recorder.exits.first().crashed);
    }
    drainPostedEvents();
    QVERIFY(closed.isClosed()); // nothing of the child's left behind on 0
}

void tst_ChildProcess::bulkRoundTrip()
{
    // Far more than the socket buffers hold, in both directions at once:
    // what the socket does not take at once must follow, in order.
    Recorder recorder;
    ChildProcess child(patient(spec(QStringLiteral("/bin/cat"))));
    recorder.watch(&child);
    child.start();
    QList<QByteArray> sent;
    for (int i = 0; i < 400; ++i) {
        sent.append(QByteArray::number(i).append(':').append(QByteArray(10000 + i, char('a' + i % 26))));
        QVERIFY(child.write(sent.last()));
    }
    QTRY_COMPARE_WITH_TIMEOUT(recorder.lines.size(), sent.size(), 20000);
    QVERIFY(recorder.lines == sent);
    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::writeAfterChildClosedStdin()
{
    // With pipes, a child that has closed its stdin leaves no reader: the
    // write fails (EPIPE), and SIGPIPE must not reach us (QTest's handler
    // treats it as fatal, as SIG_DFL would). The socket is still the
    // child's stdout, so there the line is taken and never read.
    Recorder recorder;
    ChildProcess child(shell(QStringLiteral("exec 0<&-; echo ready; exec sleep 30")));
    recorder.watch(&child);
    child.start();
    QTRY_COMPARE(recorder.lines, QList<QByteArray>{"ready"});
    QCOMPARE(child.write("anyone there?"), g_stdio == ChildStdioKind::Socket);
    QVERIFY(!child.write("still nobody") || g_stdio == ChildStdioKind::Socket);
    QVERIFY(child.isRunning()); // refused input does not end the child
    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
}

void tst_ChildProcess::deferredEnvironmentReachesChild()
{
    // The child forks once the provider answers, with the variable in its
    // environment; lines written meanwhile reach it, in order, after that.
    DeferredEnvironment environment;
    ChildSpec childSpec = patient(shell(QStringLiteral(
        "read first; echo \"$FMB_DEFERRED $first\"; read second; echo \"$second\"; exec cat")));
    childSpec.environmentProvider = environment.provider();
    childSpec.maxPendingInputBytes = 64;
    Recorder recorder;
    ChildProcess child(childSpec);
    recorder.watch(&child);
    child.start();
    QCOMPARE(environment.asked, 1);
    QCOMPARE(environment.context.data(), &child);
    QVERIFY(child.write("first"));
    QVERIFY(child.write("second"));
    expectWarning(QStringLiteral("is not reading its input"));
    QVERIFY(!child.write(QByteArray(childSpec.maxPendingInputBytes, 'x'))); // still bounded
    drainPostedEvents();
    QCOMPARE(recorder.started, 0);
    QCOMPARE(child.processId(), 0); // nothing forked yet
    QVERIFY(!child.isRunning());

    environment.done(fmb::EnvironmentVariables{{QStringLiteral("FMB_DEFERRED"), QStringLiteral("token-1")}});
    QTRY_COMPARE(recorder.lines.size(), 2);
    QCOMPARE(recorder.lines, (QList<QByteArray>{"token-1 first", "second"}));
    QCOMPARE(recorder.started, 1);
    QVERIFY(child.processId() > 0);
    QVERIFY(child.write("third")); // written at once now
    QTRY_COMPARE(recorder.lines.size(), 3);
    QCOMPARE(recorder.lines.last(), QByteArray("third"));

    child.stop();
    QTRY_COMPARE(recorder.exits.size(), 1);
    QVERIFY(!recorder.exits.first().failedToStart);
}

void tst_ChildProcess::deferredEnvironmentErrorFailsStart()
{
    // An error answer fails the start as a missing program does: exited()
    // once, from the event loop, and nothing forked.
    DeferredEnvironment environment;
    Recorder recorder;
    const std::unique_ptr<ChildProcess> started =
        startWaiting(environment, shell(QStringLiteral("echo forked")), recorder);
    QVERIFY(started);
    ChildProcess &child = *started;
    environment.done(fmb::Error{fmb::ErrorCode::Unavailable, QStringLiteral("grant-1"),
                                QStringLiteral("the store is unavailable")});
    QCOMPARE(recorder.exits.size(), 0); // not from inside the answer
    QTRY_COMPARE(recorder.exits.size(), 1);
    drainPostedEvents();
    QCOMPARE(recorder.exits.size(), 1);
    QCOMPARE(recorder.started, 0);
    QVERIFY(recorder.lines.isEmpty());
    const ExitInfo info = recorder.exits.first();
    QVERIFY(info.failedToStart);
    QVERIFY(info.unavailable); // may come back: the session answers 503, not 502
    QCOMPARE(info.exitCode, -1);
    QVERIFY2(info.reason.contains(QLatin1String("the store is unavailable")), qPrintable(info.reason));
    QCOMPARE(child.processId(), 0);
    QVERIFY(!child.write("late"));
}

void tst_ChildProcess::stopWhileEnvironmentPending()
{
    // stop() before the answer ends the child once; the late answer forks nothing.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString marker = dir.filePath(QStringLiteral("forked"));
    DeferredEnvironment environment;
    Recorder recorder;
    const std::unique_ptr<ChildProcess> started =
        startWaiting(environment, shell(QStringLiteral("touch '%1'; exec cat").arg(marker)), recorder);
    QVERIFY(started);
    ChildProcess &child = *started;
    child.stop();
    QCOMPARE(recorder.exits.size(), 0); // never from inside stop()
    QVERIFY(!child.write("after stop"));
    QTRY_COMPARE(recorder.exits.size(), 1);
    child.stop();

    environment.done(fmb::EnvironmentVariables{{QStringLiteral("FMB_DEFERRED"), QStringLiteral("late")}});
    drainPostedEvents();
    QCOMPARE(recorder.exits.size(), 1);
    QCOMPARE(recorder.started, 0);
    QCOMPARE(child.processId(), 0);
    QVERIFY(!child.isRunning());
    QVERIFY(!QFile::exists(marker));
}

QTEST_GUILESS_MAIN(tst_ChildProcess)
#include "tst_childprocess.moc"
