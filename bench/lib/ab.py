#!/usr/bin/env python3
"""Two (or more) broker builds side by side: echo calls with the C child, rounds interleaved.

    bench/lib/ab.py NAME=BROKER NAME=BROKER [...] [--concurrency 1,16] [--rounds 5] [--duration 5]

BROKER is a forgejo-mcp-brokerd binary, optionally followed by flags of its own in the same
argument: "socket=build-bench/bin/forgejo-mcp-brokerd --child-stdio socket".

For a change to the broker's I/O path, whose effect is smaller than the machine's drift between
two bench/run.sh runs: every broker runs in every round, in a rotating order, and the medians are
compared. Prints a markdown table (throughput, p50/p99 latency, broker CPU per request) and writes
nothing else. Needs the bench tools (bench/run.sh builds them; FMB_BENCH_TOOLS to point elsewhere).
"""
from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import Paths, Target, c_child, cpu_seconds, load_args, log, run_load  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("brokers", nargs="+", help="NAME=PATH [FLAG ...] of a forgejo-mcp-brokerd binary")
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    brokers = dict(item.split("=", 1) for item in args.brokers)
    if len(brokers) < 2:
        parser.error("give at least two brokers")
    base = Paths.from_env()
    work = Path(tempfile.mkdtemp(prefix="fmb-ab-"))
    child = c_child(base)
    targets = {}
    try:
        for name, spec in brokers.items():
            binary, *flags = shlex.split(spec)
            paths = Paths(Path(binary), base.tools, base.node)
            targets[name] = Target(paths, "broker", child, work, name=name, extra_args=flags).start()
        results: dict[tuple[int, str], list[dict]] = {}
        names = list(targets)
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            # Warm-up: page cache, the children's first spawn, CPU frequency.
            for name in names:
                run_load(base, "http", load_args(child, concurrency, duration=2, calls=1_000_000),
                         url=targets[name].url)
            for r in range(args.rounds):
                order = names[r % len(names):] + names[:r % len(names)]
                for name in order:
                    t = targets[name]
                    cpu0 = cpu_seconds(t.pid)
                    res = run_load(base, "http", load_args(child, concurrency, duration=args.duration,
                                                           calls=1_000_000), url=t.url)
                    res["cpu_per_request_us"] = (cpu_seconds(t.pid) - cpu0) * 1e6 / max(res["requests"], 1)
                    results.setdefault((concurrency, name), []).append(res)
                    log(f"[ab] c={concurrency} round {r + 1} {name}: {res['throughput']:.0f}/s "
                        f"p50 {res['latency_us']['p50']:.1f} µs, cpu {res['cpu_per_request_us']:.1f} µs/req")
        print(f"Command: `bench/lib/ab.py {shlex.join(sys.argv[1:])}`; medians of {args.rounds} rounds "
              f"of {args.duration:g} s, brokers interleaved.\n")
        print("| concurrency | broker | calls/s | p50 (µs) | p99 (µs) | broker CPU per request (µs) |")
        print("|--:|---|--:|--:|--:|--:|")
        for (concurrency, name), runs in results.items():
            def med(get):
                return statistics.median(get(x) for x in runs)
            print(f"| {concurrency} | {name} | {med(lambda x: x['throughput']):,.0f} | "
                  f"{med(lambda x: x['latency_us']['p50']):.1f} | {med(lambda x: x['latency_us']['p99']):.1f} | "
                  f"{med(lambda x: x['cpu_per_request_us']):.1f} |")
    finally:
        for t in targets.values():
            t.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
