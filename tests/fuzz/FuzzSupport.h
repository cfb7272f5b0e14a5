#pragma once

#include <cstdint>

#include <QByteArray>
#include <QList>

// Shared by the libFuzzer targets in this folder (docs/fuzzing.md).
namespace fmb::fuzz {

// Prints what failed and aborts, so libFuzzer keeps the input as a crash.
[[noreturn]] void fail(const char *condition, const char *file, int line);

// Cuts data into pieces (some empty) at places drawn from seed, so a target
// can check that a stream parser does not care where reads end.
[[nodiscard]] QList<QByteArrayView> chunked(QByteArrayView data, std::uint32_t seed);

} // namespace fmb::fuzz

// Like Q_ASSERT, but on in every build and reported as a property.
#define FMB_FUZZ_CHECK(condition)                                                                            \
    do {                                                                                                     \
        if (!(condition))                                                                                    \
            ::fmb::fuzz::fail(#condition, __FILE__, __LINE__);                                               \
    } while (false)
