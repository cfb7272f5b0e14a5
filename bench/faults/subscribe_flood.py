#!/usr/bin/env python3
"""Issue 11, item 3: one signed-in user must not stall everyone.

A broker runs the test MCP server (tests/fakes/mcp-test-server) as its child. One session POSTs
batches of `resources/subscribe`, each with distinct URIs; meanwhile a second thread asks
GET /healthz every 20 ms and a second session calls `ping`. For each POST this prints the broker's
CPU (utime+stime from /proc/PID/stat, before and after the POST), the wall time, the answer, the
slowest /healthz and `ping` seen during it, and the broker's RSS.

  bench/faults/subscribe_flood.py --broker build/bin/forgejo-mcp-brokerd \\
      --child build/tests/bin/fmb-test-mcp-server [--posts 3] [--batch 30000] [-- BROKER FLAGS]

Run it once with the binary before the change and once after; docs/limits.md has the numbers.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from benchlib import Child, McpSession, Paths, Target, cpu_seconds, rss_kib  # noqa: E402


class Prober(threading.Thread):
    """Times GET /healthz on its own connection, and a `ping` in a second session, every 20 ms."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.session = McpSession(port, timeout=120)
        self.session.initialize()
        self.health = McpSession(port, timeout=120)
        self.samples: list[tuple[float, float, float]] = []  # (start, healthz s, ping s)
        self.stopped = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopped.is_set():
            n += 1
            start = time.monotonic()
            self.health.http.request("GET", b"", {}, path="/healthz")
            mid = time.monotonic()
            self.session.post({"jsonrpc": "2.0", "id": f"probe-{n}", "method": "ping"})
            end = time.monotonic()
            self.samples.append((start, mid - start, end - mid))
            self.stopped.wait(0.02)

    def worst(self, since: float, until: float) -> tuple[float, float]:
        inside = [s for s in self.samples if since <= s[0] <= until] or [(0.0, 0.0, 0.0)]
        return max(s[1] for s in inside), max(s[2] for s in inside)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--child", required=True, help="fmb-test-mcp-server")
    parser.add_argument("--posts", type=int, default=3)
    parser.add_argument("--batch", type=int, default=30000, help="resources/subscribe per POST")
    parser.add_argument("--label", default="")
    parser.add_argument("broker_args", nargs="*", help="extra daemon flags (after --)")
    args = parser.parse_args()

    paths = Paths(Path(args.broker), Path(args.child).parent)
    work = Path(tempfile.mkdtemp(prefix="fmb-subscribe-flood-"))
    broker = Target(paths, "broker", Child("test MCP server", [args.child]), work, name="broker",
                    max_sessions=10, extra_args=args.broker_args).start()
    print(f"{args.label} broker: {broker.cmdline}", file=sys.stderr)
    rows = ["| POST | answer | broker CPU (s) | wall (s) | slowest /healthz (ms) | slowest ping, other "
            "session (ms) | RSS after (MiB) |", "|--:|---|--:|--:|--:|--:|--:|"]
    try:
        flooder = McpSession(broker.port, timeout=600)
        assert flooder.initialize().status == 200
        prober = Prober(broker.port)
        prober.start()
        # The noise floor: the slowest probes while nothing else happens.
        quiet = time.monotonic()
        idle_cpu = cpu_seconds(broker.pid)
        time.sleep(3)
        health, ping = prober.worst(quiet, time.monotonic() - 0.1)
        rows.append(f"| idle 3 s | – | {cpu_seconds(broker.pid) - idle_cpu:.2f} | 3.00 | "
                    f"{health * 1000:.0f} | {ping * 1000:.0f} | {rss_kib(broker.pid) / 1024:.0f} |")
        uri = 0
        for post in range(1, args.posts + 1):
            batch = []
            for _ in range(args.batch):
                uri += 1
                batch.append({"jsonrpc": "2.0", "id": uri, "method": "resources/subscribe",
                              "params": {"uri": f"repo://bench/{uri}"}})
            body = json.dumps(batch).encode()
            cpu0 = cpu_seconds(broker.pid)
            start = time.monotonic()
            reply = flooder.http.request("POST", body, flooder.headers())
            end = time.monotonic()
            cpu1 = cpu_seconds(broker.pid)
            time.sleep(0.1)  # a probe that started inside the POST has finished
            health, ping = prober.worst(start, end)
            answer = f"{reply.status}"
            if reply.status == 200:
                text = reply.body.decode(errors="replace")
                errors = text.count('"error"')
                answer += f", {args.batch - errors} subscribed, {errors} refused" if errors else ", all subscribed"
            else:
                answer += " " + json.loads(reply.body).get("error", {}).get("message", "")[:60]
            rows.append(f"| {post} | {answer} | {cpu1 - cpu0:.2f} | {end - start:.2f} | {health * 1000:.0f} | "
                        f"{ping * 1000:.0f} | {rss_kib(broker.pid) / 1024:.0f} |")
            print(rows[-1], file=sys.stderr)
        prober.stopped.set()
        prober.join(30)
    finally:
        broker.stop()
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
