#pragma once

#include <QString>

namespace fmb {

// True for "localhost" (any case), 127.0.0.0/8, ::1 and IPv4-mapped
// loopback, with or without IPv6 brackets.
[[nodiscard]] bool isLoopbackHost(const QString &host);

} // namespace fmb
