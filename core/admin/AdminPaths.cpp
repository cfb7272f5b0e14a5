#include "AdminPaths.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace fmb {
namespace {

constexpr auto AppDir = "forgejo-mcp-broker";
constexpr auto SocketName = "admin.sock";

Error ioError(const QString &path, const QString &what)
{
    return Error{ErrorCode::Io, path, path + QLatin1String(": ") + what};
}

QString errnoText(int error)
{
    return QString::fromLocal8Bit(std::strerror(error));
}

} // namespace

QString defaultAdminSocketPath(const QProcessEnvironment &env, uid_t uid)
{
    const QString runtimeDir = env.value(QStringLiteral("XDG_RUNTIME_DIR"));
    if (!runtimeDir.isEmpty() && QDir::isAbsolutePath(runtimeDir))
        return QDir::cleanPath(runtimeDir) + QLatin1Char('/') + QLatin1String(AppDir) + QLatin1Char('/') +
               QLatin1String(SocketName);
    return QStringLiteral("/tmp/%1-%2/%3").arg(QLatin1String(AppDir)).arg(uid).arg(QLatin1String(SocketName));
}

QString defaultAdminSocketPath()
{
    return defaultAdminSocketPath(QProcessEnvironment::systemEnvironment(), ::geteuid());
}

QString resolveAdminSocketPath(const QString &flagValue)
{
    if (!flagValue.isEmpty())
        return flagValue;
    const QString fromEnv = qEnvironmentVariable("FMB_ADMIN_SOCKET").trimmed();
    if (!fromEnv.isEmpty())
        return fromEnv;
    return defaultAdminSocketPath();
}

QString remoteDefaultSocketCommand()
{
    return QStringLiteral("if [ -n \"$XDG_RUNTIME_DIR\" ]; then "
                          "printf '%s\\n' \"$XDG_RUNTIME_DIR/forgejo-mcp-broker/admin.sock\"; "
                          "else printf '/tmp/forgejo-mcp-broker-%s/admin.sock\\n' \"$(id -u)\"; fi");
}

Result<void> preparePrivateDirectory(const QString &dir, bool mustBePrivate)
{
    const QByteArray native = QFile::encodeName(dir);
    struct stat info = {};
    if (::lstat(native.constData(), &info) != 0) {
        if (errno != ENOENT)
            return ioError(dir, errnoText(errno));
        const QString parent = QFileInfo(dir).absolutePath();
        if (parent != dir && !QFileInfo::exists(parent)) {
            Result<void> made = preparePrivateDirectory(parent, false);
            if (!made)
                return made;
        }
        if (::mkdir(native.constData(), 0700) != 0 && errno != EEXIST)
            return ioError(dir, QStringLiteral("cannot create the directory: %1").arg(errnoText(errno)));
        if (::lstat(native.constData(), &info) != 0)
            return ioError(dir, errnoText(errno));
    }
    if (!S_ISDIR(info.st_mode))
        return ioError(dir, QStringLiteral("is not a directory"));
    if (!mustBePrivate)
        return {};
    if (info.st_uid != ::geteuid()) {
        return Error{ErrorCode::Forbidden, dir,
                     QStringLiteral("%1: belongs to uid %2, not to this user (uid %3); remove it or choose "
                                    "another --admin-socket")
                         .arg(dir)
                         .arg(info.st_uid)
                         .arg(::geteuid())};
    }
    if ((info.st_mode & 077) != 0 && ::chmod(native.constData(), 0700) != 0)
        return ioError(
            dir, QStringLiteral("cannot make the directory private (mode 0700): %1").arg(errnoText(errno)));
    return {};
}

SocketProbe probeUnixSocket(const QString &path)
{
    const QByteArray native = QFile::encodeName(path);
    struct stat info = {};
    if (::lstat(native.constData(), &info) != 0) {
        if (errno == ENOENT)
            return SocketProbe::Absent;
        return errno == EACCES ? SocketProbe::Denied : SocketProbe::Failed;
    }
    if (!S_ISSOCK(info.st_mode))
        return SocketProbe::NotASocket;
    struct sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    if (size_t(native.size()) >= sizeof(address.sun_path))
        return SocketProbe::Failed;
    std::memcpy(address.sun_path, native.constData(), size_t(native.size()));
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return SocketProbe::Failed;
    SocketProbe result = SocketProbe::Failed;
    // sockaddr_un is the documented way to pass a Unix address to connect().
    if (::connect(fd, reinterpret_cast<const struct sockaddr *>(&address), sizeof(address)) == 0) {
        result = SocketProbe::Listening;
    } else if (errno == EAGAIN || errno == EINPROGRESS) {
        result = SocketProbe::Listening; // a full backlog: someone listens
    } else if (errno == ECONNREFUSED) {
        result = SocketProbe::Stale;
    } else if (errno == EACCES || errno == EPERM) {
        result = SocketProbe::Denied;
    }
    ::close(fd);
    return result;
}

} // namespace fmb
