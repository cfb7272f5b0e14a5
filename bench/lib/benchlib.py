"""Shared pieces of bench/run.sh and bench/faults/: the programs under test, /proc readings,
the load generator, and a small raw HTTP/1.1 client for the fault drills.

Standard library only. Everything listens on and talks to 127.0.0.1.
"""
from __future__ import annotations

import datetime
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[2]


def log(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, file=sys.stderr, flush=True)


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ---- the programs -----------------------------------------------------------------------------

@dataclass
class Paths:
    broker: Path
    tools: Path  # folder with fmb-bench-child and fmb-bench-load
    node: str = "node"

    @property
    def child(self) -> Path:
        return self.tools / "fmb-bench-child"

    @property
    def load(self) -> Path:
        return self.tools / "fmb-bench-load"

    @property
    def supergateway(self) -> Path:
        return ROOT / "tests/e2e/node_modules/supergateway/dist/index.js"

    @property
    def everything(self) -> Path:
        return ROOT / "tests/e2e/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

    @property
    def loopback_only(self) -> Path:
        return ROOT / "tests/e2e/lib/loopback-only.cjs"

    @staticmethod
    def from_env() -> "Paths":
        broker = os.environ.get("FMB_BENCH_BROKER") or str(ROOT / "build-bench/bin/forgejo-mcp-brokerd")
        tools = os.environ.get("FMB_BENCH_TOOLS") or str(ROOT / "build-bench/bench-tools/bench/bin")
        return Paths(Path(broker), Path(tools), os.environ.get("FMB_BENCH_NODE", "node"))


@dataclass
class Child:
    """A stdio MCP server, as argv (direct stdio) and as one command line (gateways)."""
    name: str
    argv: list[str]
    arg_name: str = "text"  # the echo tool's string argument

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def c_child(paths: Paths, *extra: str) -> Child:
    return Child("C child (fmb-bench-child)", [str(paths.child), *extra])


def node_child(paths: Paths) -> Child:
    return Child("Node child (server-everything)", [paths.node, str(paths.everything), "stdio"], "message")


# ---- /proc --------------------------------------------------------------------------------------

def proc_stat(pid: int) -> list[str]:
    data = Path(f"/proc/{pid}/stat").read_text()
    return data[data.rfind(")") + 2:].split()  # [0] is field 3 (state)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process itself (fields 14 and 15; children excluded)."""
    rest = proc_stat(pid)
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def children_cpu_seconds(pid: int) -> float:
    """cutime + cstime: CPU of children it has reaped (fields 16 and 17)."""
    rest = proc_stat(pid)
    return (int(rest[13]) + int(rest[14])) / CLK_TCK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def child_states(pid: int) -> list[tuple[int, str]]:
    """(pid, state) of every direct child of pid."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            rest = proc_stat(int(entry))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(rest[1]) == pid:
            out.append((int(entry), rest[0]))
    return out


def zombies(pid: int) -> int:
    return sum(1 for _, state in child_states(pid) if state == "Z")


class Sampler:
    """Samples RSS and open fds of a process in the background; keeps the peaks."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.peak_rss = 0
        self.peak_fds = 0
        self.samples: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            try:
                rss, fds = rss_kib(self.pid), fd_count(self.pid)
            except (FileNotFoundError, ProcessLookupError):
                return
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_fds = max(self.peak_fds, fds)
            self.samples.append((time.monotonic() - start, rss, fds))
            self._stop.wait(self.interval)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ---- targets ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Target:
    """A running gateway in front of `child`: "broker" or "supergateway"."""

    def __init__(self, paths: Paths, kind: str, child: Child, workdir: Path, name: str | None = None,
                 max_sessions: int = 2000, extra_args: list[str] | None = None,
                 env: dict[str, str] | None = None):
        self.paths = paths
        self.kind = kind
        self.child = child
        self.name = name or kind
        self.workdir = workdir
        self.max_sessions = max_sessions
        self.extra_args = extra_args or []
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.logfile = workdir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def command(self) -> list[str]:
        if self.kind == "broker":
            return [str(self.paths.broker), "--auth", "none", "--listen", "127.0.0.1:0",
                    "--child-command", self.child.command, "--max-sessions", str(self.max_sessions),
                    "--admin-socket", str(self.workdir / f"{self.name}.admin.sock"), *self.extra_args]
        self.port = free_port()
        return [self.paths.node, str(self.paths.supergateway), "--stdio", self.child.command,
                "--outputTransport", "streamableHttp", "--stateful", "--port", str(self.port),
                "--streamableHttpPath", "/mcp", "--healthEndpoint", "/healthz",
                "--logLevel", "none", *self.extra_args]

    def start(self, timeout: float = 60) -> "Target":
        env = dict(os.environ)
        env.update(self.env)
        if self.kind == "supergateway":
            env["NODE_OPTIONS"] = (env.get("NODE_OPTIONS", "") + f" --require {self.paths.loopback_only}").strip()
        cmd = self.command()
        self.cmdline = shlex.join(cmd)
        logf = open(self.logfile, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.logfile}")
            if self.kind == "broker" and not self.port:
                for line in self.logfile.read_text(errors="replace").splitlines():
                    if "listening on http://127.0.0.1:" in line:
                        self.port = int(line.rsplit(":", 1)[1].strip())
            # The broker logs its port before the rest of its start can still fail.
            if self.port and self.healthy() and self.proc.poll() is None:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not come up within {timeout}s; see {self.logfile}")

    def healthy(self, timeout: float = 2) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def alive(self) -> bool:
        return bool(self.proc) and self.proc.poll() is None

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL after timeout; afterwards SIGKILL whatever is left of its group."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Children (supergateway puts each in its own group) are the target's to stop; this
        # only sweeps what a killed target left behind, by the pids we saw, never by name.
        return self.proc.returncode

    def log_lines(self) -> list[str]:
        return self.logfile.read_text(errors="replace").splitlines()

    def __enter__(self) -> "Target":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- the load generator -------------------------------------------------------------------------

def load_args(child: Child, concurrency: int, *, duration: float | None = None, sessions: int | None = None,
              calls: int = 1000, payload: int = 32, extra: list[str] | None = None) -> list[str]:
    args = ["--concurrency", str(concurrency), "--calls", str(calls), "--payload", str(payload),
            "--arg-name", child.arg_name]
    if duration is not None:
        args += ["--duration", str(duration)]
    if sessions is not None:
        args += ["--sessions", str(sessions)]
    return args + (extra or [])


def run_load(paths: Paths, mode: str, args: list[str], *, url: str | None = None, child: Child | None = None,
             timeout: float = 900) -> dict:
    cmd = [str(paths.load), mode]
    if url:
        cmd += ["--url", url]
    cmd += args
    if mode == "stdio":
        assert child
        cmd += ["--", *child.argv]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"load generator gave no result ({proc.returncode}): {proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    result["cmd"] = shlex.join(cmd)
    return result


class IdleHolder:
    """fmb-bench-load idle: opens `count` sessions and holds them until close()."""

    def __init__(self, paths: Paths, url: str, count: int, concurrency: int = 16, delete_on_exit: bool = True,
                 timeout: float = 120):
        self.cmd = [str(paths.load), "idle", "--url", url, "--sessions", str(count), "--concurrency",
                    str(concurrency), "--timeout", str(timeout)]
        if delete_on_exit:
            self.cmd.append("--delete-on-exit")
        self.proc: subprocess.Popen | None = None
        self.opened: dict = {}
        self.deleted: dict = {}

    def open(self) -> dict:
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("idle holder ended early: " + self.proc.stderr.read()[-2000:])
        self.opened = json.loads(line)
        self.opened["cmd"] = shlex.join(self.cmd)
        return self.opened

    def close(self, timeout: float = 300) -> dict:
        if not self.proc:
            return {}
        out, _ = self.proc.communicate(input="", timeout=timeout)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        self.deleted = json.loads(lines[-1]) if lines else {}
        self.proc = None
        return self.deleted

    def __enter__(self) -> "IdleHolder":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- a raw HTTP/1.1 client (fault drills) -----------------------------------------------------

@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""  # the first and last 256 KiB of it when it was longer
    length: int = 0
    closed: bool = False
    truncated: bool = False  # the connection ended inside the body

    def last_event_id(self) -> str:
        at = self.body.rfind(b"\nid: ")
        if at < 0:
            at = self.body.rfind(b"id: ") - 1 if self.body.startswith(b"id: ") else -1
        if at < -1:
            return ""
        end = self.body.find(b"\n", at + 1)
        return self.body[at + 5:end if end > 0 else None].decode(errors="replace").strip()


class Http:
    """One keep-alive connection; bodies are streamed, so a 100 MB answer costs no memory here."""

    KEEP = 256 * 1024

    def __init__(self, port: int, timeout: float = 60):
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        self.buf = b""

    def close(self) -> None:
        if self.sock:
            self.sock.close()
        self.sock = None

    def send_raw(self, data: bytes) -> None:
        if not self.sock:
            self.connect()
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _need(self, marker: bytes) -> int:
        while True:
            at = self.buf.find(marker)
            if at >= 0:
                return at
            if not self._fill():
                raise ConnectionError("connection closed")

    def request(self, method: str, body: bytes = b"", headers: dict[str, str] | None = None,
                path: str = "/mcp") -> Reply:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body or method == "POST":
            head += f"Content-Length: {len(body)}\r\n"
        self.send_raw(head.encode() + b"\r\n" + body)
        return self.read_reply(method)

    def read_reply(self, method: str = "POST") -> Reply:
        reply = Reply()
        end = self._need(b"\r\n\r\n")
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        reply.status = int(lines[0].split()[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            reply.headers[name.strip().lower()] = value.strip()
        head = bytearray()
        tail = bytearray()

        def take(data: bytes) -> None:
            nonlocal tail
            reply.length += len(data)
            if len(head) < self.KEEP:
                head.extend(data[: self.KEEP - len(head)])
            tail.extend(data)
            if len(tail) > 2 * self.KEEP:
                del tail[: len(tail) - self.KEEP]

        try:
            self._read_body(method, reply, take)
        except (ConnectionError, OSError):
            reply.truncated = reply.closed = True
        reply.body = bytes(head) if reply.length <= self.KEEP else bytes(head) + b"..." + bytes(tail[-self.KEEP:])
        if "close" in reply.headers.get("connection", "").lower() or reply.closed:
            self.close()
        return reply

    def _read_body(self, method: str, reply: Reply, take) -> None:
        if method == "HEAD" or reply.status in (204, 304):
            pass
        elif "chunked" in reply.headers.get("transfer-encoding", ""):
            while True:
                end = self._need(b"\r\n")
                size = int(self.buf[:end].split(b";")[0], 16)
                self.buf = self.buf[end + 2:]
                if size == 0:
                    while True:  # trailers, up to the empty line
                        end = self._need(b"\r\n")
                        line, self.buf = self.buf[:end], self.buf[end + 2:]
                        if not line:
                            break
                    break
                while size > 0:
                    if not self.buf and not self._fill():
                        raise ConnectionError("connection closed in a chunk")
                    part = self.buf[:size]
                    take(part)
                    self.buf = self.buf[len(part):]
                    size -= len(part)
                self._need(b"\r\n")
                self.buf = self.buf[2:]
        elif "content-length" in reply.headers:
            left = int(reply.headers["content-length"])
            while left > 0:
                if not self.buf and not self._fill():
                    raise ConnectionError("connection closed in a body")
                part = self.buf[:left]
                take(part)
                self.buf = self.buf[len(part):]
                left -= len(part)
        else:
            while True:
                take(self.buf)
                self.buf = b""
                if not self._fill():
                    reply.closed = True
                    break


class McpSession:
    """Streamable HTTP by hand: initialize, initialized, tools/call echo, DELETE."""

    def __init__(self, port: int, timeout: float = 60, protocol: str = "2025-06-18"):
        self.http = Http(port, timeout)
        self.protocol = protocol
        self.id = ""
        self.next_id = 1

    def headers(self) -> dict[str, str]:
        h = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if self.id:
            h["Mcp-Session-Id"] = self.id
            h["MCP-Protocol-Version"] = self.protocol
        return h

    def post(self, message: dict) -> Reply:
        return self.http.request("POST", json.dumps(message).encode(), self.headers())

    def initialize(self) -> Reply:
        reply = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                           "params": {"protocolVersion": self.protocol, "capabilities": {},
                                      "clientInfo": {"name": "fmb-bench-faults", "version": "1"}}})
        self.id = reply.headers.get("mcp-session-id", "")
        if reply.status == 200 and self.id:
            self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return reply

    def echo(self, text: str) -> tuple[bool, Reply]:
        self.next_id += 1
        reply = self.post({"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call",
                           "params": {"name": "echo", "arguments": {"text": text}}})
        ok = reply.status == 200 and text.encode() in reply.body and b'"error"' not in reply.body[-4096:]
        return ok, reply

    def resume(self, last_event_id: str) -> Reply:
        """GET with Last-Event-ID: what the stream held after that event (MCP 2025-11-25 resumability)."""
        h = self.headers()
        h.pop("Content-Type")
        h["Accept"] = "text/event-stream"
        h["Last-Event-ID"] = last_event_id
        return self.http.request("GET", b"", h)

    def delete(self) -> Reply:
        return self.http.request("DELETE", b"", self.headers())

    def close(self) -> None:
        self.http.close()


# ---- small statistics ---------------------------------------------------------------------------

def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "–"
    if abs(value) >= 100 and digits > 0:
        digits = 0
    return f"{value:,.{digits}f}{unit}"


def ratio(a: float | None, b: float | None, digits: int = 2) -> str:
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.{digits}f}×"


# ---- fault drills ------------------------------------------------------------------------------

class Drill:
    """Collects one drill's checks and tables; writes fault-<name>.md/.json into --out."""

    def __init__(self, name: str, title: str, description: str):
        import argparse
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--out", default=str(ROOT / "build-bench/bench-results/faults"))
        parser.add_argument("--quick", action="store_true", help="a short smoke version")
        parser.add_argument("--soak-minutes", type=float, default=10.0)
        self.args = parser.parse_args()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: targets get stopped
        self.name = name
        self.title = title
        self.paths = Paths.from_env()
        self.out = Path(self.args.out)
        self.work = self.out / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.started = now_utc()
        self.checks: list[tuple[str, bool, str]] = []
        self.sections: list[str] = []
        self.data: dict = {}
        self.command = "bench/faults/" + Path(sys.argv[0]).name + " " + " ".join(sys.argv[1:])

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((what, bool(ok), detail))
        log(f"[{self.name}] {'ok  ' if ok else 'FAIL'} {what} {detail}")
        return bool(ok)

    def section(self, text: str) -> None:
        self.sections.append(text)

    def finish(self) -> int:
        failed = [c for c in self.checks if not c[1]]
        lines = [f"### Fault drill: {self.title}", "",
                 f"`{self.command.strip()}` — {self.started}; "
                 f"{len(self.checks) - len(failed)} of {len(self.checks)} checks held.", ""]
        lines += self.sections
        lines += ["", "| check | held | detail |", "|---|---|---|"]
        for what, ok, detail in self.checks:
            lines.append(f"| {what} | {'yes' if ok else 'NO'} | {detail} |")
        (self.out / f"fault-{self.name}.md").write_text("\n".join(lines) + "\n")
        (self.out / f"fault-{self.name}.json").write_text(json.dumps(
            {"checks": self.checks, "data": self.data, "command": self.command}, indent=1, default=str))
        log(f"[{self.name}] {len(self.checks) - len(failed)}/{len(self.checks)} checks held; "
            f"{self.out / ('fault-' + self.name + '.md')}")
        return 1 if failed else 0


def start_load(paths: Paths, url: str, args: list[str]) -> subprocess.Popen:
    """A load generator in the background; finish it with wait_load()."""
    cmd = [str(paths.load), "http", "--url", url, *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    proc.cmdline = shlex.join(cmd)  # type: ignore[attr-defined]
    return proc


def wait_load(proc: subprocess.Popen, timeout: float = 900) -> dict:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"load generator gave no result: {err[-2000:]}")
    result = json.loads(lines[-1])
    result["cmd"] = proc.cmdline  # type: ignore[attr-defined]
    return result


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def stop_load(proc: subprocess.Popen, timeout: float = 120) -> dict:
    """Ends a background load generator now (SIGTERM: it DELETEs its sessions and reports)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return wait_load(proc, timeout)


def raw_socket(port: int, rcvbuf: int | None = None, timeout: float = 10) -> socket.socket:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def log_count(target: "Target", needle: str) -> int:
    return sum(1 for line in target.log_lines() if needle in line)
