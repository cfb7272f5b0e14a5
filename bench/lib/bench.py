#!/usr/bin/env python3
"""The benchmark driver behind bench/run.sh: direct stdio, forgejo-mcp-brokerd and supergateway in
one run, side by side. Writes results.json and results.md to --out; see docs/benchmarks.md."""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster  # noqa: E402
from benchlib import (ROOT, Child, IdleHolder, McpSession, Paths, Target, c_child, children_cpu_seconds,  # noqa: E402
                      child_states, cpu_seconds, fd_count, fmt, load_args, log, median, node_child, now_utc,
                      ratio, rss_kib, run_load, zombies)

TARGETS = ("stdio", "broker", "supergateway")
# Issue 13: the same echo call as a session request and as a 2026-07-28 request.
REVISIONS = {"session": "2025-11-25", "stateless": "2026-07-28"}
REVISION_LABELS = {"session": "2025-11-25 session (a child per session)",
                   "stateless": "2026-07-28 (one child per user)"}
LABELS = {"stdio": "direct stdio", "broker": "broker", "supergateway": "supergateway"}

PROFILES = {
    # a smoke run: one short round of everything cheap, 64 idle sessions, C child only
    # calls: per session in the throughput runs; 1,000,000 outlasts the window, so those measure
    # steady state (each worker keeps one session) and set-up is measured on its own.
    "quick": dict(rounds=1, duration=1.0, warmup=1.0, calls=1_000_000, children=["c"], idle=[64],
                  idle_rounds=1, setup_duration=1.0, big=False),
    # warm-up 10 s: supergateway's JIT needs a few thousand requests to reach its speed
    "full": dict(rounds=3, duration=5.0, warmup=10.0, calls=1_000_000, children=["c", "node"], idle=[200, 1000],
                 idle_rounds=2, setup_duration=5.0, big=True),
}


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.p = dict(PROFILES["quick" if args.quick else "full"])
        for key in ("rounds", "duration", "calls"):
            if getattr(args, key) is not None:
                self.p[key] = getattr(args, key)
        if args.children:
            self.p["children"] = args.children.split(",")
        self.paths = Paths(Path(args.broker), Path(args.tools), args.node)
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = self.out / "work"
        self.work.mkdir(exist_ok=True)
        self.results: dict = {"profile": "quick" if args.quick else "full", "params": self.p,
                              "command": args.command_line, "started": now_utc(), "source": source_state(),
                              "loadavg_start": os.getloadavg(), "scenarios": {}}

    # ---- helpers ----

    def child(self, name: str) -> Child:
        return c_child(self.paths) if name == "c" else node_child(self.paths)

    def target(self, kind: str, child: Child, name: str, **kw) -> Target:
        extra_env = {}
        if kind == "broker" and self.args.broker_env:
            extra_env.update(dict(item.split("=", 1) for item in self.args.broker_env))
        return Target(self.paths, kind, child, self.work, name=name, env=extra_env, **kw).start()

    def measure(self, kind: str, targets: dict[str, Target], child: Child, concurrency: int, duration: float,
                calls: int, extra: list[str] | None = None) -> dict:
        # Sixteen Node children starting at once on two busy cores take a while to answer initialize.
        args = load_args(child, concurrency, duration=duration, calls=calls,
                         extra=["--timeout", "120"] + (extra or []))
        if kind == "stdio":
            r = run_load(self.paths, "stdio", args, child=child)
            r["target_cpu_s"] = None
            return r
        t = targets[kind]
        cpu0, ccpu0 = cpu_seconds(t.pid), children_cpu_seconds(t.pid)
        r = run_load(self.paths, "http", args, url=t.url)
        r["target_cpu_s"] = cpu_seconds(t.pid) - cpu0
        r["target_reaped_children_cpu_s"] = children_cpu_seconds(t.pid) - ccpu0
        r["target_rss_kib"] = rss_kib(t.pid)
        return r

    @staticmethod
    def summarize(runs: list[dict]) -> dict:
        """Medians over rounds; CPU per request over all rounds together."""
        lat = [r["latency_us"] for r in runs if r.get("latency_us")]
        setup = [r["setup_us"] for r in runs if r.get("setup_us")]
        requests = sum(r["requests"] for r in runs)
        cpu = [r.get("target_cpu_s") for r in runs]
        return {
            "rounds": len(runs),
            "throughput": median([r["throughput"] for r in runs]),
            "p50": median([x["p50"] for x in lat]), "p90": median([x["p90"] for x in lat]),
            "p99": median([x["p99"] for x in lat]),
            "setup_p50": median([x["p50"] for x in setup]), "setup_p90": median([x["p90"] for x in setup]),
            "setup_p99": median([x["p99"] for x in setup]),
            "sessions_per_s": median([r["sessions_ok"] / r["wall_s"] for r in runs if r["wall_s"] > 0]),
            "target_cpu_us_per_request": (sum(cpu) * 1e6 / requests) if None not in cpu and requests else None,
            "client_cpu_us_per_request": sum(r["client_cpu_us"] for r in runs) / requests if requests else None,
            "errors": sum(r["error_count"] for r in runs),
            "error_kinds": {k: v for r in runs for k, v in r["errors"].items()},
            "requests": requests,
            "cmds": [r["cmd"] for r in runs],
        }

    def rotated(self, round_index: int) -> list[str]:
        k = round_index % len(TARGETS)
        return list(TARGETS[k:] + TARGETS[:k])

    # ---- scenarios ----

    def throughput(self) -> None:
        """1 and 16 concurrent sessions, --calls sequential echo calls each, per target and child."""
        for child_name in self.p["children"]:
            child = self.child(child_name)
            key = f"throughput_{child_name}"
            log(f"[{key}] starting broker and supergateway in front of {child.name}")
            targets = {"broker": self.target("broker", child, f"{key}-broker"),
                       "supergateway": self.target("supergateway", child, f"{key}-supergateway")}
            try:
                for kind in TARGETS:  # warm-up: page cache, JIT, allocator
                    self.measure(kind, targets, child, 16, self.p["warmup"], 200)
                block = {"child": child.name, "targets": {t.name: t.cmdline for t in targets.values()},
                         "by_concurrency": {}}
                for concurrency in (1, 16):
                    runs: dict[str, list[dict]] = {k: [] for k in TARGETS}
                    for rnd in range(self.p["rounds"]):
                        for kind in self.rotated(rnd):
                            r = self.measure(kind, targets, child, concurrency, self.p["duration"], self.p["calls"])
                            runs[kind].append(r)
                            log(f"[{key}] c={concurrency} round {rnd + 1} {kind}: {r['throughput']:.0f}/s "
                                f"p50 {r['latency_us'] and r['latency_us']['p50']} us errors {r['error_count']}")
                    block["by_concurrency"][str(concurrency)] = {k: self.summarize(v) for k, v in runs.items()}
                block["rss_after_kib"] = {k: rss_kib(t.pid) for k, t in targets.items()}
                self.results["scenarios"][key] = block
            finally:
                for t in targets.values():
                    t.stop()

    def setup(self) -> None:
        """Session set-up: 16 concurrent initialize (then DELETE) loops; stdio: spawn + initialize."""
        children = ["c"] + (["node"] if "node" in self.p["children"] else [])
        for child_name in children:
            child = self.child(child_name)
            key = f"setup_{child_name}"
            rounds = self.p["rounds"] if child_name == "c" else 1
            duration = self.p["setup_duration"] * (1 if child_name == "c" else 2)
            log(f"[{key}] {child.name}")
            targets = {"broker": self.target("broker", child, f"{key}-broker"),
                       "supergateway": self.target("supergateway", child, f"{key}-supergateway")}
            try:
                for kind in TARGETS:
                    self.measure(kind, targets, child, 4, self.p["warmup"], 0)
                block = {"child": child.name, "by_concurrency": {}}
                for concurrency in (1, 16):
                    runs: dict[str, list[dict]] = {k: [] for k in TARGETS}
                    for rnd in range(rounds):
                        for kind in self.rotated(rnd):
                            r = self.measure(kind, targets, child, concurrency, duration, 0)
                            runs[kind].append(r)
                            log(f"[{key}] c={concurrency} round {rnd + 1} {kind}: setup p50 "
                                f"{r['setup_us'] and r['setup_us']['p50']} us, {r['sessions_ok']} sessions, "
                                f"errors {r['error_count']}")
                    block["by_concurrency"][str(concurrency)] = {k: self.summarize(v) for k, v in runs.items()}
                self.results["scenarios"][key] = block
            finally:
                for t in targets.values():
                    t.stop()

    def revisions(self) -> None:
        """Issue 13: echo calls as 2025-11-25 session requests (a child per session) and as 2026-07-28
        requests (no session; every client of the one local user on one child), on one broker, rounds
        interleaved; then how many children 100 clients of each revision keep open."""
        for child_name in self.p["children"]:
            child = self.child(child_name)
            key = f"revisions_{child_name}"
            log(f"[{key}] starting the broker in front of {child.name}")
            t = self.target("broker", child, f"{key}-broker")

            def run(rev: str, concurrency: int, duration: float, calls: int) -> dict:
                return self.measure("broker", {"broker": t}, child, concurrency, duration, calls,
                                    extra=["--protocol", REVISIONS[rev]])

            try:
                for rev in REVISIONS:
                    run(rev, 16, self.p["warmup"], 200)
                block: dict = {"child": child.name, "target": t.cmdline, "by_concurrency": {}, "hundred": {}}
                for concurrency in (1, 16):
                    runs: dict[str, list[dict]] = {k: [] for k in REVISIONS}
                    for rnd in range(self.p["rounds"]):
                        for rev in (list(REVISIONS) if rnd % 2 == 0 else list(reversed(REVISIONS))):
                            r = run(rev, concurrency, self.p["duration"], self.p["calls"])
                            runs[rev].append(r)
                            log(f"[{key}] c={concurrency} round {rnd + 1} {rev}: {r['throughput']:.0f}/s, broker "
                                f"{r['target_cpu_s'] * 1e6 / max(r['requests'], 1):.1f} us/request, "
                                f"errors {r['error_count']}")
                    block["by_concurrency"][str(concurrency)] = {k: self.summarize(v) for k, v in runs.items()}
                # 100 clients at once: sessions keep a child each while open; 2026-07-28 clients share
                # the user's child, which outlives them until the idle timeout.
                # the user child of the runs above lives on (idle timeout): not a session's
                before = {pid for pid, _ in child_states(t.pid)}
                with IdleHolder(self.paths, t.url, 100) as holder:
                    time.sleep(1)
                    kids = [pid for pid, _ in child_states(t.pid) if pid not in before]
                    block["hundred"]["session"] = {"children": len(kids),
                                                   "children_rss_kib": sum(rss_kib(k) for k in kids),
                                                   "cmd": holder.opened["cmd"]}
                time.sleep(2)
                r = run("stateless", 100, 2.0, 1_000_000)
                kids = [pid for pid, _ in child_states(t.pid)]
                block["hundred"]["stateless"] = {"children": len(kids),
                                                 "children_rss_kib": sum(rss_kib(k) for k in kids),
                                                 "cmd": r["cmd"], "errors": r["error_count"]}
                self.results["scenarios"][key] = block
            finally:
                t.stop()

    def cluster(self) -> None:
        """Issue 14: two brokers on PostgreSQL behind HAProxy vs one broker directly, PostgreSQL vs
        SQLite (bearer checks, sign-ins). Not in the default list: it needs postgresql, haproxy and
        fmb-fake-forgejo (--test-bin)."""
        self.results["scenarios"]["cluster"] = cluster.run(self, Path(self.args.test_bin))

    def idle(self) -> None:
        """RSS with 0 / 200 / 1,000 idle sessions, and 16 active sessions with and without them."""
        child = c_child(self.paths)
        counts = self.p["idle"]
        most = counts[-1]
        block: dict = {"child": child.name, "counts": counts, "targets": {}}
        for kind in ("broker", "supergateway"):
            key = f"idle-{kind}"
            log(f"[idle] {kind}")
            t = self.target(kind, child, key, max_sessions=max(2000, most + 100))
            targets = {kind: t}
            entry: dict = {"cmdline": t.cmdline}
            try:
                time.sleep(1)
                entry["rss_fresh_kib"] = rss_kib(t.pid)
                self.measure(kind, targets, child, 16, self.p["warmup"], 200)
                time.sleep(1)
                entry["rss_kib"] = {"0": rss_kib(t.pid)}
                entry["fds"] = {"0": fd_count(t.pid)}
                none_runs, idle_runs, opened = [], [], []
                for rnd in range(self.p["idle_rounds"]):
                    r = self.measure(kind, targets, child, 16, self.p["duration"], self.p["calls"])
                    none_runs.append(r)
                    log(f"[idle] {kind} round {rnd + 1} no idle: {r['throughput']:.0f}/s")
                    holders, held = [], 0
                    try:
                        for count in counts:
                            holder = IdleHolder(self.paths, t.url, count - held)
                            holders.append(holder)
                            o = holder.open()
                            opened.append(o)
                            held = count
                            if o["sessions_ok"] != o["sessions_started"]:
                                log(f"[idle] {kind}: opening idle sessions had errors: {o['errors']}")
                            if rnd == 0:
                                time.sleep(1.5)
                                entry["rss_kib"][str(count)] = rss_kib(t.pid)
                                entry["fds"][str(count)] = fd_count(t.pid)
                                entry.setdefault("open_wall_s", {})[str(count)] = o["wall_s"]
                                log(f"[idle] {kind}: {count} idle: RSS {entry['rss_kib'][str(count)]} KiB, "
                                    f"{entry['fds'][str(count)]} fds")
                        r = self.measure(kind, targets, child, 16, self.p["duration"], self.p["calls"])
                        r["idle_cpu_s"] = None
                        idle_runs.append(r)
                        log(f"[idle] {kind} round {rnd + 1} with {most} idle: {r['throughput']:.0f}/s")
                        # Idle sessions cost nothing? CPU of the target over 2 s with only idle sessions.
                        if rnd == 0:
                            c0 = cpu_seconds(t.pid)
                            time.sleep(2)
                            entry["idle_cpu_pct"] = (cpu_seconds(t.pid) - c0) / 2 * 100
                    finally:
                        for holder in reversed(holders):
                            d = holder.close()
                            if d and d.get("error_count"):
                                log(f"[idle] {kind}: deleting idle sessions had errors: {d['errors']}")
                    time.sleep(2)
                    if rnd == 0:
                        entry["rss_after_delete_kib"] = rss_kib(t.pid)
                        entry["fds_after_delete"] = fd_count(t.pid)
                entry["active_none"] = self.summarize(none_runs)
                entry["active_idle"] = self.summarize(idle_runs)
                entry["open_errors"] = sum(o["error_count"] for o in opened)
                entry["open_setup_p50_us"] = median([o["setup_us"]["p50"] for o in opened if o.get("setup_us")])
                entry["holder_cmds"] = [o["cmd"] for o in opened]
            finally:
                entry["exit_code"] = t.stop()
            block["targets"][kind] = entry
        self.results["scenarios"]["idle"] = block

    def big(self) -> None:
        """5,000 open sessions with the C child (broker only), then over the limit."""
        child = c_child(self.paths)
        n = self.args.big_sessions
        block: dict = {"sessions": n}
        log(f"[big] {n} sessions, --max-sessions {n}")
        t = self.target("broker", child, "big-broker", max_sessions=n)
        block["cmdline"] = t.cmdline
        try:
            block["fds_start"] = fd_count(t.pid)
            block["nofile_limit"] = Path(f"/proc/{t.pid}/limits").read_text().split("Max open files")[1].split()[:2]
            holder = IdleHolder(self.paths, t.url, n + 100, timeout=120)
            try:
                o = holder.open()
                block["opened"] = {k: o[k] for k in ("sessions_started", "sessions_ok", "errors", "statuses",
                                                     "retry_after", "wall_s", "setup_us", "cmd")}
                block["rss_kib"] = rss_kib(t.pid)
                block["fds"] = fd_count(t.pid)
                block["children"] = len(child_states(t.pid))
                block["healthz"] = t.healthy(timeout=10)
                extra = McpSession(t.port, timeout=30)
                reply = extra.initialize()
                block["one_more"] = {"status": reply.status, "retry_after": reply.headers.get("retry-after"),
                                     "body": reply.body[:300].decode(errors="replace")}
                if reply.status == 200:
                    extra.delete()
                extra.close()
                log(f"[big] opened {o['sessions_ok']} of {o['sessions_started']} in {o['wall_s']:.0f}s, "
                    f"errors {o['errors']}; RSS {block['rss_kib']} KiB, {block['fds']} fds; one more: {reply.status}")
            finally:
                started = time.monotonic()
                d = holder.close(timeout=900)
                block["delete_wall_s"] = time.monotonic() - started
                block["deleted"] = {k: d.get(k) for k in ("sessions_ended", "errors")}
            time.sleep(3)
            block["children_after"] = len(child_states(t.pid))
            block["zombies_after"] = zombies(t.pid)
            block["fds_after"] = fd_count(t.pid)
            r = run_load(self.paths, "http", load_args(child, 16, duration=2, calls=100), url=t.url)
            block["after"] = {"throughput": r["throughput"], "errors": r["errors"], "cmd": r["cmd"]}
            block["alive"] = t.alive()
        finally:
            stopped = time.monotonic()
            block["exit_code"] = t.stop(timeout=60)
            block["stop_wall_s"] = time.monotonic() - stopped
        # The open-file limit itself: --max-sessions far above it, so the
        # ceiling the daemon derives from RLIMIT_NOFILE is what refuses.
        t = self.target("broker", child, "ceiling-broker", max_sessions=100_000)
        try:
            match = re.search(r"has room for (\d+) sessions", t.logfile.read_text(errors="replace"))
            ceiling = int(match.group(1)) if match else 0
            holder = IdleHolder(self.paths, t.url, ceiling + 200, timeout=120)
            try:
                o = holder.open()
                block["ceiling"] = {"logged": ceiling, "fds": fd_count(t.pid), "healthz": t.healthy(timeout=10),
                                    **{k: o[k] for k in ("sessions_ok", "errors", "retry_after", "cmd")}}
                log(f"[big] ceiling {ceiling}: opened {o['sessions_ok']}, errors {o['errors']}, "
                    f"{block['ceiling']['fds']} fds")
            finally:
                holder.close(timeout=900)
            block["ceiling"]["alive"] = t.alive()
        finally:
            block["ceiling_exit_code"] = t.stop(timeout=60)
        # The 503 path on its own, with a limit far below the descriptor ceiling.
        t = self.target("broker", child, "limit-broker", max_sessions=50)
        try:
            holder = IdleHolder(self.paths, t.url, 60)
            o = holder.open()
            block["limit50"] = {k: o[k] for k in ("sessions_ok", "errors", "retry_after", "cmd")}
            holder.close()
        finally:
            block["limit50_exit_code"] = t.stop()
        self.results["scenarios"]["big"] = block

    # ---- report ----

    def run(self) -> None:
        wanted = (self.args.only.split(",") if self.args.only
                  else ["throughput", "setup", "idle", "revisions", "big"])
        for name in wanted:
            if name == "big" and not (self.p["big"] or self.args.only):
                continue
            started = time.monotonic()
            getattr(self, name)()
            log(f"[{name}] done in {time.monotonic() - started:.0f}s")
            self.save()
        self.results["finished"] = now_utc()
        self.results["loadavg_end"] = os.getloadavg()
        self.save()
        (self.out / "results.md").write_text(render(self.results, self.paths))
        log(f"results: {self.out / 'results.md'}")

    def save(self) -> None:
        (self.out / "results.json").write_text(json.dumps(self.results, indent=1))


# ---- markdown -----------------------------------------------------------------------------------

def goals(results: dict) -> list[tuple[str, str, str, bool | None]]:
    s = results["scenarios"]
    out: list[tuple[str, str, str, bool | None]] = []
    t = s.get("throughput_c", {}).get("by_concurrency", {})
    if t:
        b16, g16 = t["16"]["broker"], t["16"]["supergateway"]
        r = b16["throughput"] / g16["throughput"] if g16["throughput"] else None
        out.append(("throughput at 16 sessions ≥ 3× supergateway",
                    f"{fmt(b16['throughput'])} vs {fmt(g16['throughput'])} calls/s = {fmt(r, 2)}×", "≥ 3×",
                    r is not None and r >= 3))
        b1, d1 = t["1"]["broker"], t["1"]["stdio"]
        diff = b1["p50"] - d1["p50"] if b1["p50"] and d1["p50"] else None
        out.append(("p50 latency at 1 session within 0.15 ms of direct stdio",
                    f"{fmt(b1['p50'])} vs {fmt(d1['p50'])} µs = +{fmt(diff)} µs", "≤ +150 µs",
                    diff is not None and diff <= 150))
        for c in ("16", "1"):
            bc, gc = t[c]["broker"]["target_cpu_us_per_request"], t[c]["supergateway"]["target_cpu_us_per_request"]
            r = bc / gc if bc and gc else None
            out.append((f"broker CPU per request ≤ 1/5 of supergateway's ({c} session{'s' if c != '1' else ''})",
                        f"{fmt(bc)} vs {fmt(gc)} µs = {fmt(r, 2)}×", "≤ 0.20×", r is not None and r <= 0.2))
    idle = s.get("idle", {}).get("targets", {}).get("broker")
    if idle:
        most = str(s["idle"]["counts"][-1])
        per = (idle["rss_kib"][most] - idle["rss_kib"]["0"]) / int(most)
        out.append((f"broker RSS ≤ 32 KiB per open idle session ({most} sessions)",
                    f"{fmt(per, 1)} KiB", "≤ 32 KiB", per <= 32))
    st = s.get("setup_c", {}).get("by_concurrency", {}).get("16")
    if st:
        b, d = st["broker"]["setup_p50"], st["stdio"]["setup_p50"]
        r = b / d if b and d else None
        out.append(("set-up p50 at 16 concurrent ≤ 1.5× direct spawn+initialize",
                    f"{fmt(b / 1000 if b else None)} vs {fmt(d / 1000 if d else None)} ms = {fmt(r, 2)}×", "≤ 1.5×",
                    r is not None and r <= 1.5))
    big = s.get("big")
    if big and "opened" in big:
        o = big["opened"]
        n = big["sessions"]
        errors = {k: v for k, v in o["errors"].items() if k != "initialize_503"}
        ok = o["sessions_ok"] >= n and not errors and big.get("alive")
        out.append((f"{n:,} open sessions without an error, 503 beyond",
                    f"{o['sessions_ok']:,} opened; beyond/errors: {o['errors']}; "
                    f"{'alive' if big.get('alive') else 'DEAD'}", f"{n:,} + 503s", ok))
        c = big.get("ceiling")
        if c:
            others = {k: v for k, v in c["errors"].items() if k != "initialize_503"}
            ok = c["logged"] > 0 and c["sessions_ok"] == c["logged"] and not others and c["alive"]
            out.append(("503 at the open-file ceiling, never a crash",
                        f"ceiling {c['logged']:,}: {c['sessions_ok']:,} opened; beyond/errors: {c['errors']}; "
                        f"{'alive' if c['alive'] else 'DEAD'}", "ceiling + 503s", ok))
    rv = s.get("revisions_c", {}).get("by_concurrency", {})
    for c in ("16", "1"):
        if c not in rv:
            continue
        st, se = rv[c]["stateless"]["target_cpu_us_per_request"], rv[c]["session"]["target_cpu_us_per_request"]
        r = st / se if st and se else None
        out.append((f"broker CPU per 2026-07-28 echo call ≤ 1.2× a session call's ({c} client{'s' if c != '1' else ''})",
                    f"{fmt(st)} vs {fmt(se)} µs = {fmt(r, 2)}×", "≤ 1.2×", r is not None and r <= 1.2))
    hundred = s.get("revisions_c", {}).get("hundred", {}).get("stateless")
    if hundred:
        out.append(("100 concurrent 2026-07-28 clients of one user run on one child",
                    f"{hundred['children']} child(ren), {hundred['errors']} errors", "1", hundred["children"] == 1
                    and hundred["errors"] == 0))
    if idle:
        none, with_ = idle["active_none"]["throughput"], idle["active_idle"]["throughput"]
        r = with_ / none if none else None
        most = s["idle"]["counts"][-1]
        out.append((f"active throughput with {most:,} idle sessions ≥ 80% of none",
                    f"{fmt(with_)} vs {fmt(none)} calls/s = {fmt(r * 100 if r else None, 0)}%", "≥ 80%",
                    r is not None and r >= 0.8))
    return out


def perf_table(block: dict, *, setup: bool = False) -> list[str]:
    d, b, g = block["stdio"], block["broker"], block["supergateway"]
    rows = []
    if setup:
        metrics = [("set-up p50 (ms)", "setup_p50", 1e-3, 2), ("set-up p90 (ms)", "setup_p90", 1e-3, 2),
                   ("set-up p99 (ms)", "setup_p99", 1e-3, 2), ("sessions/s", "sessions_per_s", 1, 1),
                   ("target CPU per request (µs)", "target_cpu_us_per_request", 1, 1),
                   ("errors", "errors", 1, 0)]
    else:
        metrics = [("throughput (calls/s)", "throughput", 1, 0), ("p50 latency (µs)", "p50", 1, 1),
                   ("p90 latency (µs)", "p90", 1, 1), ("p99 latency (µs)", "p99", 1, 1),
                   ("target CPU per request (µs)", "target_cpu_us_per_request", 1, 1),
                   ("load generator CPU per request (µs)", "client_cpu_us_per_request", 1, 1),
                   ("errors", "errors", 1, 0)]
    rows.append("| | direct stdio | broker | supergateway | broker ÷ stdio | broker ÷ supergateway |")
    rows.append("|---|--:|--:|--:|--:|--:|")
    for label, key, scale, digits in metrics:
        vals = [x[key] * scale if x[key] is not None else None for x in (d, b, g)]
        rows.append(f"| {label} | " + " | ".join(fmt(v, digits) for v in vals) +
                    f" | {ratio(vals[1], vals[0]) if key != 'errors' else ''}"
                    f" | {ratio(vals[1], vals[2]) if key != 'errors' else ''} |")
    return rows


def render(results: dict, paths: Paths) -> str:
    s = results["scenarios"]
    p = results["params"]
    lines = [f"Run {results['started']} – {results.get('finished', '?')}, profile `{results['profile']}`: "
             f"`{results['command']}`", ""]
    lines.append(f"Host: {os.cpu_count()} CPUs, {platform.platform()}; load average at start "
                 f"{results['loadavg_start'][0]:.1f}, at end {results.get('loadavg_end', [0])[0]:.1f} "
                 f"(shared machine). Broker: `{paths.broker}` (source {results.get('source', '?')}, Release); "
                 f"supergateway 4.0.0 with `--logLevel none`; "
                 f"node {node_version(paths)}. Each figure is the median of {p['rounds']} round(s) of "
                 f"{p['duration']} s, targets interleaved; in the echo runs each session makes up to "
                 f"{p['calls']:,} calls (steady state: no session ends inside the window), set-up is measured "
                 f"apart.")
    lines.append("")
    lines += ["### Goals", "", "| goal | measured | target | held |", "|---|---|---|---|"]
    for name, measured, target, held in goals(results):
        lines.append(f"| {name} | {measured} | {target} | {'yes' if held else 'NO'} |")
    lines.append("")
    for child_name in ("c", "node"):
        block = s.get(f"throughput_{child_name}")
        if not block:
            continue
        for conc, data in block["by_concurrency"].items():
            lines += [f"### Echo calls, {block['child']}, {conc} concurrent session{'s' if conc != '1' else ''}", ""]
            lines += perf_table(data)
            lines += ["", "<details><summary>commands</summary>", ""]
            for t, cmd in block["targets"].items():
                lines.append(f"- target `{cmd}`")
            for kind in TARGETS:
                lines.append(f"- {kind}: `{data[kind]['cmds'][0]}`")
            lines += ["", "</details>", ""]
    for child_name in ("c", "node"):
        block = s.get(f"setup_{child_name}")
        if not block:
            continue
        for conc, data in block["by_concurrency"].items():
            lines += [f"### Session set-up, {block['child']}, {conc} concurrent", "",
                      "Direct stdio: posix_spawn + initialize answered; gateways: POST initialize answered "
                      "(child spawned inside). Each session is initialize, initialized, DELETE.", ""]
            lines += perf_table(data, setup=True)
            lines += ["", "<details><summary>commands</summary>", ""]
            for kind in TARGETS:
                lines.append(f"- {kind}: `{data[kind]['cmds'][0]}`")
            lines += ["", "</details>", ""]
    for child_name in ("c", "node"):
        block = s.get(f"revisions_{child_name}")
        if not block:
            continue
        for conc, data in block["by_concurrency"].items():
            lines += [f"### Revisions side by side, {block['child']}, {conc} concurrent client{'s' if conc != '1' else ''}",
                      "", "One broker (local mode: every client is the user \"local\"). A 2025-11-25 client has a "
                      "session and a child of its own; 2026-07-28 clients send no initialize and share the user's "
                      "child.", "", "| | " + " | ".join(REVISION_LABELS[k] for k in REVISIONS) +
                      " | 2026-07-28 ÷ session |", "|---|--:|--:|--:|"]
            for label, key, digits in (("throughput (calls/s)", "throughput", 0), ("p50 latency (µs)", "p50", 1),
                                       ("p99 latency (µs)", "p99", 1),
                                       ("broker CPU per request (µs)", "target_cpu_us_per_request", 1),
                                       ("errors", "errors", 0)):
                a, b = data["session"][key], data["stateless"][key]
                lines.append(f"| {label} | {fmt(a, digits)} | {fmt(b, digits)} | "
                             f"{ratio(b, a) if key != 'errors' else ''} |")
            lines += ["", "<details><summary>commands</summary>", "", f"- target `{block['target']}`"]
            for rev in REVISIONS:
                lines.append(f"- {rev}: `{data[rev]['cmds'][0]}`")
            lines += ["", "</details>", ""]
        h = block.get("hundred", {})
        if h:
            lines += [f"### Children for 100 concurrent clients of one user, {block['child']}", "",
                      "| | children | their RSS (KiB) |", "|---|--:|--:|"]
            for rev in REVISIONS:
                if rev in h:
                    lines.append(f"| {REVISION_LABELS[rev]} | {h[rev]['children']} | "
                                 f"{fmt(h[rev]['children_rss_kib'], 0)} |")
            lines += ["", "Local mode has one user. With several users the 2026-07-28 clients keep one child per "
                      "user: `--only cluster` measures 10 users in OAuth mode (see that section).", ""]
    idle = s.get("idle")
    if idle:
        counts = [str(c) for c in idle["counts"]]
        b, g = idle["targets"].get("broker"), idle["targets"].get("supergateway")
        lines += [f"### Idle sessions: memory (VmRSS of the target process, children excluded), {idle['child']}", "",
                  "| | broker | supergateway | broker ÷ supergateway |", "|---|--:|--:|--:|"]

        def row(label: str, fb, fg, digits: int = 0) -> None:
            vb, vg = fb(b) if b else None, fg(g) if g else None
            lines.append(f"| {label} | {fmt(vb, digits)} | {fmt(vg, digits)} | {ratio(vb, vg)} |")

        row("RSS just started (KiB)", lambda e: e["rss_fresh_kib"], lambda e: e["rss_fresh_kib"])
        for c in ["0"] + counts:
            row(f"RSS with {c} idle sessions (KiB)", lambda e, c=c: e["rss_kib"].get(c),
                lambda e, c=c: e["rss_kib"].get(c))
        for c in counts:
            # Node's RSS follows its garbage collector, not the session count: it can even shrink.
            row(f"per idle session, 0 → {c} (KiB)", lambda e, c=c: (e["rss_kib"][c] - e["rss_kib"]["0"]) / int(c),
                lambda e, c=c: (e["rss_kib"][c] - e["rss_kib"]["0"]) / int(c), 1)
        row("RSS after deleting them (KiB)", lambda e: e["rss_after_delete_kib"], lambda e: e["rss_after_delete_kib"])
        for c in ["0"] + counts:
            row(f"open fds with {c} idle", lambda e, c=c: e["fds"].get(c), lambda e, c=c: e["fds"].get(c))
        row(f"seconds to open {counts[-1]} idle (16 at a time)", lambda e: sum(e["open_wall_s"].values()),
            lambda e: sum(e["open_wall_s"].values()), 1)
        row(f"target CPU with {counts[-1]} idle sessions, nothing active (% of a core)",
            lambda e: e["idle_cpu_pct"], lambda e: e["idle_cpu_pct"], 1)
        lines += ["", f"### 16 active sessions with {counts[-1]} idle sessions open, {idle['child']}", "",
                  "| | broker | supergateway |", "|---|--:|--:|"]
        for label, key in (("throughput, no idle (calls/s)", "active_none"),
                           (f"throughput, {counts[-1]} idle (calls/s)", "active_idle")):
            lines.append(f"| {label} | {fmt(b[key]['throughput'] if b else None, 0)} | "
                         f"{fmt(g[key]['throughput'] if g else None, 0)} |")
        lines.append(f"| with ÷ without | {ratio(b['active_idle']['throughput'], b['active_none']['throughput'])} | "
                     f"{ratio(g['active_idle']['throughput'], g['active_none']['throughput'])} |")
        for label, key, sub in (("p50 latency (µs)", "p50", None), ("p99 latency (µs)", "p99", None),
                                ("target CPU per request (µs)", "target_cpu_us_per_request", None)):
            lines.append(f"| {label}, no idle → {counts[-1]} idle | "
                         f"{fmt(b['active_none'][key])} → {fmt(b['active_idle'][key])} | "
                         f"{fmt(g['active_none'][key])} → {fmt(g['active_idle'][key])} |")
        lines.append(f"| errors | {b['active_none']['errors'] + b['active_idle']['errors'] + b['open_errors']} | "
                     f"{g['active_none']['errors'] + g['active_idle']['errors'] + g['open_errors']} |")
        lines += ["", "<details><summary>commands</summary>", ""]
        for kind, e in idle["targets"].items():
            lines.append(f"- {kind}: `{e['cmdline']}`")
            lines.append(f"  - idle: `{e['holder_cmds'][0]}`")
            lines.append(f"  - active: `{e['active_none']['cmds'][0]}`")
        lines += ["", "</details>", ""]
    big = s.get("big")
    if big and "opened" in big:
        o = big["opened"]
        lines += [f"### {big['sessions']:,} sessions (broker, C child)", "",
                  f"`{big['cmdline']}`, then `{o['cmd']}` (opens {big['sessions'] + 100:,}, holds them).", "",
                  "| | |", "|---|---|",
                  f"| open-file limit (soft, hard) | {', '.join(big['nofile_limit'])} |",
                  f"| sessions opened | {o['sessions_ok']:,} of {o['sessions_started']:,} in {o['wall_s']:.0f} s |",
                  f"| answers | {o['statuses']} |",
                  f"| errors | {o['errors']} (503 with Retry-After: {o['retry_after']}) |",
                  f"| set-up p50 / p99 while filling (ms) | {fmt(o['setup_us']['p50'] / 1000)} / "
                  f"{fmt(o['setup_us']['p99'] / 1000)} |",
                  f"| broker RSS / open fds / children | {big['rss_kib']:,} KiB / {big['fds']:,} / {big['children']:,} |",
                  f"| /healthz while full | {'200' if big['healthz'] else 'FAILED'} |",
                  f"| one more initialize | {big['one_more']['status']} (Retry-After: "
                  f"{big['one_more']['retry_after']}) |",
                  f"| DELETE of all | {big['delete_wall_s']:.1f} s, {big['deleted']['sessions_ended']:,} ended |",
                  f"| after: children / zombies / fds | {big['children_after']} / {big['zombies_after']} / "
                  f"{big['fds_after']} |",
                  f"| 16 sessions afterwards | {fmt(big['after']['throughput'], 0)} calls/s, errors "
                  f"{big['after']['errors']} |",
                  f"| SIGTERM → exit | {big['exit_code']} after {big['stop_wall_s']:.1f} s |"]
        if "ceiling" in big:
            c = big["ceiling"]
            lines.append(f"| --max-sessions 100,000: the open-file ceiling | logged {c['logged']:,}; "
                         f"{c['sessions_ok']:,} of {c['logged'] + 200:,} opened, {c['errors']}, Retry-After on "
                         f"{c['retry_after']}; {c['fds']:,} fds; /healthz {'200' if c['healthz'] else 'FAILED'}; "
                         f"{'alive' if c['alive'] else 'DEAD'}, exit {big['ceiling_exit_code']} |")
        if "limit50" in big:
            l50 = big["limit50"]
            lines.append(f"| --max-sessions 50, 60 initialize | {l50['sessions_ok']} opened, {l50['errors']}, "
                         f"Retry-After on {l50['retry_after']} |")
        lines.append("")
    lines += cluster.render(s.get("cluster", {}))
    return "\n".join(lines) + "\n"


def source_state() -> str:
    """The commit the broker was built from, and whether core/ or daemon/ had local changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "core", "daemon")
    return commit + (" + local changes in core/ or daemon/" if dirty else "")


def node_version(paths: Paths) -> str:
    try:
        return subprocess.run([paths.node, "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--tools", required=True)
    parser.add_argument("--node", default="node")
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", help="comma-separated: throughput,setup,idle,revisions,big,cluster")
    parser.add_argument("--test-bin", default=str(ROOT / "build/tests/bin"),
                        help="folder with fmb-fake-forgejo (cluster)")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--big-sessions", type=int, default=5000)
    parser.add_argument("--children", help="comma-separated: c,node (default: the profile's)")
    parser.add_argument("--broker-env", action="append", help="NAME=VALUE for the broker (experiments)")
    parser.add_argument("--command-line", default=" ".join(shlex.quote(a) for a in sys.argv))
    parser.add_argument("--render-only", action="store_true", help="rewrite results.md from results.json")
    args = parser.parse_args()
    if args.render_only:
        out = Path(args.out)
        results = json.loads((out / "results.json").read_text())
        (out / "results.md").write_text(render(results, Paths(Path(args.broker), Path(args.tools), args.node)))
        return 0
    # SIGTERM unwinds like an exception, so every target started is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    Bench(args).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
