#include "FuzzSupport.h"

#include <cstdio>
#include <cstdlib>
#include <random>

namespace fmb::fuzz {

void fail(const char *condition, const char *file, int line)
{
    std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, condition);
    std::abort();
}

QList<QByteArrayView> chunked(QByteArrayView data, std::uint32_t seed)
{
    std::minstd_rand random(seed);
    // Mostly short reads, now and then a long one, as pipes and sockets deliver.
    const qsizetype longest = (seed & 1) ? 8 : 4096;
    QList<QByteArrayView> pieces;
    while (!data.isEmpty()) {
        const qsizetype size = std::min<qsizetype>(data.size(), qsizetype(random() % (longest + 1)));
        pieces.append(data.first(size));
        data = data.sliced(size);
    }
    return pieces;
}

} // namespace fmb::fuzz
