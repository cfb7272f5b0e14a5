#include <cerrno>
#include <cstddef>
#include <cstdio>

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QProcess>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "ChildProbe.h"
#include "child/ChildProcess.h"
#include "child/ChildSandbox.h"

using fmb::ChildProcess;
using fmb::ChildSandbox;
using fmb::ChildSpec;
using fmb::ProtectedPath;
using fmb::SandboxAccess;
using fmb::SandboxPath;
using fmb::SandboxPlan;

using fmbtest::landlockMissing;
using fmbtest::toolCall;

namespace {

constexpr int WaitMs = 10000;

QString testServerPath()
{
    return QStringLiteral(FMB_TEST_BIN_DIR "/fmb-test-mcp-server");
}

QStringList words(std::initializer_list<const char *> list)
{
    QStringList result;
    for (const char *word : list)
        result.append(QString::fromUtf8(word));
    return result;
}

// The text of the test server's answer to a tools/call.
QString toolText(const QByteArray &line)
{
    return fmbtest::toolText(QJsonDocument::fromJson(line).object());
}

// The test server's answer to an "open" call: {path: "ok" or errno name}.
QJsonObject openResults(const QByteArray &line)
{
    return QJsonDocument::fromJson(toolText(line).toUtf8()).object();
}

bool writeFile(const QString &path, const QByteArray &content)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly) && file.write(content) == content.size();
}

// "r:a/b" or "w:a/b" under root, as the planner takes them.
QList<SandboxPath> allowedUnder(const QString &root, const QStringList &entries)
{
    QList<SandboxPath> paths;
    for (const QString &entry : entries) {
        const SandboxAccess access =
            entry.startsWith(QLatin1String("w:")) ? SandboxAccess::Write : SandboxAccess::Read;
        paths.append({root + QLatin1Char('/') + entry.mid(2), access, QStringLiteral("child_allow_read")});
    }
    return paths;
}

QList<ProtectedPath> protectedUnder(const QString &root, const QStringList &entries)
{
    QList<ProtectedPath> paths;
    for (const QString &entry : entries)
        paths.append({root + QLatin1Char('/') + entry, QStringLiteral("state_dir")});
    return paths;
}

// The rules as "r:relative" / "w:relative", sorted.
QStringList relativeRules(const SandboxPlan &plan, const QString &root)
{
    QStringList rules;
    for (const fmb::SandboxRule &rule : plan.rules)
        rules.append((rule.access == SandboxAccess::Write ? QLatin1String("w:") : QLatin1String("r:")) +
                     QDir(root).relativeFilePath(rule.path));
    rules.sort();
    return rules;
}

} // namespace

class tst_ChildSandbox : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();

    void plan_data();
    void plan();
    void missingDefaultIsSkipped();
    void vanishedEntryIsSkipped();
    void childCannotReach_data();
    void childCannotReach();
    void childCannotReadAnotherChild();
    void capsetRefusedWithoutCapabilities();
    void childCannotSignalOutside();

private:
    // Runs the test server with `sandbox`, asks it to open each path, and
    // returns {path: "ok" or errno name}; empty on failure.
    QJsonObject openInChild(const std::shared_ptr<const ChildSandbox> &sandbox, const QStringList &paths,
                            const QString &mode);
    [[nodiscard]] std::shared_ptr<const ChildSandbox> sandboxForTree();

    QTemporaryDir m_tree;
    QString m_root; // canonical m_tree.path()
};

// root/etc/{a.conf, link -> app/secret, app/{secret, other}}, root/lib/x,
// root/state/{upstream-tokens.key, tokens.sqlite}, root/scratch/, root/secret-file
void tst_ChildSandbox::initTestCase()
{
    QVERIFY(m_tree.isValid());
    m_root = QFileInfo(m_tree.path()).canonicalFilePath();
    const QDir root(m_root);
    for (const char *dir : {"etc/app", "lib", "state", "scratch"})
        QVERIFY(root.mkpath(QString::fromLatin1(dir)));
    for (const char *file : {"etc/a.conf", "etc/app/secret", "etc/app/other", "lib/x",
                             "state/upstream-tokens.key", "state/tokens.sqlite", "secret-file"})
        QVERIFY(writeFile(root.filePath(QString::fromLatin1(file)), "content\n"));
    QVERIFY(QFile::link(root.filePath(QStringLiteral("etc/app/secret")),
                        root.filePath(QStringLiteral("etc/link"))));
}

void tst_ChildSandbox::plan_data()
{
    QTest::addColumn<QStringList>("allowed");
    QTest::addColumn<QStringList>("protectedPaths");
    QTest::addColumn<QStringList>("rules");     // expected, sorted
    QTest::addColumn<QString>("errorContains"); // non-empty: planning fails

    QTest::newRow("no protected path inside: one rule per path")
        << words({"r:etc", "w:scratch"}) << words({"state"}) << words({"r:etc", "w:scratch"}) << QString();
    QTest::newRow("directory holding the state dir: its other entries instead")
        << words({"w:."}) << words({"state"}) << words({"w:etc", "w:lib", "w:scratch", "w:secret-file"})
        << QString();
    QTest::newRow("protected two levels down: carved on the way, links left out")
        << words({"r:etc"}) << words({"etc/app/secret"}) << words({"r:etc/a.conf", "r:etc/app/other"})
        << QString();
    QTest::newRow("several protected paths in one directory")
        << words({"r:."}) << words({"state", "secret-file"}) << words({"r:etc", "r:lib", "r:scratch"})
        << QString();
    QTest::newRow("protected path itself allowed: refused")
        << words({"r:state"}) << words({"state"}) << QStringList() << QStringLiteral("lies in state_dir");
    QTest::newRow("allowed path inside a protected one: refused")
        << words({"r:state/tokens.sqlite"}) << words({"state"}) << QStringList()
        << QStringLiteral("which children must never reach");
    QTest::newRow("missing allowed path: refused")
        << words({"r:nowhere"}) << words({"state"}) << QStringList() << QStringLiteral("does not exist");
}

void tst_ChildSandbox::plan()
{
    QFETCH(QStringList, allowed);
    QFETCH(QStringList, protectedPaths);
    QFETCH(QStringList, rules);
    QFETCH(QString, errorContains);

    const fmb::Result<SandboxPlan> plan =
        fmb::planSandbox(allowedUnder(m_root, allowed), protectedUnder(m_root, protectedPaths));
    if (!errorContains.isEmpty()) {
        QVERIFY(!plan);
        QVERIFY2(plan.error().message.contains(errorContains), qPrintable(plan.error().message));
        return;
    }
    QVERIFY2(plan, plan ? "" : qPrintable(plan.error().message));
    QCOMPARE(relativeRules(plan.value(), m_root), rules);
}

void tst_ChildSandbox::missingDefaultIsSkipped()
{
    const fmb::Result<SandboxPlan> plan = fmb::planSandbox(
        {{m_root + QLatin1String("/nowhere"), SandboxAccess::Read, QStringLiteral("default")}}, {});
    QVERIFY(plan);
    QVERIFY(plan.value().rules.isEmpty());
    QCOMPARE(plan.value().notes.size(), 1);
}

// Another program's directory in a carved-out /tmp may be removed between
// listing /tmp and building the ruleset (tests running side by side did it):
// the broker must still start. A path named in the configuration must not
// vanish silently.
void tst_ChildSandbox::vanishedEntryIsSkipped()
{
    if (const QString why = landlockMissing(); !why.isEmpty())
        QSKIP(qPrintable(why));
    QTemporaryDir tree;
    QVERIFY(tree.isValid());
    const QString root = QFileInfo(tree.path()).canonicalFilePath();
    for (const char *directory : {"others-tmp", "state", "named"})
        QVERIFY(QDir(root).mkdir(QString::fromLatin1(directory)));
    const fmb::Result<SandboxPlan> plan = fmb::planSandbox(allowedUnder(root, words({"w:.", "r:named"})),
                                                           protectedUnder(root, words({"state"})));
    QVERIFY(plan);
    QCOMPARE(relativeRules(plan.value(), root), words({"r:named", "w:named", "w:others-tmp"}));

    QVERIFY(QDir(root).rmdir(QStringLiteral("others-tmp")));
    QVERIFY2(ChildSandbox::create(plan.value()), "a vanished entry of a listed directory failed the start");

    QVERIFY(QDir(root).rmdir(QStringLiteral("named")));
    const fmb::Result<std::shared_ptr<const ChildSandbox>> sandbox = ChildSandbox::create(plan.value());
    QVERIFY(!sandbox);
    QVERIFY2(sandbox.error().message.contains(QLatin1String("named")), qPrintable(sandbox.error().message));
}

std::shared_ptr<const ChildSandbox> tst_ChildSandbox::sandboxForTree()
{
    // The defaults, with the whole tree read-write: the state dir and the
    // secret file lie under an allowed path, as they do under /tmp in tests.
    QList<SandboxPath> allowed = fmb::defaultSandboxPaths();
    allowed.append({m_root, SandboxAccess::Write, QStringLiteral("child_allow_write")});
    allowed.append(
        {QFileInfo(testServerPath()).absolutePath(), SandboxAccess::Read, QStringLiteral("child_command")});
    const fmb::Result<SandboxPlan> plan = fmb::planSandbox(
        allowed, {{m_root + QLatin1String("/state"), QStringLiteral("state_dir")},
                  {m_root + QLatin1String("/secret-file"), QStringLiteral("forgejo_client_secret_file")}});
    if (!plan)
        return nullptr;
    fmb::Result<std::shared_ptr<const ChildSandbox>> sandbox = ChildSandbox::create(plan.value());
    return sandbox ? sandbox.value() : nullptr;
}

QJsonObject tst_ChildSandbox::openInChild(const std::shared_ptr<const ChildSandbox> &sandbox,
                                          const QStringList &paths, const QString &mode)
{
    ChildSpec spec;
    spec.program = testServerPath();
    spec.environment.insert(QStringLiteral("LANG"), QStringLiteral("C.UTF-8"));
    spec.label = QStringLiteral("sandboxed child");
    spec.sandbox = sandbox;
    ChildProcess child(spec);
    QSignalSpy lines(&child, &fmb::Backend::lineReceived);
    QSignalSpy exited(&child, &fmb::Backend::exited);
    child.start();
    if (!QTest::qWaitFor([&] { return child.isRunning() || !exited.isEmpty(); }, WaitMs) ||
        !child.isRunning())
        return {};
    if (!child.write(toolCall(
            1, QStringLiteral("open"),
            {{QStringLiteral("paths"), QJsonArray::fromStringList(paths)}, {QStringLiteral("mode"), mode}})))
        return {};
    if (!QTest::qWaitFor([&] { return !lines.isEmpty(); }, WaitMs))
        return {};
    const QJsonObject results = openResults(lines.first().first().toByteArray());
    child.stop();
    if (!QTest::qWaitFor([&] { return !exited.isEmpty(); }, WaitMs))
        return {};
    return results;
}

void tst_ChildSandbox::childCannotReach_data()
{
    QTest::addColumn<QString>("path"); // relative to the tree, or absolute
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("result");

    QTest::newRow("read the key file")
        << QStringLiteral("state/upstream-tokens.key") << QStringLiteral("read") << QStringLiteral("EACCES");
    QTest::newRow("read the store") << QStringLiteral("state/tokens.sqlite") << QStringLiteral("read")
                                    << QStringLiteral("EACCES");
    QTest::newRow("create a file in the state dir")
        << QStringLiteral("state/planted") << QStringLiteral("write") << QStringLiteral("EACCES");
    QTest::newRow("list the state dir")
        << QStringLiteral("state") << QStringLiteral("list") << QStringLiteral("EACCES");
    QTest::newRow("overwrite the key file")
        << QStringLiteral("state/upstream-tokens.key") << QStringLiteral("write") << QStringLiteral("EACCES");
    QTest::newRow("read the client secret")
        << QStringLiteral("secret-file") << QStringLiteral("read") << QStringLiteral("EACCES");
    QTest::newRow("read the broker's environ") << QStringLiteral("/proc/%1/environ").arg(::getpid())
                                               << QStringLiteral("read") << QStringLiteral("EACCES");
    QTest::newRow("carve-out keeps a sibling readable")
        << QStringLiteral("etc/a.conf") << QStringLiteral("read") << QStringLiteral("ok");
    QTest::newRow("carve-out keeps a sibling writable")
        << QStringLiteral("scratch/new") << QStringLiteral("write") << QStringLiteral("ok");
    QTest::newRow("defaults: /etc/hostname")
        << QStringLiteral("/etc/hostname") << QStringLiteral("read") << QStringLiteral("ok");
    QTest::newRow("defaults: /dev/null writable")
        << QStringLiteral("/dev/null") << QStringLiteral("write") << QStringLiteral("ok");
    QTest::newRow("outside the allowed paths: /root")
        << QStringLiteral("/root") << QStringLiteral("list") << QStringLiteral("EACCES");
}

void tst_ChildSandbox::childCannotReach()
{
    QFETCH(QString, path);
    QFETCH(QString, mode);
    QFETCH(QString, result);

    if (const QString missing = landlockMissing(); !missing.isEmpty())
        QSKIP(qPrintable(missing));
    const std::shared_ptr<const ChildSandbox> sandbox = sandboxForTree();
    QVERIFY(sandbox);
    const QString absolute = path.startsWith(QLatin1Char('/')) ? path : m_root + QLatin1Char('/') + path;
    const QJsonObject results = openInChild(sandbox, {absolute}, mode);
    QCOMPARE(results.value(absolute).toString(), result);
}

// Sibling children are in sibling Landlock domains: neither may inspect the
// other (ptrace rules), so one user's child cannot read another's token from
// /proc/PID/environ.
void tst_ChildSandbox::childCannotReadAnotherChild()
{
    if (const QString missing = landlockMissing(); !missing.isEmpty())
        QSKIP(qPrintable(missing));
    const std::shared_ptr<const ChildSandbox> sandbox = sandboxForTree();
    QVERIFY(sandbox);
    ChildSpec spec;
    spec.program = testServerPath();
    spec.sandbox = sandbox;
    spec.label = QStringLiteral("other user's child");
    ChildProcess other(spec);
    QSignalSpy exited(&other, &fmb::Backend::exited);
    other.start();
    QTRY_VERIFY_WITH_TIMEOUT(other.isRunning(), WaitMs);
    const QString environ = QStringLiteral("/proc/%1/environ").arg(other.processId());
    const QJsonObject results = openInChild(sandbox, {environ}, QStringLiteral("read"));
    QCOMPARE(results.value(environ).toString(), QStringLiteral("EACCES"));
    other.stop();
    QTRY_VERIFY_WITH_TIMEOUT(!exited.isEmpty(), WaitMs);
}

// Under systemd's SystemCallFilter=~@privileged, capset fails with EPERM.
// A broker without capabilities must still start sandboxed children: this
// test runs itself as a helper (below) that has dropped its capabilities and
// refuses capset, and that helper's sandboxed child must still be denied.
void tst_ChildSandbox::capsetRefusedWithoutCapabilities()
{
    if (const QString missing = landlockMissing(); !missing.isEmpty())
        QSKIP(qPrintable(missing));
    QProcess helper;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("FMB_TST_CAPSET_HELPER"), m_root);
    helper.setProcessEnvironment(environment);
    helper.start(QCoreApplication::applicationFilePath(), {});
    QVERIFY(helper.waitForFinished(WaitMs));
    QCOMPARE(helper.readAllStandardOutput().trimmed(), QByteArray("EACCES"));
}

// Landlock ABI 6 scopes signals: a child cannot kill the broker or another
// session's child (same user), only what it started itself.
void tst_ChildSandbox::childCannotSignalOutside()
{
    if (const QString missing = landlockMissing(); !missing.isEmpty())
        QSKIP(qPrintable(missing));
    if (ChildSandbox::landlockAbi() < 6)
        QSKIP("Landlock before ABI 6 does not scope signals");
    ChildSpec spec;
    spec.program = testServerPath();
    spec.sandbox = sandboxForTree();
    QVERIFY(spec.sandbox);
    ChildProcess child(spec);
    QSignalSpy lines(&child, &fmb::Backend::lineReceived);
    QSignalSpy exited(&child, &fmb::Backend::exited);
    child.start();
    QTRY_VERIFY_WITH_TIMEOUT(child.isRunning(), WaitMs);
    QVERIFY(child.write(toolCall(1, QStringLiteral("signal"), {{QStringLiteral("pid"), int(::getpid())}})));
    QTRY_VERIFY_WITH_TIMEOUT(!lines.isEmpty(), WaitMs);
    const QString answer = toolText(lines.first().first().toByteArray());
    QCOMPARE(answer, QStringLiteral("EPERM"));
    child.stop();
    QTRY_VERIFY_WITH_TIMEOUT(!exited.isEmpty(), WaitMs);
}

namespace {

// The helper: no capabilities, a seccomp filter answering capset with EPERM,
// then one sandboxed child asked to read the key. Prints what it answered.
int capsetHelper(int argc, char *argv[], const QString &root)
{
    QCoreApplication app(argc, argv);
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
    struct sock_filter filter[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr)},
        {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SYS_capset},
        {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | EPERM},
        {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW},
    };
    struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
    if (::syscall(SYS_capset, &header, none) != 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
        return 3;
    QList<SandboxPath> allowed = fmb::defaultSandboxPaths();
    allowed.append({root, SandboxAccess::Write, QStringLiteral("child_allow_write")});
    allowed.append(
        {QFileInfo(testServerPath()).absolutePath(), SandboxAccess::Read, QStringLiteral("child_command")});
    const fmb::Result<SandboxPlan> plan =
        fmb::planSandbox(allowed, {{root + QLatin1String("/state"), QStringLiteral("state_dir")}});
    if (!plan)
        return 4;
    const fmb::Result<std::shared_ptr<const ChildSandbox>> sandbox = ChildSandbox::create(plan.value());
    if (!sandbox)
        return 5;
    ChildSpec spec;
    spec.program = testServerPath();
    spec.sandbox = sandbox.value();
    ChildProcess child(spec);
    QByteArray answer = "no answer";
    QObject::connect(&child, &fmb::Backend::lineReceived, &app, [&](const QByteArray &line) {
        answer = openResults(line).begin().value().toString().toUtf8();
        child.stop();
    });
    QObject::connect(&child, &fmb::Backend::exited, &app, [] { QCoreApplication::quit(); });
    QObject::connect(&child, &fmb::Backend::started, &app, [&] {
        (void)child.write(
            toolCall(1, QStringLiteral("open"),
                     {{QStringLiteral("paths"),
                       QJsonArray{QString(root + QLatin1String("/state/upstream-tokens.key"))}}}));
    });
    child.start();
    QCoreApplication::exec();
    std::printf("%s\n", answer.constData());
    return 0;
}

} // namespace

int main(int argc, char *argv[])
{
    if (const QString root = qEnvironmentVariable("FMB_TST_CAPSET_HELPER"); !root.isEmpty())
        return capsetHelper(argc, argv, root);
    QCoreApplication app(argc, argv);
    tst_ChildSandbox test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}
#include "tst_childsandbox.moc"
