"""Issue 14: the cluster benchmark. Two brokers on PostgreSQL behind HAProxy (the configuration of
docs/deployment.md) against one broker directly, and one broker on SQLite, all in OAuth mode in front
of fmb-fake-forgejo, in one run:

- echo calls/s at 16 sessions and their latency through HAProxy vs one broker directly (the extra hop);
- the bearer check's cost: the same calls at one broker on PostgreSQL vs one on SQLite (every /mcp
  request carries the bearer token and is checked);
- sign-ins per second (register, authorize, consent, the fake Forgejo, callback, token) on
  PostgreSQL vs SQLite.

Needs the Debian packages postgresql and haproxy, and fmb-fake-forgejo from a build with tests
(--test-bin, default build/tests/bin)."""
from __future__ import annotations

import base64
import hashlib
import html
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

from benchlib import ROOT, child_states, cpu_seconds, free_port, load_args, log, median, rss_kib, run_load


def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name),
                   reverse=True)
    return found[0].parent if found else None


def missing_parts(test_bin: Path) -> list[str]:
    missing = []
    if not pg_bin():
        missing.append("PostgreSQL (Debian package postgresql)")
    if not shutil.which("haproxy"):
        missing.append("haproxy (Debian package haproxy)")
    if not (test_bin / "fmb-fake-forgejo").exists():
        missing.append(f"{test_bin}/fmb-fake-forgejo (a build with tests)")
    return missing


def wait_log(proc: subprocess.Popen, logfile: Path, pattern: str, timeout: float = 30) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, logfile.read_text(errors="replace")) if logfile.exists() else None
        if match:
            return match
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{logfile.name}: no /{pattern}/ (exit {proc.poll()}); see {logfile}")


class Processes:
    """Everything the cluster runs, stopped in reverse order."""

    def __init__(self, work: Path):
        self.work = work
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], **kw) -> tuple[subprocess.Popen, Path]:
        logfile = self.work / f"{name}.log"
        with open(logfile, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, **kw)
        self.procs.append((name, proc))
        return proc, logfile

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


class Browser:
    """Just enough of a browser for the sign-in: cookies per host:port (Secure ones too, on loopback),
    redirects followed by hand, the consent form approved."""

    def __init__(self):
        self.jar: dict[str, dict[str, str]] = {}

    def request(self, method: str, url: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        sent = dict(headers or {})
        cookies = self.jar.get(u.netloc, {})
        if cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn.request(method, (u.path or "/") + (f"?{u.query}" if u.query else ""), body=body, headers=sent)
        response = conn.getresponse()
        text = response.read().decode(errors="replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                self.jar.setdefault(u.netloc, {})[key.strip()] = val.strip()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def authorize(self, url: str, redirect_uri: str) -> dict[str, str]:
        """The user opens url, approves, signs in upstream; the query the client's redirect URI got."""
        status, headers, text = self.request("GET", url)
        for _ in range(12):
            if status in (301, 302, 303, 307):
                location = urllib.parse.urljoin(url, headers["location"])
                if location.startswith(redirect_uri):
                    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
                url = location
                status, headers, text = self.request("GET", url)
                continue
            form = re.search(r'<form\b[^>]*action="([^"]*)"', text)
            if status != 200 or not form:
                raise RuntimeError(f"sign-in stopped at HTTP {status}: {text[:300]}")
            fields = re.findall(r'<input\b[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"', text)
            body = urllib.parse.urlencode([(html.unescape(k), html.unescape(v)) for k, v in fields] +
                                          [("decision", "approve")])
            url = urllib.parse.urljoin(url, html.unescape(form.group(1)))
            status, headers, text = self.request("POST", url, body,
                                                 {"Content-Type": "application/x-www-form-urlencoded"})
        raise RuntimeError("more than 12 hops in the sign-in")


def sign_in(base: str) -> str:
    """A public client's whole first sign-in at base (RFC 7591 registration, PKCE, consent, token);
    returns the broker's access token."""
    browser = Browser()
    redirect_uri = "http://127.0.0.1:9/bench/callback"
    status, _, text = browser.request("GET", f"{base}/.well-known/oauth-authorization-server")
    if status != 200:
        raise RuntimeError(f"metadata: HTTP {status} {text[:300]}")
    metadata = json.loads(text)
    status, _, text = browser.request("POST", metadata["registration_endpoint"], json.dumps({
        "client_name": "fmb-bench", "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}),
        {"Content-Type": "application/json"})
    if status != 201:
        raise RuntimeError(f"register: HTTP {status} {text[:300]}")
    client_id = json.loads(text)["client_id"]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_hex(8)
    query = urllib.parse.urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                                    "code_challenge": challenge, "code_challenge_method": "S256",
                                    "state": state, "resource": f"{base}/mcp"})
    answer = browser.authorize(f"{metadata['authorization_endpoint']}?{query}", redirect_uri)
    if answer.get("state") != state or "code" not in answer:
        raise RuntimeError(f"authorize: {answer}")
    status, _, text = browser.request("POST", metadata["token_endpoint"], urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": answer["code"], "redirect_uri": redirect_uri,
        "client_id": client_id, "code_verifier": verifier, "resource": f"{base}/mcp"}),
        {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 200:
        raise RuntimeError(f"token: HTTP {status} {text[:300]}")
    return json.loads(text)["access_token"]


def haproxy_config(port: int, port_a: int, port_b: int) -> str:
    """The ```haproxy block of docs/deployment.md, verbatim but for its addresses (as the e2e test)."""
    doc = (ROOT / "docs/deployment.md").read_text()
    block = re.search(r"^```haproxy\n(.*?)^```$", doc, re.S | re.M)
    if not block or "10.0.0.11:8931" not in block.group(1) or "10.0.0.12:8931" not in block.group(1):
        raise RuntimeError("no HAProxy configuration with 10.0.0.11:8931 and 10.0.0.12:8931 in docs/deployment.md")
    text = re.sub(r"^( *bind ).*$", rf"\g<1>127.0.0.1:{port}", block.group(1), flags=re.M)
    return text.replace("10.0.0.11:8931", f"127.0.0.1:{port_a}").replace("10.0.0.12:8931", f"127.0.0.1:{port_b}")


class Cluster:
    def __init__(self, bench, test_bin: Path):
        self.bench = bench
        self.paths = bench.paths
        self.test_bin = test_bin
        self.work = bench.work / "cluster"
        shutil.rmtree(self.work, ignore_errors=True)  # a store of an earlier run has another key
        self.work.mkdir(parents=True)
        os.chmod(self.work, 0o700)
        self.procs = Processes(self.work)
        self.pg_dir: Path | None = None
        self.urls: dict[str, str] = {}
        self.pids: dict[str, int] = {}

    def as_pg_user(self) -> dict:
        # PostgreSQL refuses to run as root.
        return {"user": "nobody"} if os.getuid() == 0 else {}

    def start_postgres(self) -> str:
        bin_dir = pg_bin()
        self.pg_dir = Path(tempfile.mkdtemp(prefix="fmb-bench-pg."))
        if os.getuid() == 0:
            shutil.chown(self.pg_dir, "nobody")
        env = dict(os.environ, LC_ALL="C")
        subprocess.run([str(bin_dir / "initdb"), "-D", str(self.pg_dir / "data"), "-U", "fmb", "-A", "trust",
                        "-E", "UTF8", "--locale=C", "--no-sync"], check=True, env=env, capture_output=True,
                       **self.as_pg_user())
        # Durable settings as a production server has them: the sign-in figures include the commits.
        proc, logfile = self.procs.start("postgres", [str(bin_dir / "postgres"), "-D", str(self.pg_dir / "data"),
                                                      "-k", str(self.pg_dir), "-p", "5432", "-c", "listen_addresses="],
                                         env=env, **self.as_pg_user())
        wait_log(proc, logfile, "ready to accept connections")
        subprocess.run([str(bin_dir / "createdb"), "-h", str(self.pg_dir), "-p", "5432", "-U", "fmb", "fmb"],
                       check=True, capture_output=True)
        return f"postgresql://fmb@:5432/fmb?host={self.pg_dir}"

    def fake_forgejo(self, name: str, public_url: str) -> str:
        proc, logfile = self.procs.start(name, [str(self.test_bin / "fmb-fake-forgejo"), "--listen", "127.0.0.1:0",
                                                "--client-id", "fmb-bench", "--client-secret-file",
                                                str(self.work / "client-secret"), "--redirect-uri",
                                                f"{public_url}/oauth/callback", "--access-ttl", "3600"])
        return "http://" + wait_log(proc, logfile, r"listening on http://(\S+)").group(1)

    def broker(self, name: str, port: int, public_url: str, forgejo: str, database: str) -> None:
        state = self.work / name
        state.mkdir(exist_ok=True)
        os.chmod(state, 0o700)
        cmd = [str(self.paths.broker), "--auth", "oauth", "--listen", f"127.0.0.1:{port}", "--public-url", public_url,
               "--node-id", name, "--database", database, "--secret-key-file", str(self.work / "upstream.key"),
               "--forgejo-url", forgejo, "--forgejo-client-id", "fmb-bench",
               "--forgejo-client-secret-file", str(self.work / "client-secret"), "--state-dir", str(state),
               "--child-command", str(self.paths.child), "--max-sessions", "2000", "--max-sessions-per-user", "0",
               "--admin-socket", str(state / "admin.sock"),
               # One benchmark client registers once per sign-in, far over the default 20 a minute.
               "--register-rate", "0"]
        proc, logfile = self.procs.start(name, cmd)
        wait_log(proc, logfile, r"listening on http://127\.0\.0\.1:\d+")
        self.urls[name] = f"http://127.0.0.1:{port}"
        self.pids[name] = proc.pid

    def start(self) -> None:
        (self.work / "upstream.key").write_bytes(os.urandom(32))
        (self.work / "client-secret").write_text(secrets.token_hex(24))
        for f in ("upstream.key", "client-secret"):
            os.chmod(self.work / f, 0o600)
        database = self.start_postgres()
        proxy_port, port_a, port_b, port_s = free_port(), free_port(), free_port(), free_port()
        proxy = f"http://127.0.0.1:{proxy_port}"
        forgejo = self.fake_forgejo("forgejo", proxy)
        # Started together: the schema migration is safe when brokers start at once.
        self.broker("broker-a", port_a, proxy, forgejo, database)
        self.broker("broker-b", port_b, proxy, forgejo, database)
        sqlite_url = f"http://127.0.0.1:{port_s}"
        self.forgejo_sqlite = self.fake_forgejo("forgejo-sqlite", sqlite_url)
        self.broker("sqlite", port_s, sqlite_url, self.forgejo_sqlite,
                    f"sqlite:{self.work / 'sqlite' / 'broker.db'}")
        (self.work / "haproxy.cfg").write_text(haproxy_config(proxy_port, port_a, port_b))
        proc, _ = self.procs.start("haproxy", ["haproxy", "-db", "-f", str(self.work / "haproxy.cfg")])
        self.pids["haproxy"] = proc.pid
        self.urls["haproxy"] = proxy
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"haproxy did not come up; see {self.work}/haproxy.log")

    def stop(self) -> None:
        self.procs.stop()
        if self.pg_dir:
            shutil.rmtree(self.pg_dir, ignore_errors=True)

    # ---- measurements ----

    def calls(self, target: str, bearer_file: Path, concurrency: int, duration: float) -> dict:
        args = load_args(self.bench.child("c"), concurrency, duration=duration, calls=1_000_000,
                         extra=["--timeout", "60", "--bearer-file", str(bearer_file)])
        watched = ["broker-a", "broker-b", "haproxy"] if target == "haproxy" else [target]
        cpu0 = {name: cpu_seconds(self.pids[name]) for name in watched}
        r = run_load(self.paths, "http", args, url=f"{self.urls[target]}/mcp")
        r["cpu_s"] = {name: cpu_seconds(self.pids[name]) - cpu0[name] for name in watched}
        return r

    def users_on_children(self, users: int, clients_per_user: int) -> dict:
        """Issue 13: `users` users with `clients_per_user` 2026-07-28 clients each at the SQLite
        broker: how many children it keeps (one per user by design, measured here)."""
        before = {pid for pid, _ in child_states(self.pids["sqlite"])}
        errors = 0
        runs = []
        for i in range(users):
            # The fake Forgejo signs in whoever it was told last.
            u = urllib.parse.urlsplit(self.forgejo_sqlite)
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
            conn.request("POST", "/_fake/login", json.dumps({"login": f"user{i + 1}", "id": 100 + i}),
                         {"Content-Type": "application/json"})
            if conn.getresponse().status != 200:
                raise RuntimeError("the fake Forgejo refused /_fake/login")
            conn.close()
            bearer = self.work / f"user{i + 1}.bearer"
            bearer.write_text(sign_in(self.urls["sqlite"]))
            os.chmod(bearer, 0o600)
            args = load_args(self.bench.child("c"), clients_per_user, duration=1.0, calls=1_000_000,
                             extra=["--timeout", "60", "--bearer-file", str(bearer), "--protocol", "2026-07-28"])
            r = run_load(self.paths, "http", args, url=f"{self.urls['sqlite']}/mcp")
            errors += r["error_count"]
            runs.append(r["cmd"].replace(str(bearer), "BEARER_FILE"))
        kids = [pid for pid, _ in child_states(self.pids["sqlite"]) if pid not in before]
        return {"users": users, "clients_per_user": clients_per_user, "children": len(kids),
                "children_rss_kib": sum(rss_kib(k) for k in kids), "errors": errors, "cmd": runs[0]}

    def sign_ins(self, target: str, seconds: float) -> dict:
        done, started = 0, time.monotonic()
        while time.monotonic() - started < seconds:
            sign_in(self.urls[target])
            done += 1
        wall = time.monotonic() - started
        return {"sign_ins": done, "wall_s": wall, "per_s": done / wall}


TARGETS = {"haproxy": "HAProxy, 2 brokers on PostgreSQL", "broker-a": "1 broker on PostgreSQL, directly",
           "sqlite": "1 broker on SQLite, directly"}


def run(bench, test_bin: Path) -> dict:
    missing = missing_parts(test_bin)
    if missing:
        log(f"[cluster] skipped: missing {', '.join(missing)}")
        return {"skipped": missing}
    p = bench.p
    cluster = Cluster(bench, test_bin)
    try:
        cluster.start()
        tokens = {}
        for target in ("haproxy", "sqlite"):
            path = cluster.work / f"{target}.bearer"
            path.write_text(sign_in(cluster.urls[target]))
            os.chmod(path, 0o600)
            tokens[target] = path
        # The cluster's token works at either broker directly: the state is shared.
        tokens["broker-a"] = tokens["haproxy"]
        for target in TARGETS:
            cluster.calls(target, tokens[target], 16, p["warmup"])
        runs: dict[str, list[dict]] = {t: [] for t in TARGETS}
        order = list(TARGETS)
        for rnd in range(p["rounds"]):
            for target in (order if rnd % 2 == 0 else list(reversed(order))):
                r = cluster.calls(target, tokens[target], 16, p["duration"])
                runs[target].append(r)
                log(f"[cluster] round {rnd + 1} {target}: {r['throughput']:.0f} calls/s, "
                    f"p50 {r['latency_us']['p50']:.0f} us, errors {r['error_count']}")
        # The cluster's public URL is HAProxy's: its sign-ins go through it (the browser sticks to one
        # broker by cookie).
        sign_in_runs: dict[str, list[dict]] = {"haproxy": [], "sqlite": []}
        for rnd in range(p["rounds"]):
            for target in (["haproxy", "sqlite"] if rnd % 2 == 0 else ["sqlite", "haproxy"]):
                s = cluster.sign_ins(target, max(2.0, p["duration"]))
                sign_in_runs[target].append(s)
                log(f"[cluster] round {rnd + 1} sign-ins at {target}: {s['per_s']:.1f}/s")
        users = cluster.users_on_children(10, 10)
        log(f"[cluster] 10 users x 10 clients of 2026-07-28: {users['children']} children, "
            f"errors {users['errors']}")
        block = {"calls": {}, "sign_ins": {}, "users_2026": users}
        for target, rs in runs.items():
            requests = sum(r["requests"] for r in rs)
            block["calls"][target] = {
                "label": TARGETS[target],
                "throughput": median([r["throughput"] for r in rs]),
                "p50": median([r["latency_us"]["p50"] for r in rs]),
                "p99": median([r["latency_us"]["p99"] for r in rs]),
                "cpu_us_per_request": {name: sum(r["cpu_s"][name] for r in rs) * 1e6 / requests
                                       for name in rs[0]["cpu_s"]} if requests else None,
                "errors": sum(r["error_count"] for r in rs),
                "requests": requests,
                "cmd": rs[0]["cmd"].replace(str(tokens[target]), "BEARER_FILE"),
            }
        for target, ss in sign_in_runs.items():
            block["sign_ins"][target] = {"label": TARGETS[target], "per_s": median([s["per_s"] for s in ss]),
                                         "total": sum(s["sign_ins"] for s in ss)}
        return block
    finally:
        cluster.stop()


def render(block: dict) -> list[str]:
    if not block:
        return []
    out = ["### Several brokers (issue 14): HAProxy + PostgreSQL vs one broker", ""]
    if "skipped" in block:
        return out + [f"Skipped: missing {', '.join(block['skipped'])}.", ""]
    calls = block["calls"]
    out += ["Echo calls, 16 sessions of one signed-in user, the C child; medians over rounds.", "",
            "| target | calls/s | p50 µs | p99 µs | broker CPU µs/request | HAProxy CPU µs/request | errors |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for target, c in calls.items():
        cpu = c["cpu_us_per_request"] or {}
        broker_cpu = sum(v for k, v in cpu.items() if k != "haproxy")
        out.append(f"| {c['label']} | {c['throughput']:.0f} | {c['p50']:.0f} | {c['p99']:.0f} | {broker_cpu:.1f} | "
                   f"{cpu['haproxy']:.1f} | {c['errors']} |" if "haproxy" in cpu else
                   f"| {c['label']} | {c['throughput']:.0f} | {c['p50']:.0f} | {c['p99']:.0f} | {broker_cpu:.1f} | – | "
                   f"{c['errors']} |")
    h, a, s = calls["haproxy"], calls["broker-a"], calls["sqlite"]
    out += ["", f"- Through HAProxy vs one broker directly: {h['throughput'] / a['throughput']:.2f}× the calls/s, "
                f"p50 {h['p50'] - a['p50']:+.0f} µs.",
            f"- PostgreSQL vs SQLite, one broker: {a['throughput'] / s['throughput']:.2f}× the calls/s, broker CPU "
            f"{sum(a['cpu_us_per_request'].values()):.1f} vs {sum(s['cpu_us_per_request'].values()):.1f} µs/request.",
            f"- Sign-ins (register, authorize, consent, fake Forgejo, callback, token; one after another): "
            f"PostgreSQL (through HAProxy) {block['sign_ins']['haproxy']['per_s']:.1f}/s, SQLite "
            f"{block['sign_ins']['sqlite']['per_s']:.1f}/s.", "",
            f"Load command (HAProxy): `{h['cmd']}`", ""]
    users = block.get("users_2026")
    if users:
        out += [f"**Children per user, measured (issue 13):** {users['users']} users signed in at the SQLite broker, "
                f"{users['clients_per_user']} concurrent 2026-07-28 clients each (one user after another, 1 s "
                f"each): the broker kept **{users['children']} children** ({users['children_rss_kib']:,} KiB RSS "
                f"together), errors {users['errors']}. Per user: `{users['cmd']}`", ""]
    return out
