#include "HeapTrim.h"

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <QFile>

namespace fmb {
namespace {

qint64 residentKiB()
{
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (!statm.open(QIODevice::ReadOnly))
        return -1;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    if (fields.size() < 2)
        return -1;
    return fields.at(1).toLongLong() * (::sysconf(_SC_PAGESIZE) / 1024);
}

} // namespace

HeapTrim trimHeap()
{
    HeapTrim trim;
    trim.rssBeforeKiB = residentKiB();
#if defined(__GLIBC__)
    (void)::malloc_trim(0);
#endif
    trim.rssAfterKiB = residentKiB();
    return trim;
}

} // namespace fmb
