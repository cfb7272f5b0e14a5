#!/usr/bin/env bash
# Configures and builds one tree.  .ci/build.sh BUILD_DIR [extra cmake args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$1"; shift
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DFMB_WERROR=ON "$@" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
