#!/usr/bin/env python3
"""Connection flood against a running broker (docs/limits.md, "connection flood").

Opens N TCP connections that never send a byte, then times GET /healthz on a
fresh connection (and a second one from another loopback address), then
counts how many of the flood connections the broker still holds open.

  bench/connection-flood.py PORT [N] [SOURCE_ADDRESSES]
"""
import select
import socket
import sys
import time

port = int(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1100
sources = int(sys.argv[3]) if len(sys.argv) > 3 else 1

flood = []
failed = 0
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((f"127.0.0.{2 + i % sources}", 0))
    s.settimeout(3)
    try:
        s.connect(("127.0.0.1", port))
        flood.append(s)
    except OSError:
        failed += 1
        s.close()
print(f"opened {len(flood)} idle connections ({failed} failed to connect)")


def healthz(source):
    start = time.monotonic()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(30)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"ok\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        status = data.split(b"\r\n", 1)[0].decode(errors="replace")
    except OSError as error:
        status = f"error: {error}"
    finally:
        s.close()
    return status, (time.monotonic() - start) * 1000


for source in ("127.0.0.1", "127.0.0.250"):
    status, ms = healthz(source)
    print(f"/healthz from {source}: {status!r} in {ms:.1f} ms")


def held():
    poller = select.poll()
    for s in flood:
        poller.register(s, select.POLLIN)
    closed = 0
    by_fd = {s.fileno(): s for s in flood}
    for fd, _ in poller.poll(500):
        try:
            if by_fd[fd].recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                closed += 1
        except OSError:
            closed += 1
    return len(flood) - closed


print(f"still held by the broker: {held()} of {len(flood)}")
if len(sys.argv) > 4:
    wait = float(sys.argv[4])
    time.sleep(wait)
    print(f"after {wait:.0f} s more: {held()} held")
