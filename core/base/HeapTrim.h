#pragma once

#include <QtGlobal>

namespace fmb {

// The resident set size of this process before and after trimHeap(), in KiB
// (-1 where /proc is not there).
struct HeapTrim {
    qint64 rssBeforeKiB = -1;
    qint64 rssAfterKiB = -1;
};

// Gives the heap that glibc keeps after frees back to the system
// (malloc_trim). glibc reuses freed memory but rarely returns it, so after a
// mass eviction the broker would otherwise stay at its peak size. A no-op
// without glibc. Costs a walk over the heap: call it after waves, not often.
[[nodiscard]] HeapTrim trimHeap();

} // namespace fmb
