#!/usr/bin/env python3
"""Fault drill: children that crash at random under load.

Two load generators run against one broker at once. The "crash" one sends echo texts that start
with "crash", and the child (fmb-bench-child --crash-prob P --crash-prefix crash) dies on such a
call with probability P, half by _exit(3), half by SIGKILL. The "control" one never triggers a
crash. Expected: every affected request gets a JSON-RPC error, the next request on that session a
404; the control sessions see no error at all; no zombie is left under the broker; it keeps serving.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from benchlib import (Drill, Sampler, Target, c_child, child_states, fd_count, mib, rss_kib,  # noqa: E402
                      start_load, wait_load, zombies)


def main() -> int:
    d = Drill("child-crash", "children crash at random under load", __doc__)
    quick = d.args.quick
    duration = 4 if quick else 20
    prob = "0.02"
    child = c_child(d.paths, "--crash-prob", prob, "--crash-prefix", "crash")
    broker = Target(d.paths, "broker", child, d.work, name="crash-broker", max_sessions=1000).start()
    try:
        rss0, fds0 = rss_kib(broker.pid), fd_count(broker.pid)
        common = ["--concurrency", "8", "--calls", "50", "--duration", str(duration), "--timeout", "20"]
        peak_zombies = 0
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak_zombies
            while not stop.is_set():
                peak_zombies = max(peak_zombies, zombies(broker.pid))
                stop.wait(0.2)

        watcher = threading.Thread(target=watch, daemon=True)
        with Sampler(broker.pid, 0.1) as sampler:
            watcher.start()
            crash = start_load(d.paths, broker.url, common + ["--text-prefix", "crash", "--confirm-crash"])
            control = start_load(d.paths, broker.url, common)
            rc, rk = wait_load(control), wait_load(crash)
            stop.set()
            watcher.join()
        time.sleep(2)  # children of the last DELETEs get their stdin closed and exit
        z_after = zombies(broker.pid)
        kids_after = len(child_states(broker.pid))
        exits = sum(1 for line in broker.log_lines() if "ends: the MCP server" in line)
        d.data.update(control=rc, crash=rk, peak_zombies=peak_zombies, zombies_after=z_after,
                      children_after=kids_after, rss0=rss0, peak_rss=sampler.peak_rss, fds0=fds0,
                      fds_after=fd_count(broker.pid), exits_logged=exits)
        d.section("\n".join([
            f"Broker: `{broker.cmdline}`.", "",
            f"- crash load: `{rk['cmd']}`", f"- control load: `{rc['cmd']}`", "",
            "| | crash sessions | control sessions |", "|---|--:|--:|",
            f"| sessions | {rk['sessions_started']} | {rc['sessions_started']} |",
            f"| echo calls answered | {rk['calls_ok']} | {rc['calls_ok']} |",
            f"| calls answered with a JSON-RPC error (child died) | {rk['rpc_errors']} | {rc['rpc_errors']} |",
            f"| … and the next request on that session got 404 | {rk['confirmed_404']} | – |",
            f"| other errors | {rk['errors'] or 0} | {rc['errors'] or 0} |",
            f"| p50 / p99 latency (µs) | {rk['latency_us']['p50']} / {rk['latency_us']['p99']} | "
            f"{rc['latency_us']['p50']} / {rc['latency_us']['p99']} |",
            "",
            f"Broker log: {exits} sessions ended because their child exited. Zombies under the broker: "
            f"at most {peak_zombies} at a 0.2 s sample during the load, {z_after} after it; live children "
            f"after: {kids_after}. RSS {mib(rss0)} → peak {mib(sampler.peak_rss)}; fds {fds0} → "
            f"{d.data['fds_after']} after."]))
        d.check("crashes happened", rk["rpc_errors"] > 0, f"{rk['rpc_errors']} calls hit a dying child")
        d.check("each affected call got a JSON-RPC error, then 404",
                rk["confirmed_404"] == rk["rpc_errors"] and not rk["errors"],
                f"{rk['rpc_errors']} errors, {rk['confirmed_404']} × 404, other: {rk['errors']}")
        d.check("control sessions undisturbed", rc["error_count"] == 0 and rc["rpc_errors"] == 0 and
                rc["calls_ok"] > 0, f"{rc['calls_ok']} calls, errors {rc['errors']}")
        d.check("no zombie left under the broker", z_after == 0, f"{z_after} after, peak {peak_zombies}")
        d.check("no child left behind", kids_after == 0, f"{kids_after} children")
        d.check("broker still serves", broker.alive() and broker.healthy(), "GET /healthz")
    finally:
        code = broker.stop()
    d.check("broker exits 0 on SIGTERM", code == 0, f"exit {code}")
    return d.finish()


if __name__ == "__main__":
    sys.exit(main())
