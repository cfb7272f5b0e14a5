#include "FileLimit.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>
#include <sys/resource.h>

#include <QFile>

namespace fmb {
namespace {

// A fixed part for listeners, the store, the admin socket, the event loop and
// the pipes a spawn holds for a moment; an eighth of the table for client
// connections (about one for every two sessions at the ceiling).
constexpr quint64 FixedReserve = 64;
constexpr quint64 ConnectionShare = 8;

quint64 kernelCeiling()
{
    QFile file(QStringLiteral("/proc/sys/fs/nr_open"));
    if (!file.open(QIODevice::ReadOnly))
        return 0;
    return file.readAll().trimmed().toULongLong();
}

quint64 toQuint(rlim_t value)
{
    return value == RLIM_INFINITY ? std::numeric_limits<quint64>::max() : quint64(value);
}

} // namespace

FileLimitChange raiseFileLimit(quint64 cap)
{
    FileLimitChange change;
    struct rlimit limit = {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return change;
    change.softBefore = change.softAfter = toQuint(limit.rlim_cur);
    change.hardBefore = change.hardAfter = toQuint(limit.rlim_max);

    const quint64 kernel = kernelCeiling();
    const quint64 ceiling = kernel > 0 ? std::min(kernel, cap) : cap;
    if (limit.rlim_max != RLIM_INFINITY && quint64(limit.rlim_max) < ceiling) {
        // Only root or CAP_SYS_RESOURCE may raise the hard limit: try, and keep EPERM as the answer.
        struct rlimit raised = limit;
        raised.rlim_max = rlim_t(ceiling);
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit.rlim_max = raised.rlim_max;
        else
            change.hardRaiseFailure = QString::fromLocal8Bit(std::strerror(errno));
    }
    if (limit.rlim_cur != limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        change.softAfter = toQuint(limit.rlim_cur);
        change.hardAfter = toQuint(limit.rlim_max);
    }
    return change;
}

int sessionCeiling(quint64 limit, int perSession)
{
    const quint64 reserve = FixedReserve + limit / ConnectionShare;
    if (perSession <= 0 || limit <= reserve)
        return 1;
    return int(std::clamp<quint64>((limit - reserve) / quint64(perSession), 1, INT_MAX));
}

int connectionCeiling(quint64 limit)
{
    return int(std::clamp<quint64>(limit / ConnectionShare, 16, INT_MAX));
}

} // namespace fmb
