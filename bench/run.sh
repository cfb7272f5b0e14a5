#!/usr/bin/env bash
# Benchmarks and fault drills for forgejo-mcp-brokerd, side by side with direct stdio and
# supergateway. One command:
#
#   bench/run.sh                 full run (benchmarks ~25 min, fault drills, 10-minute soak)
#   bench/run.sh --quick         smoke run of about two minutes
#
# Options:
#   --out DIR            where results go (default build-bench/bench-results/<time>)
#   --only LIST          benchmarks to run: throughput,setup,idle,revisions,big (comma-separated),
#                        and cluster (issue 14; not in the default list: needs postgresql, haproxy
#                        and build/tests/bin/fmb-fake-forgejo, or --test-bin DIR)
#   --no-faults          skip the fault drills
#   --faults-only        only the fault drills
#   --soak-minutes N     length of the soak (default 10; --quick: 0.2)
#   --rounds N, --duration SEC, --calls N, --big-sessions N, --children c,node   override the profile
#   --broker-env NAME=VALUE   environment for the broker (experiments, e.g. QT_NO_GLIB=1)
#
# Environment: FMB_BENCH_BUILD (build folder, default build-bench), FMB_BENCH_BROKER (daemon
# binary, default $FMB_BENCH_BUILD/bin/forgejo-mcp-brokerd, built in Release when missing).
# Everything listens on 127.0.0.1. Results: results.md (tables) and results.json in --out.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=${FMB_BENCH_BUILD:-$root/build-bench}
broker=${FMB_BENCH_BROKER:-$build/bin/forgejo-mcp-brokerd}
tools_build=$build/bench-tools
command_line="bench/run.sh $*"

quick=0
faults=1
benchmarks=1
soak_minutes=""
out=""
pass=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --quick) quick=1; pass+=(--quick) ;;
    --out) out=$2; shift ;;
    --no-faults) faults=0 ;;
    --faults-only) benchmarks=0 ;;
    --soak-minutes) soak_minutes=$2; shift ;;
    --only | --rounds | --duration | --calls | --big-sessions | --broker-env | --children | --test-bin) pass+=("$1" "$2"); shift ;;
    -h | --help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[[ -n $soak_minutes ]] || soak_minutes=$([[ $quick == 1 ]] && echo 0.2 || echo 10)
[[ -n $out ]] || out=$build/bench-results/$(date -u +%Y%m%d-%H%M%S)$([[ $quick == 1 ]] && echo -quick)
mkdir -p "$out"
out=$(cd "$out" && pwd) # absolute: the brokers' admin sockets live in it

# 1,000+ sessions need descriptors: the broker holds 3 per child (a stdin+stdout socket,
# the stderr pipe and a pidfd),
# and the load generator one per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The bench tools: plain C/C++, no Qt; a few seconds to build.
[[ -f $tools_build/CMakeCache.txt ]] ||
    cmake -S "$here" -B "$tools_build" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$out/build-tools.log" 2>&1
cmake --build "$tools_build" >>"$out/build-tools.log" 2>&1 || { cat "$out/build-tools.log" >&2; exit 1; }
tools=$tools_build/bench/bin

if [[ ! -x $broker ]]; then
    echo "bench/run.sh: building $broker (Release)" >&2
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFMB_BUILD_TESTS=OFF \
        -DFMB_BUILD_GUI=OFF >"$out/build-broker.log" 2>&1
    cmake --build "$build" --target forgejo-mcp-brokerd >>"$out/build-broker.log" 2>&1 ||
        { tail -30 "$out/build-broker.log" >&2; exit 1; }
fi
[[ -d $root/tests/e2e/node_modules/supergateway ]] ||
    { echo "bench/run.sh: tests/e2e/node_modules is missing; run (cd tests/e2e && npm ci)" >&2; exit 1; }

export FMB_BENCH_BROKER=$broker FMB_BENCH_TOOLS=$tools
echo "bench/run.sh: results in $out (open-file limit $(ulimit -n))" >&2
status=0
if [[ $benchmarks == 1 ]]; then
    python3 "$here/lib/bench.py" --broker "$broker" --tools "$tools" --out "$out" \
        --command-line "$command_line" "${pass[@]}" || status=1
fi
if [[ $faults == 1 ]]; then
    fargs=(--out "$out")
    [[ $quick == 1 ]] && fargs+=(--quick)
    for drill in child_crash child_flood slow_clients; do
        python3 "$here/faults/$drill.py" "${fargs[@]}" || status=1
    done
    python3 "$here/faults/soak.py" "${fargs[@]}" --soak-minutes "$soak_minutes" || status=1
fi

# One report: the benchmark tables, then each drill's section.
{
    echo "## Results: $command_line"
    echo
    [[ -f $out/results.md ]] && cat "$out/results.md"
    for f in "$out"/fault-*.md; do [[ -f $f ]] && cat "$f" && echo; done
} >"$out/report.md"
echo "bench/run.sh: report $out/report.md" >&2
exit $status
