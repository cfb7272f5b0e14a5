#!/usr/bin/env bash
# Configures and builds one tree.  .ci/build.sh BUILD_DIR [extra cmake args]
#   FMB_BUILD_TARGETS="a b"   builds only these targets (default: all)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$1"; shift
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DFMB_WERROR=ON "$@" >/dev/null
read -r -a targets <<<"${FMB_BUILD_TARGETS:-all}"
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}"
