#pragma once

#include <memory>

#include <QList>
#include <QString>
#include <QStringList>

#include "base/Result.h"

namespace fmb {

// What a child may do beneath an allowed path. Read: read files, list
// directories, execute. Write: everything Landlock controls (read, write,
// create, remove, rename, truncate, device ioctls, execute).
enum class SandboxAccess { Read, Write };

struct SandboxPath {
    QString path;
    SandboxAccess access = SandboxAccess::Read;
    QString origin; // for messages: "default", "child_allow_read", "child_command", ...
};

// A path no child may reach: the state directory, the client secret file, the
// config file.
struct ProtectedPath {
    QString path;
    QString what; // the setting naming it: "state_dir", ...
};

struct SandboxRule {
    QString path; // canonical
    SandboxAccess access = SandboxAccess::Read;
    // An entry found by listing a carved-out directory (such as another
    // program's temporary directory in /tmp): it may be gone by the time the
    // ruleset is built, and is then skipped instead of failing the start.
    bool listedEntry = false;
};

struct SandboxPlan {
    QList<SandboxRule> rules;
    QStringList notes; // carve-outs and skipped paths, for the log (info)
};

// The paths children may use by default: read /usr, /lib*, /bin, /sbin,
// /etc, /opt, /proc and /sys; read-write /dev and /tmp.
[[nodiscard]] QList<SandboxPath> defaultSandboxPaths();

// Turns allowed and protected paths into Landlock rules. Landlock cannot say
// "allow X except Y", so an allowed directory holding a protected path is
// replaced by its entries except the one leading to that path, recursively
// (a carve-out, noted; the directory itself then cannot be listed or written
// to, and what is created in it later is not allowed). An allowed path inside
// a protected one is an error; so is a missing path, except a default one.
// Reads the file system (canonical paths, directory entries); no Landlock.
[[nodiscard]] Result<SandboxPlan> planSandbox(const QList<SandboxPath> &allowed,
                                              const QList<ProtectedPath> &protectedPaths);

// A Landlock ruleset, made in the broker and applied by each child between
// fork and exec. Shared by every child; its descriptor is close-on-exec.
class ChildSandbox final {
public:
    // The kernel's Landlock ABI version, or 0 without Landlock (why says why).
    [[nodiscard]] static int landlockAbi(QString *why = nullptr);
    // Opens every rule's path and builds the ruleset, with the rights this
    // kernel's ABI knows (network rights stay unhandled: children reach Forgejo).
    // A listed entry that no longer exists is skipped: what is not there
    // cannot be reached, and what is created in its place is not allowed.
    [[nodiscard]] static Result<std::shared_ptr<const ChildSandbox>> create(const SandboxPlan &plan);
    // Runs in the forked child before exec: async-signal-safe, allocates
    // nothing. Drops every capability, sets no_new_privs and enters the
    // ruleset; on failure writes a line to stderr and _exit(126)s, so no child
    // runs unconfined.
    static void restrictChild(int ruleset) noexcept;

    ~ChildSandbox();
    ChildSandbox(const ChildSandbox &) = delete;
    ChildSandbox &operator=(const ChildSandbox &) = delete;

    [[nodiscard]] int rulesetDescriptor() const { return m_ruleset; }
    [[nodiscard]] int abi() const { return m_abi; }

private:
    ChildSandbox(int ruleset, int abi);

    int m_ruleset = -1;
    int m_abi = 0;
};

} // namespace fmb
