#!/usr/bin/env python3
"""Fault drill: slow and vanished HTTP clients.

While a control load generator (8 sessions) runs on the same broker:

  slowloris      N connections send a request head one byte per second, never finishing it
                 (the broker answers 408 after 30 s: the full run waits for that)
  endless head   one connection sends request-head bytes as fast as it can, up to 16 MiB
  GET not read   a session's GET stream is opened and never read, then its child floods 100 MB
                 (--quick: 20 MB) of notifications to it (fmb-bench-child --flood-after)
  POST not read  a call whose SSE answer carries 100 MB of notifications is sent, never read
  disconnects    clients that go away mid-request: half a body; an initialize; a tools/call

Expected: bounded broker memory and descriptors, the control sessions see no error, the broker
keeps serving. An initialize whose client vanished still makes a session (the child is started
before the answer exists); it stays until the idle timeout — counted, not failed.
"""
from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from benchlib import (Drill, McpSession, Sampler, Target, c_child, child_states, fd_count, log,  # noqa: E402
                      log_count, mib, raw_socket, rss_kib, start_load, stop_load)

BOUND_KIB = 64 * 1024
INIT = (b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
        b'"capabilities":{},"clientInfo":{"name":"gone","version":"1"}}}')


def post_head(port: int, length: int, session: str = "") -> bytes:
    head = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json, text/event-stream\r\nContent-Length: {length}\r\n")
    if session:
        head += f"Mcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-06-18\r\n"
    return (head + "\r\n").encode()


def closed_by_peer(s: socket.socket) -> bool:
    try:
        s.setblocking(False)
        data = s.recv(65536)
        return data == b"" or data.startswith(b"HTTP/1.1 408") or data.startswith(b"HTTP/1.1 4")
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.setblocking(True)


def slowloris(d: Drill, broker: Target, rows: list[str]) -> None:
    n, seconds = (50, 6) if d.args.quick else (200, 40)
    socks, opened = [], time.monotonic()
    for _ in range(n):
        s = raw_socket(broker.port)
        s.sendall(f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{broker.port}\r\nX-Slow: ".encode())
        socks.append(s)
    closed_at: dict[int, float] = {}
    rss0 = rss_kib(broker.pid)
    while time.monotonic() - opened < seconds and len(closed_at) < n:
        for i, s in enumerate(socks):
            if i in closed_at:
                continue
            if closed_by_peer(s):
                closed_at[i] = time.monotonic() - opened
                continue
            try:
                s.send(b"a")
            except OSError:
                closed_at[i] = time.monotonic() - opened
        time.sleep(1)
    for s in socks:
        s.close()
    times = sorted(closed_at.values())
    when = f"{times[0]:.0f}–{times[-1]:.0f} s" if times else "–"
    rows.append(f"| slowloris: {n} connections, 1 byte/s for up to {seconds} s | {len(closed_at)} closed by the "
                f"broker ({when}; 408 after 30 s) | RSS {mib(rss0)} → {mib(rss_kib(broker.pid))} |")
    d.data["slowloris"] = dict(n=n, closed=len(closed_at), times=times)
    if not d.args.quick:
        d.check("slowloris connections closed by the broker", len(closed_at) == n,
                f"{len(closed_at)} of {n}, {when}")


def endless_head(d: Drill, broker: Target, rows: list[str]) -> None:
    s = raw_socket(broker.port, timeout=30)
    started = time.monotonic()
    s.sendall(f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{broker.port}\r\n".encode())
    sent, answer = 0, b""
    junk = b"X-Junk: " + b"j" * 1000 + b"\r\n"
    try:
        while sent < 16 * 1024 * 1024:
            s.sendall(junk)
            sent += len(junk)
    except OSError:
        pass
    rss = rss_kib(broker.pid)
    if d.args.quick:  # the 408 comes after 30 s: not worth the wait in a smoke run
        s.close()
        rows.append(f"| endless request head (1 KiB header lines) | {sent / 1048576:.1f} MiB taken, then the "
                    f"broker stopped reading (not waited for: --quick) | RSS {mib(rss)} |")
        d.check("endless request head: bounded memory", rss - d.data["rss_a0"] <= BOUND_KIB, f"RSS {mib(rss)}")
        return
    try:
        s.settimeout(40)
        answer = s.recv(200)
    except OSError:
        pass
    waited = time.monotonic() - started
    s.close()
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "closed without an answer"
    rows.append(f"| endless request head (1 KiB header lines) | {status} {waited:.0f} s after the request started; "
                f"the broker stopped reading, the client stalled at {sent / 1048576:.1f} MiB sent | RSS {mib(rss)} |")
    d.data["endless_head"] = dict(sent=sent, status=status, waited=waited)
    d.check("endless request head refused, memory bounded", bool(answer) and rss - d.data["rss_a0"] <= BOUND_KIB,
            f"{status}, RSS {mib(rss)}")
    oversized_body(d, broker, rows)  # not in --quick: the answer takes up to 30 s


def oversized_body(d: Drill, broker: Target, rows: list[str]) -> None:
    """An 8 MiB body (over --max-body-bytes 4MiB): README promises 413."""
    s = raw_socket(broker.port, timeout=40)
    size = 8 * 1024 * 1024
    s.sendall(post_head(broker.port, size))
    sent, answer, waited = 0, b"", 0.0
    started = time.monotonic()
    try:
        s.settimeout(10)
        chunk = b"x" * 65536
        while sent < size:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    try:
        s.settimeout(40)
        answer = s.recv(200)
    except OSError:
        pass
    waited = time.monotonic() - started
    s.close()
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "closed without an answer"
    rows.append(f"| 8 MiB body (limit 4 MiB) | {status} {waited:.0f} s after the request started; "
                f"{sent / 1048576:.1f} MiB of it sent | RSS {mib(rss_kib(broker.pid))} |")
    d.data["oversized_body"] = dict(sent=sent, status=status, waited=waited)
    d.check("body over --max-body-bytes refused at once with 413 (README)",
            status.startswith("HTTP/1.1 413") and waited < 5, f"{status} after {waited:.0f} s")


def unread_get(d: Drill, broker: Target, rows: list[str]) -> None:
    s = McpSession(broker.port)
    s.initialize()
    g = raw_socket(broker.port, rcvbuf=4096, timeout=30)
    g.sendall((f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{broker.port}\r\nAccept: text/event-stream\r\n"
               f"Mcp-Session-Id: {s.id}\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n").encode())
    time.sleep(0.3)
    drops0 = log_count(broker, "is not reading its stream")
    rss0 = rss_kib(broker.pid)
    with Sampler(broker.pid, 0.05) as sampler:
        ok, _ = s.echo("FLOOD")  # answered, then the child floods the standalone (GET) stream
        deadline = time.monotonic() + (20 if d.args.quick else 60)
        while time.monotonic() < deadline and log_count(broker, "is not reading its stream") == drops0:
            time.sleep(0.2)
        time.sleep(2 if d.args.quick else 5)  # the rest of the flood
    dropped = log_count(broker, "is not reading its stream") > drops0
    after_ok, _ = s.echo("after")
    g.close()
    s.close()
    rows.append(f"| GET stream never read, child floods it | {'dropped by the broker' if dropped else 'not dropped'}; "
                f"the session answers afterwards: {after_ok} | RSS {mib(rss0)} → peak {mib(sampler.peak_rss)} |")
    d.data["unread_get"] = dict(dropped=dropped, after=after_ok, rss0=rss0, peak=sampler.peak_rss)
    d.check("unread GET stream: bounded memory", sampler.peak_rss - rss0 <= BOUND_KIB,
            f"+{mib(sampler.peak_rss - rss0)}")
    d.check("unread GET stream: session keeps working", ok and after_ok)


def unread_post(d: Drill, broker: Target, rows: list[str]) -> None:
    s = McpSession(broker.port)
    s.initialize()
    p = raw_socket(broker.port, rcvbuf=4096, timeout=30)
    body = b'{"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"echo","arguments":{"text":"FLOOD"}}}'
    rss0 = rss_kib(broker.pid)
    drops0 = log_count(broker, "is not reading its stream")
    with Sampler(broker.pid, 0.05) as sampler:
        p.sendall(post_head(broker.port, len(body), s.id) + body)
        deadline = time.monotonic() + (20 if d.args.quick else 60)
        while time.monotonic() < deadline and log_count(broker, "is not reading its stream") == drops0:
            time.sleep(0.2)
        time.sleep(2 if d.args.quick else 5)
    dropped = log_count(broker, "is not reading its stream") > drops0
    after_ok, _ = s.echo("after")
    p.close()
    s.close()
    rows.append(f"| POST answer (SSE, flood) never read | {'dropped by the broker' if dropped else 'not dropped'}; "
                f"the session answers afterwards: {after_ok} | RSS {mib(rss0)} → peak {mib(sampler.peak_rss)} |")
    d.data["unread_post"] = dict(dropped=dropped, after=after_ok, rss0=rss0, peak=sampler.peak_rss)
    d.check("unread POST stream: bounded memory", sampler.peak_rss - rss0 <= BOUND_KIB,
            f"+{mib(sampler.peak_rss - rss0)}")
    d.check("unread POST stream: session keeps working", after_ok)


def disconnects(d: Drill, broker: Target, rows: list[str]) -> None:
    n = 100 if d.args.quick else 500
    fds0, kids0 = fd_count(broker.pid), len(child_states(broker.pid))
    for _ in range(n):  # half a body
        s = raw_socket(broker.port)
        s.sendall(post_head(broker.port, 1000) + b'{"jsonrpc":"2.0",')
        s.close()
    s = McpSession(broker.port)
    s.initialize()
    for i in range(n):  # a whole tools/call, gone before its answer
        c = raw_socket(broker.port)
        body = (b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":'
                b'{"text":"gone"}}}' % (1000 + i))
        c.sendall(post_head(broker.port, len(body), s.id) + body)
        c.close()
    time.sleep(1)
    call_ok, _ = s.echo("still here")
    inits = n // 5
    for _ in range(inits):  # an initialize, gone before its answer
        c = raw_socket(broker.port)
        c.sendall(post_head(broker.port, len(INIT)) + INIT)
        c.close()
    time.sleep(3)
    fds1, kids1 = fd_count(broker.pid), len(child_states(broker.pid))
    s.delete()
    s.close()
    orphans = kids1 - kids0 - 1  # minus the session above
    rows.append(f"| disconnects: {n} × half a body, {n} × tools/call, {inits} × initialize | the session answers "
                f"afterwards: {call_ok}; fds {fds0} → {fds1}; children +{orphans} (≈ one per vanished initialize: "
                f"a session the client never learnt of, live until the idle timeout) | RSS {mib(rss_kib(broker.pid))} |")
    d.data["disconnects"] = dict(n=n, call_ok=call_ok, fds0=fds0, fds1=fds1, orphans=orphans)
    d.check("vanished clients: session keeps working", call_ok)
    # Each orphaned session holds 4 descriptors (3 pipes + pidfd); nothing else may stay open.
    # The 8 control sessions come and go meanwhile: up to 8 children (32 fds) either way.
    d.check("vanished clients: no descriptor leak", fds1 - fds0 <= 4 * (kids1 - kids0) + 4 * 8 + 2,
            f"{fds1 - fds0} new fds for {kids1 - kids0} more live children")


def main() -> int:
    d = Drill("slow-clients", "slow and vanished HTTP clients", __doc__)
    size = "20M" if d.args.quick else "100M"
    rows = ["| case | outcome | memory |", "|---|---|---|"]
    controls = []
    a = Target(d.paths, "broker", c_child(d.paths, "--flood", f"notify:{size}", "--flood-after"), d.work,
               name="slow-a").start()
    b = Target(d.paths, "broker", c_child(d.paths, "--flood", f"notify:{size}"), d.work, name="slow-b").start()
    try:
        rss_a0 = rss_kib(a.pid)
        d.data["rss_a0"] = rss_a0
        control_args = ["--concurrency", "8", "--calls", "100", "--duration", "3600", "--timeout", "30"]
        ca, cb = start_load(d.paths, a.url, control_args), start_load(d.paths, b.url, control_args)
        with Sampler(a.pid, 0.1) as sampler:
            threads = [threading.Thread(target=f, args=(d, a, rows)) for f in (slowloris, endless_head)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            unread_get(d, a, rows)
            disconnects(d, a, rows)
        unread_post(d, b, rows)
        controls = [stop_load(ca), stop_load(cb)]
        d.data.update(controls=controls, rss_a0=rss_a0, peak_a=sampler.peak_rss)
        for name, c in zip(("a", "b"), controls):
            d.check(f"control sessions undisturbed (broker {name})", c["error_count"] == 0 and c["calls_ok"] > 0,
                    f"{c['calls_ok']} calls, p99 {c['latency_us']['p99']:.0f} µs, errors {c['errors']}")
        d.check("brokers alive", a.alive() and a.healthy() and b.alive() and b.healthy())
    finally:
        ea, eb = a.stop(), b.stop()
    d.check("brokers exit 0 on SIGTERM", ea == 0 and eb == 0, f"exit {ea}, {eb}")
    d.section("\n".join([f"Broker A: `{a.cmdline}`", "", f"Broker B: `{b.cmdline}`", "",
                         f"Control load on each: `{controls[0]['cmd'] if controls else ''}` (stopped with SIGTERM).",
                         f"Broker A RSS {mib(d.data.get('rss_a0', 0))}, peak {mib(d.data.get('peak_a', 0))} "
                         "over all its cases.", ""] + rows))
    return d.finish()


if __name__ == "__main__":
    sys.exit(main())
