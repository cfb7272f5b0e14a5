#!/usr/bin/env python3
"""Fault drill: a child that floods stdout (or stderr).

For each case a fresh broker runs fmb-bench-child --flood KIND:BYTES: an echo of "FLOOD" makes the
child write BYTES (100 MB; --quick: 20 MB) of KIND before it answers (or after, or instead):

  long         one line far over --child-max-line-bytes (16 MiB)
  junk         1 KiB lines that are not JSON
  notify       valid notifications/message lines while the request is pending: the POST answer
               becomes an SSE stream of 100 MB, which this client reads
  notify-after the same after the answer, with no request pending and no GET stream open: the
               session's standalone stream buffers them (bounded replay buffer)
  stderr       1 KiB lines on stderr (rate-limited relay)
  long-exit    one huge line, then the child exits

Meanwhile a control load generator (4 sessions) runs on the same broker. Expected: the broker's
RSS stays bounded, the flooding session either keeps working or ends cleanly (JSON-RPC error, then
404), and the control sessions see no error.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from benchlib import (Drill, McpSession, Sampler, Target, c_child, fd_count, log, mib, rss_kib,  # noqa: E402
                      start_load, wait_load)

# RSS the broker may add while one child floods: the line limit (16 MiB) plus the SSE replay
# buffer (2 MiB) plus unsent socket output (8 MiB) plus allocator slack.
BOUND_KIB = 64 * 1024

CASES = [
    ("long", ["--flood", "long:{n}"], "one line over the limit"),
    ("junk", ["--flood", "junk:{n}"], "non-JSON lines"),
    ("notify", ["--flood", "notify:{n}"], "JSON notifications during the call (SSE answer, read)"),
    ("notify-after", ["--flood", "notify:{n}", "--flood-after"], "JSON notifications after the answer, no GET"),
    ("stderr", ["--flood", "stderr:{n}"], "stderr lines"),
    ("long-exit", ["--flood", "long:{n}", "--exit-on-flood"], "one huge line, then exit"),
]


def main() -> int:
    d = Drill("child-flood", "a child floods its output", __doc__)
    size = "20M" if d.args.quick else "100M"
    rows = ["| case | flood call | time (s) | bytes to client | follow-up echo | RSS before → peak → after | "
            "log growth | control calls / errors |", "|---|---|--:|--:|---|---|--:|---|"]
    cases = [c for c in CASES if c[0] in ("long", "notify", "long-exit")] if d.args.quick else CASES
    for case, flags, what in cases:
        child = c_child(d.paths, *[f.format(n=size) for f in flags])
        broker = Target(d.paths, "broker", child, d.work, name=f"flood-{case}").start()
        try:
            s = McpSession(broker.port, timeout=120)
            s.initialize()
            ok, _ = s.echo("before")
            time.sleep(0.3)
            rss0 = rss_kib(broker.pid)
            log0 = broker.logfile.stat().st_size
            control = start_load(d.paths, broker.url, ["--concurrency", "4", "--calls", "100", "--duration",
                                                        "4" if d.args.quick else "8", "--timeout", "30"])
            with Sampler(broker.pid, 0.05) as sampler:
                started = time.monotonic()
                try:
                    flood_ok, reply = s.echo("FLOOD")
                    flood = f"{reply.status}{' SSE' if 'event-stream' in reply.headers.get('content-type', '') else ''}"
                    if not flood_ok and b'"error"' in reply.body[-4096:]:
                        flood += " JSON-RPC error"
                    sent = reply.length
                    resumes, replayed = 0, 0
                    while reply.truncated and resumes < 50:
                        # Dropped mid-stream: resume with Last-Event-ID, as an SDK client does.
                        last = reply.last_event_id()
                        if not last:
                            break
                        resumes += 1
                        s.http.close()
                        reply = s.resume(last)
                        replayed += reply.length
                        flood_ok = reply.status == 200 and b"FLOOD" in reply.body
                    if resumes:
                        flood += (f", dropped after {sent:,} bytes; {resumes} GET Last-Event-ID resumes got "
                                  f"{replayed:,} bytes more, " + ("then the answer" if flood_ok else "no answer"))
                except (ConnectionError, OSError) as e:
                    flood_ok, flood, sent = False, f"connection: {e}", 0
                elapsed = time.monotonic() - started
                if case == "notify-after":
                    time.sleep(3 if d.args.quick else 8)  # the flood follows the answer
                s.http.close()
                s.next_id += 1
                try:
                    after_ok, after = s.echo("after")
                    follow = "answered" if after_ok else f"{after.status}"
                except (ConnectionError, OSError) as e:
                    after_ok, follow = False, f"connection: {e}"
                rc = wait_load(control)
            time.sleep(0.5)
            rss1 = rss_kib(broker.pid)
            log_growth = broker.logfile.stat().st_size - log0
            alive = broker.alive() and broker.healthy()
            clean_end = (case == "long-exit" and "JSON-RPC error" in flood and follow == "404")
            d.data[case] = dict(flood=flood, sent=sent, elapsed=elapsed, follow=follow, rss0=rss0,
                                peak=sampler.peak_rss, rss1=rss1, log_growth=log_growth, control=rc,
                                fds=fd_count(broker.pid))
            rows.append(f"| {case}: {what} | {flood} | {elapsed:.1f} | {sent:,} | {follow} | {mib(rss0)} → "
                        f"{mib(sampler.peak_rss)} → {mib(rss1)} | {log_growth / 1024:,.0f} KiB | "
                        f"{rc['calls_ok']} / {rc['error_count']} |")
            d.check(f"{case}: RSS bounded", sampler.peak_rss - rss0 <= BOUND_KIB,
                    f"+{mib(sampler.peak_rss - rss0)} (bound {mib(BOUND_KIB)})")
            d.check(f"{case}: session keeps working or ends cleanly", (flood_ok and after_ok) or clean_end,
                    f"flood call {flood}, then {follow}")
            d.check(f"{case}: control sessions undisturbed", rc["error_count"] == 0, f"errors {rc['errors']}")
            d.check(f"{case}: broker alive", alive)
            s.close()
        finally:
            broker.stop()
    d.section("\n".join([f"Children: `fmb-bench-child --flood KIND:{size}` (see the script); broker defaults "
                         "(`--child-max-line-bytes 16MiB`). Control: `fmb-bench-load http --concurrency 4 "
                         "--calls 100`.", ""] + rows))
    return d.finish()


if __name__ == "__main__":
    sys.exit(main())
