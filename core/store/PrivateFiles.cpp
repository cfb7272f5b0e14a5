#include "PrivateFiles.h"

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include "Logging.h"

namespace fmb {
namespace {

constexpr mode_t GroupOtherBits = S_IRWXG | S_IRWXO;

Error ioError(const QString &path, const QString &what, int err)
{
    return Error{ErrorCode::Io, path, what + QStringLiteral(": ") + qt_error_string(err)};
}

QString modeString(mode_t mode)
{
    return QStringLiteral("0%1").arg(mode & 07777, 3, 8, QLatin1Char('0'));
}

} // namespace

Result<void> ensurePrivateDir(const QString &path)
{
    const QByteArray native = QFile::encodeName(path);
    const QString parent = QFileInfo(path).absolutePath();
    if (!QDir().mkpath(parent))
        return Error{ErrorCode::Io, parent,
                     QStringLiteral("cannot create the parent of the state directory")};

    if (::mkdir(native.constData(), S_IRWXU) != 0 && errno != EEXIST)
        return ioError(path, QStringLiteral("cannot create the state directory"), errno);

    struct stat st {};
    if (::stat(native.constData(), &st) != 0)
        return ioError(path, QStringLiteral("cannot stat the state directory"), errno);
    if (!S_ISDIR(st.st_mode))
        return Error{ErrorCode::Io, path,
                     QStringLiteral("the state directory path exists and is not a directory")};
    if (st.st_uid != ::geteuid()) {
        return Error{ErrorCode::Forbidden, path,
                     QStringLiteral("the state directory belongs to uid %1, not to the broker's uid %2")
                         .arg(st.st_uid)
                         .arg(::geteuid())};
    }
    if ((st.st_mode & GroupOtherBits) != 0) {
        qCWarning(lcStore, "state directory %s had mode %s; tightening it to 0700", native.constData(),
                  qPrintable(modeString(st.st_mode)));
        if (::chmod(native.constData(), S_IRWXU) != 0)
            return ioError(path, QStringLiteral("cannot set mode 0700 on the state directory"), errno);
    }
    return {};
}

Result<void> ensurePrivateFile(const QString &path)
{
    const QByteArray native = QFile::encodeName(path);
    int fd =
        ::open(native.constData(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd >= 0) {
        const bool modeSet = ::fchmod(fd, S_IRUSR | S_IWUSR) == 0;
        const int err = errno;
        ::close(fd);
        if (!modeSet)
            return ioError(path, QStringLiteral("cannot set mode 0600"), err);
        return {};
    }
    if (errno != EEXIST)
        return ioError(path, QStringLiteral("cannot create the file"), errno);

    fd = ::open(native.constData(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ioError(path, QStringLiteral("cannot open the file (a symlink is refused)"), errno);
    struct stat st {};
    Result<void> result;
    if (::fstat(fd, &st) != 0) {
        result = ioError(path, QStringLiteral("cannot stat the file"), errno);
    } else if (!S_ISREG(st.st_mode)) {
        result = Error{ErrorCode::Io, path, QStringLiteral("not a regular file")};
    } else if (st.st_uid != ::geteuid()) {
        result = Error{ErrorCode::Forbidden, path,
                       QStringLiteral("the file belongs to uid %1, not to the broker's uid %2")
                           .arg(st.st_uid)
                           .arg(::geteuid())};
    } else if ((st.st_mode & GroupOtherBits) != 0) {
        qCWarning(lcStore, "%s had mode %s; tightening it to 0600", native.constData(),
                  qPrintable(modeString(st.st_mode)));
        if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0)
            result = ioError(path, QStringLiteral("cannot set mode 0600"), errno);
    }
    ::close(fd);
    return result;
}

} // namespace fmb
