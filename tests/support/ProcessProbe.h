#pragma once

#include <QtGlobal>

namespace fmbtest {

// True while the process runs: false once it has exited, also while it is a
// zombie nobody has reaped yet (state Z or X in /proc/PID/stat).
[[nodiscard]] bool processAlive(qint64 pid);

} // namespace fmbtest
