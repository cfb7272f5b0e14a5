#include "ChildSandbox.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>

// Rights newer than Debian 12's kernel headers (linux/landlock.h of 6.1).
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) // ABI 3
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) // ABI 5
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) // ABI 6
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)               // ABI 6
#endif

namespace fmb {
namespace {

using Rights = quint64;

constexpr Rights ReadRights =
    LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
// What Landlock lets a rule grant on a file rather than a directory.
constexpr Rights FileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                              LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
                              LANDLOCK_ACCESS_FS_IOCTL_DEV;

// struct landlock_ruleset_attr as of ABI 6; older kernels take it too, as its
// trailing fields are zero where they do not know them.
struct RulesetAttributes {
    quint64 handledAccessFs = 0;
    quint64 handledAccessNet = 0; // never set: children reach Forgejo
    quint64 scoped = 0;
};

// The file-system rights a kernel of this ABI knows (Documentation/userspace-api/
// landlock.rst, "Backward and forward compatibility"). ABI 4 added network rights,
// which stay unhandled: children keep the network.
Rights fileSystemRights(int abi)
{
    Rights rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; // ABI 1: EXECUTE .. MAKE_SYM
    if (abi >= 2)
        rights |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    return rights;
}

bool isSameOrUnder(const QString &path, const QString &base)
{
    return path == base || base == QLatin1String("/") ||
           (path.startsWith(base) && path.at(base.size()) == QLatin1Char('/'));
}

// The canonical path when it exists, else the absolute one without . and ..
QString resolved(const QString &path)
{
    const QFileInfo info(path);
    const QString canonical = info.canonicalFilePath();
    return canonical.isEmpty() ? QDir::cleanPath(info.absoluteFilePath()) : canonical;
}

class Planner {
public:
    explicit Planner(const QList<ProtectedPath> &protectedPaths)
    {
        for (const ProtectedPath &entry : protectedPaths) {
            if (!entry.path.isEmpty())
                m_protected.append({resolved(entry.path), entry.what});
        }
    }

    Result<void> allow(const SandboxPath &allowed)
    {
        const QString path = QFileInfo(allowed.path).canonicalFilePath();
        if (path.isEmpty()) {
            if (allowed.origin == QLatin1String("default")) {
                m_plan.notes.append(
                    QStringLiteral("child sandbox: %1 (default) does not exist; skipped").arg(allowed.path));
                return {};
            }
            return Error{ErrorCode::NotFound, allowed.origin,
                         QStringLiteral("%1: %2 does not exist").arg(allowed.origin, allowed.path)};
        }
        for (const ProtectedPath &entry : std::as_const(m_protected)) {
            if (isSameOrUnder(path, entry.path))
                return Error{ErrorCode::InvalidArgument, allowed.origin,
                             QStringLiteral("%1: %2 lies in %3 %4, which children must never reach")
                                 .arg(allowed.origin, allowed.path, entry.what, entry.path)};
        }
        addBeneath(path, allowed.access, allowed.origin);
        return {};
    }

    [[nodiscard]] SandboxPlan plan() const { return m_plan; }

private:
    // `path` is canonical and lies in no protected path.
    void addBeneath(const QString &path, SandboxAccess access, const QString &origin,
                    bool listedEntry = false)
    {
        QStringList held;
        for (const ProtectedPath &entry : std::as_const(m_protected)) {
            if (isSameOrUnder(entry.path, path))
                held.append(entry.what + QLatin1Char(' ') + entry.path);
        }
        if (held.isEmpty()) {
            m_plan.rules.append({path, access, listedEntry});
            return;
        }
        // Symbolic links are left out: a rule on the directory never covered
        // their targets (Landlock checks the path a link resolves to), and a
        // target inside the directory is an entry of its own.
        const QFileInfoList entries = QDir(path).entryInfoList(
            QDir::AllEntries | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot | QDir::NoSymLinks);
        m_plan.notes.append(QStringLiteral("child sandbox: %1 (%2) holds %3; allowing its entries one by "
                                           "one instead, except the way there")
                                .arg(path, origin, held.join(QLatin1String(", "))));
        for (const QFileInfo &entry : entries) {
            const QString entryPath = entry.absoluteFilePath();
            bool inside = false;
            for (const ProtectedPath &protectedPath : std::as_const(m_protected))
                inside = inside || isSameOrUnder(entryPath, protectedPath.path);
            if (!inside)
                addBeneath(entryPath, access, origin, true); // recurses only towards a protected path
        }
    }

    QList<ProtectedPath> m_protected;
    SandboxPlan m_plan;
};

QString errnoText(int error)
{
    return QString::fromLocal8Bit(std::strerror(error));
}

} // namespace

QList<SandboxPath> defaultSandboxPaths()
{
    const QString origin = QStringLiteral("default");
    QList<SandboxPath> paths;
    for (const char *path :
         {"/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/opt", "/proc", "/sys"})
        paths.append({QString::fromLatin1(path), SandboxAccess::Read, origin});
    for (const char *path : {"/dev", "/tmp"})
        paths.append({QString::fromLatin1(path), SandboxAccess::Write, origin});
    return paths;
}

Result<SandboxPlan> planSandbox(const QList<SandboxPath> &allowed, const QList<ProtectedPath> &protectedPaths)
{
    Planner planner(protectedPaths);
    for (const SandboxPath &path : allowed) {
        Result<void> added = planner.allow(path);
        if (!added)
            return added.error();
    }
    return planner.plan();
}

int ChildSandbox::landlockAbi(QString *why)
{
    const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi >= 1)
        return int(abi);
    if (why) {
        *why = errno == ENOSYS ? QStringLiteral("the kernel has no Landlock (Linux 5.13 or later)")
               : errno == EOPNOTSUPP
                   ? QStringLiteral("Landlock is built in but disabled (boot with lsm=...,landlock)")
                   : errnoText(errno);
    }
    return 0;
}

Result<std::shared_ptr<const ChildSandbox>> ChildSandbox::create(const SandboxPlan &plan)
{
    QString why;
    const int abi = landlockAbi(&why);
    if (abi < 1)
        return Error{ErrorCode::Unavailable, QStringLiteral("child_sandbox"), why};
    const Rights handled = fileSystemRights(abi);
    RulesetAttributes attributes;
    attributes.handledAccessFs = handled;
    // ABI 6: no signals to processes outside the sandbox (the broker, other
    // sessions' children) and no abstract Unix sockets of theirs.
    if (abi >= 6)
        attributes.scoped = LANDLOCK_SCOPE_SIGNAL | LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET;
    const long ruleset = ::syscall(SYS_landlock_create_ruleset, &attributes, sizeof attributes, 0);
    if (ruleset < 0)
        return Error{ErrorCode::Unavailable, QStringLiteral("child_sandbox"),
                     QStringLiteral("child_sandbox: landlock_create_ruleset: ") + errnoText(errno)};
    // Owns the descriptor from here: an error below closes it.
    std::shared_ptr<const ChildSandbox> sandbox(new ChildSandbox(int(ruleset), abi));

    for (const SandboxRule &rule : plan.rules) {
        const int fd = ::open(QFile::encodeName(rule.path).constData(), O_PATH | O_CLOEXEC);
        struct stat status = {};
        if (fd < 0 || ::fstat(fd, &status) != 0) {
            const int error = errno;
            if (fd >= 0)
                ::close(fd);
            if (error == ENOENT && rule.listedEntry)
                continue;
            return Error{
                ErrorCode::Io, QStringLiteral("child_sandbox"),
                QStringLiteral("child_sandbox: cannot open %1: %2").arg(rule.path, errnoText(error))};
        }
        Rights rights = rule.access == SandboxAccess::Write ? handled : ReadRights & handled;
        if (!S_ISDIR(status.st_mode))
            rights &= FileRights;
        struct landlock_path_beneath_attr beneath = {};
        beneath.allowed_access = rights;
        beneath.parent_fd = fd;
        const long added =
            ::syscall(SYS_landlock_add_rule, int(ruleset), LANDLOCK_RULE_PATH_BENEATH, &beneath, 0);
        const int error = errno;
        ::close(fd);
        if (added != 0)
            return Error{
                ErrorCode::Io, QStringLiteral("child_sandbox"),
                QStringLiteral("child_sandbox: landlock_add_rule %1: %2").arg(rule.path, errnoText(error))};
    }
    return sandbox;
}

void ChildSandbox::restrictChild(int ruleset) noexcept
{
    if (ruleset < 0)
        return;
    // No capabilities either: Landlock lets a process with CAP_SYS_PTRACE read
    // /proc/PID/environ of processes outside its domain (the broker's, another
    // user's child), so a broker run as root would leak tokens to its children.
    // For an unprivileged broker these are no-ops. The bounding set goes first
    // (root regains it at exec), while CAP_SETPCAP is still held.
    for (int capability = 0; capability < 64; ++capability)
        (void)::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0);
    (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
    bool capabilitiesGone = ::syscall(SYS_capset, &header, none) == 0;
    if (!capabilitiesGone) {
        // A seccomp filter may refuse capset (systemd's ~@privileged does):
        // fine as long as there is nothing to drop.
        struct __user_cap_data_struct held[_LINUX_CAPABILITY_U32S_3] = {};
        capabilitiesGone =
            ::syscall(SYS_capget, &header, held) == 0 &&
            (held[0].effective | held[0].permitted | held[1].effective | held[1].permitted) == 0;
    }
    // no_new_privs: landlock_restrict_self requires it without CAP_SYS_ADMIN,
    // and a set-user-ID program could otherwise leave the sandbox's user behind.
    if (capabilitiesGone && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
        ::syscall(SYS_landlock_restrict_self, ruleset, 0) == 0)
        return;
    static const char message[] = "forgejo-mcp-brokerd: the child could not enter its Landlock sandbox\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(126);
}

ChildSandbox::ChildSandbox(int ruleset, int abi)
    : m_ruleset(ruleset)
    , m_abi(abi)
{}

ChildSandbox::~ChildSandbox()
{
    if (m_ruleset >= 0)
        ::close(m_ruleset);
}

} // namespace fmb
