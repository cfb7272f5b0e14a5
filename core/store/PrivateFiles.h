#pragma once

#include <QString>

#include "base/Result.h"

// Files only the broker's own user may read: the state directory, the
// database and the key file. Internal to fmb_store.
namespace fmb {

// Creates `path` (and any missing parents) with mode 0700. An existing
// directory must belong to the effective user; group or other permission bits
// on it are removed, with a warning.
[[nodiscard]] Result<void> ensurePrivateDir(const QString &path);

// Creates `path` as an empty regular file with mode 0600 (O_CREAT|O_EXCL, then
// fchmod, so the umask cannot leave it wider or narrower). An existing file
// must be a regular file, not a symlink, owned by the effective user; group or
// other bits on it are removed, with a warning.
[[nodiscard]] Result<void> ensurePrivateFile(const QString &path);

} // namespace fmb
