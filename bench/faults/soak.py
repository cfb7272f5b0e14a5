#!/usr/bin/env python3
"""Soak: steady load on one broker for --soak-minutes (default 10).

8 concurrent sessions, each 100 echo calls then DELETE (so children are spawned and stopped all the
time), plus 50 idle sessions held throughout. RSS and open descriptors of the broker are sampled
every 5 s; the drill compares the start (after a 20 s warm-up) with the end. Expected: no error,
no descriptor growth, no zombie, RSS flat.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from benchlib import (Drill, IdleHolder, Target, c_child, child_states, fd_count, log, mib,  # noqa: E402
                      rss_kib, start_load, stop_load, zombies)


def main() -> int:
    d = Drill("soak", "soak at steady load", __doc__)
    minutes = d.args.soak_minutes
    warmup = 3 if d.args.quick or minutes < 2 else 20
    broker = Target(d.paths, "broker", c_child(d.paths), d.work, name="soak-broker").start()
    samples = []
    try:
        holder = IdleHolder(d.paths, broker.url, 50)
        holder.open()
        load = start_load(d.paths, broker.url, ["--concurrency", "8", "--calls", "100", "--duration",
                                                 str(minutes * 60 + warmup + 30), "--timeout", "30"])
        time.sleep(warmup)
        started = time.monotonic()
        end = started + minutes * 60
        while True:
            samples.append((time.monotonic() - started, rss_kib(broker.pid), fd_count(broker.pid),
                            len(child_states(broker.pid))))
            if time.monotonic() >= end or load.poll() is not None:
                break
            time.sleep(min(5, max(0.0, end - time.monotonic())))
        r = stop_load(load)
        holder.close()
        time.sleep(2)
        z, kids = zombies(broker.pid), len(child_states(broker.pid))
        fds_idle = fd_count(broker.pid)
        alive = broker.alive() and broker.healthy()
    finally:
        code = broker.stop()
    first, last = samples[0], samples[-1]
    peak = max(s[1] for s in samples)
    d.data.update(samples=samples, load=r, zombies=z, children_after=kids, fds_after=fds_idle)
    step = max(1, len(samples) // 10)
    rows = ["| t (s) | RSS | open fds | children |", "|--:|--:|--:|--:|"]
    rows += [f"| {t:.0f} | {mib(rss)} | {fds} | {k} |" for t, rss, fds, k in samples[::step]]
    if samples[-1] not in samples[::step]:
        t, rss, fds, k = samples[-1]
        rows.append(f"| {t:.0f} | {mib(rss)} | {fds} | {k} |")
    d.section("\n".join([
        f"Broker: `{broker.cmdline}`; load: `{r['cmd']}` (stopped with SIGTERM) and 50 idle sessions "
        f"(`{holder.cmd[0]} idle … --sessions 50`).", "",
        f"{minutes:g} minutes after a {warmup} s warm-up; the whole run made {r['calls_ok']:,} calls in "
        f"{r['sessions_started']:,} sessions ({r['throughput']:.0f} calls/s, p50 {r['latency_us']['p50']:.0f} µs, p99 "
        f"{r['latency_us']['p99']:.0f} µs), errors {r['errors'] or 0}. RSS {mib(first[1])} → {mib(last[1])} "
        f"(peak {mib(peak)}); open fds {first[2]} → {last[2]}; after the load: {kids} children, {z} zombies, "
        f"{fds_idle} fds.", ""] + rows))
    d.check("no error under load", r["error_count"] == 0 and r["calls_ok"] > 0,
            f"{r['calls_ok']:,} calls, errors {r['errors']}")
    # Sampled mid-churn, the count moves by a few children's 4 descriptors.
    d.check("open fds stable", abs(last[2] - first[2]) <= 4 * 16, f"{first[2]} → {last[2]}")
    d.check("RSS flat (within 10% + 2 MiB)", last[1] <= first[1] * 1.1 + 2048, f"{mib(first[1])} → {mib(last[1])}")
    d.check("no zombie, no child left", z == 0 and kids == 0, f"{z} zombies, {kids} children")
    d.check("broker alive, exits 0", alive and code == 0, f"exit {code}")
    return d.finish()


if __name__ == "__main__":
    sys.exit(main())
