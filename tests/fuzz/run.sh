#!/usr/bin/env bash
# Runs each fuzzer of a FMB_FUZZ tree for a bounded time, starting from its
# committed corpus, and fails if any of them finds a crash, a property
# violation, a leak, a timeout or runaway memory. The input that did it is
# kept (and printed as base64, for CI logs). See docs/fuzzing.md.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS_EACH] [NAME...]   (default 60 s, every fuzzer)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$(cd "${1:?usage: run.sh BUILD_DIR [SECONDS_EACH] [NAME...]}" && pwd)"
SECONDS_EACH="${2:-60}"
shift $(( $# < 2 ? $# : 2 ))

names=("$@")
if ((${#names[@]} == 0)); then
    for bin in "$BUILD"/fuzz/fuzz_*; do names+=("${bin##*/fuzz_}"); done
fi

# UBSan findings are fatal (-fno-sanitize-recover) and ASan's too; both print
# a stack trace symbolised by llvm-symbolizer when it is on PATH.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=()
for name in "${names[@]}"; do
    bin="$BUILD/fuzz/fuzz_$name"
    seeds="$HERE/corpus/$name"
    [[ -x "$bin" && -d "$seeds" ]] || { echo "fuzz: no fuzz_$name in $BUILD/fuzz or no $seeds" >&2; exit 2; }
    # New inputs go to a scratch corpus (the first directory); the committed
    # seeds are only read.
    out="$BUILD/fuzz-run/$name"
    rm -rf "$out"
    mkdir -p "$out/corpus" "$out/artifacts"
    args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192
          -print_final_stats=1 -artifact_prefix="$out/artifacts/")
    [[ -f "$HERE/$name.dict" ]] && args+=(-dict="$HERE/$name.dict")
    echo "fuzz: $name for ${SECONDS_EACH}s" >&2
    if "$bin" "${args[@]}" "$out/corpus" "$seeds" >"$out/log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
            "$out/log" | sed "s/^/fuzz: $name /" >&2 || true
        continue
    fi
    failed+=("$name")
    tail -n 60 "$out/log" >&2
    for artifact in "$out"/artifacts/*; do
        [[ -f "$artifact" ]] || continue
        echo "fuzz: $name kept $artifact; reproduce with: $bin $artifact" >&2
        echo "fuzz: base64: $(base64 -w0 "$artifact" | head -c 20000)" >&2
    done
done

if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (logs and inputs in $BUILD/fuzz-run/)" >&2
    exit 1
fi
echo "fuzz: ${#names[@]} fuzzers ran ${SECONDS_EACH}s each without a finding" >&2
