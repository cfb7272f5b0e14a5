#!/bin/bash
# Instructions the broker executes per echo call, under callgrind, for two or more builds.
#
#   bench/lib/instructions.sh [--calls N] NAME=BROKER NAME=BROKER [...]
#
# Wall-clock A/B runs (bench/lib/ab.py) need an idle machine; an instruction count does not: it is
# the same on a busy machine, so it shows a request-path change of 1% that a loaded machine's
# timing noise hides. It counts user-space instructions only (not the kernel, not cache misses):
# compare the system calls per request with strace -c, and confirm with ab.py when the machine is
# idle. Each broker runs in local mode in front of the C child (fmb-bench-child); after a warm-up
# of 300 calls the counters are zeroed, N calls run in one session (default 3000), and the total
# is divided by the HTTP requests the load generator made. Needs valgrind and the bench tools
# (FMB_BENCH_TOOLS, default build-bench/bench-tools/bench/bin as bench/run.sh builds them).
set -euo pipefail

calls=3000
if [[ ${1:-} == --calls ]]; then
    calls=$2
    shift 2
fi
if (($# < 1)); then
    sed -n '2,4p' "$0" >&2
    exit 2
fi
tools=${FMB_BENCH_TOOLS:-build-bench/bench-tools/bench/bin}
for tool in fmb-bench-load fmb-bench-child; do
    [[ -x $tools/$tool ]] || { echo "no $tools/$tool (set FMB_BENCH_TOOLS)" >&2; exit 2; }
done
command -v callgrind_control >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }

work=$(mktemp -d /tmp/fmb-instructions-XXXXXX)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

load() { # URL CALLS: one session of CALLS echo calls; prints the load generator's JSON line
    "$tools/fmb-bench-load" http --url "$1" --concurrency 1 --calls "$2" --payload 32 | grep '^{' | tail -1
}

echo "| build | instructions per request | requests |"
echo "|---|---:|---:|"
for spec in "$@"; do
    name=${spec%%=*}
    broker=${spec#*=}
    dir=$work/$name
    mkdir -p "$dir"
    valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" "$broker" --auth none \
        --listen 127.0.0.1:0 --child-command "$tools/fmb-bench-child" --state-dir "$dir/state" \
        --admin-socket "$dir/admin.sock" >"$dir/log" 2>&1 &
    pid=$!
    port=
    for _ in $(seq 600); do # valgrind starts slowly: up to 60 s
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$dir/log" | head -1 | sed 's/.*://') || true
        [[ -n $port ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
        sleep 0.1
    done
    [[ -n $port ]] || { echo "$name did not start" >&2; cat "$dir/log" >&2; exit 1; }
    url=http://127.0.0.1:$port/mcp
    load "$url" 300 >/dev/null
    callgrind_control --zero "$pid" >/dev/null 2>&1
    result=$(load "$url" "$calls")
    callgrind_control --dump "$pid" >/dev/null 2>&1
    requests=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"])' "$result")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    # The dump after zeroing holds the instructions since the zero: its "summary:" line.
    total=$(grep -h '^summary:' "$dir"/callgrind.out.* | awk '{print $2}' | tail -1)
    echo "| $name | $((total / requests)) | $requests |"
done
