#!/usr/bin/env python3
"""A registration flood against /oauth/register (issue 11), from one address.

Starts forgejo-mcp-brokerd in OAuth mode on 127.0.0.1 with a fresh state
directory, sends COUNT registrations over one keep-alive connection, and
prints how many were accepted or refused (by status) and how big the store
(broker.sqlite3 with its -wal and -shm files) was before and after.

  bench/register/flood.py --broker build/bin/forgejo-mcp-brokerd [--count 2000]
      [--body big|small] [--linger SECONDS] [-- extra broker flags, e.g. --register-rate 0]

--body big: ~20 KiB, ten redirect URIs of 2,000 characters (the issue's flood);
--body small: ~100 bytes, a valid registration.
Forgejo is never contacted: registration does not need it.
"""
import argparse
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def store_bytes(state):
    total = 0
    for name in os.listdir(state):
        if name.startswith("broker.sqlite3"):
            total += os.path.getsize(os.path.join(state, name))
    return total


def body_of(kind, i):
    if kind == "small":
        return json.dumps({"client_name": f"flood {i}", "redirect_uris": ["http://127.0.0.1:9/cb"]})
    uris = [f"https://flood.example/{i}/{n}/" + "x" * (2000 - 40) for n in range(10)]
    return json.dumps({"client_name": f"flood {i}", "redirect_uris": uris})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--body", choices=("big", "small"), default="big")
    parser.add_argument("--linger", type=float, default=0,
                        help="seconds the broker keeps running after the flood (to see the purge)")
    parser.add_argument("extra", nargs="*", help="more broker flags (after --)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        state = os.path.join(tmp, "state")
        secret = os.path.join(tmp, "secret")
        with open(secret, "w") as f:
            f.write("bench-secret")
        os.chmod(secret, 0o600)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [args.broker, "--auth", "oauth", "--listen", f"127.0.0.1:{port}", "--public-url", url,
                   "--forgejo-url", "http://127.0.0.1:9", "--forgejo-client-id", "bench",
                   "--forgejo-client-secret-file", secret, "--state-dir", state,
                   "--admin-socket", os.path.join(tmp, "admin.sock"), "--child-command", "/bin/cat"] + args.extra
        log = open(os.path.join(tmp, "broker.log"), "w+")
        broker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.time() + 20
            while True:
                log.seek(0)
                if "listening on" in log.read():
                    break
                if broker.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    sys.exit("the broker did not start:\n" + log.read())
                time.sleep(0.05)
            before = store_bytes(state)
            statuses = {}
            retry_after = {}
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            sample = len(body_of(args.body, 0))
            start = time.monotonic()
            for i in range(args.count):
                connection.request("POST", "/oauth/register", body=body_of(args.body, i),
                                   headers={"Content-Type": "application/json"})
                answer = connection.getresponse()
                answer.read()
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
                if answer.getheader("Retry-After"):
                    retry_after.setdefault(answer.status, answer.getheader("Retry-After"))
                if answer.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.monotonic() - start
            connection.close()
            time.sleep(args.linger)
            after = store_bytes(state)
        finally:
            broker.terminate()
            broker.wait(20)
        stopped = store_bytes(state)
        with sqlite3.connect(os.path.join(state, "broker.sqlite3")) as db:
            clients = db.execute("SELECT count(*) FROM clients").fetchone()[0]
        shown = ["bench/register/flood.py", "--count", str(args.count), "--body", args.body]
        if args.linger:
            shown += ["--linger", str(args.linger)]
        print("command:", " ".join(shown + (["--"] + args.extra if args.extra else [])))
        print(f"requests: {args.count} x {sample} bytes from 127.0.0.1 in {elapsed:.2f} s")
        for status in sorted(statuses):
            extra = f" (first Retry-After: {retry_after[status]} s)" if status in retry_after else ""
            print(f"  HTTP {status}: {statuses[status]}{extra}")
        print(f"store (database + WAL): {before} bytes before, {after} bytes after "
              f"({(after - before) / 1048576:.2f} MiB more); {stopped} bytes after the broker stopped; "
              f"{clients} clients stored")


if __name__ == "__main__":
    main()
