#!/usr/bin/env bash
# The Debian packages, end to end (issue 15): build forgejo-mcp-broker and
# forgejo-mcp-broker-console from the tree (Release, debhelper), lint them (lintian,
# desktop-file-validate, appstreamcli), install them with apt, run the installed daemon
# as the packaged service user with the packaged configuration, talk to it, remove and
# purge the packages, and check that nothing is left but what Debian policy keeps.
#   .ci/packages.sh [OUT_DIR]      (default build-deb; the .debs land there)
#   FMB_PACKAGES_REUSE=1           test the .debs already in OUT_DIR, without building
# Needs root and the tools of `.ci/deps.sh --test`. Leaves the machine as it found it
# when it passes, and also when it fails (an EXIT trap purges and cleans up); it refuses
# to run where either package is installed already.
# Without systemd as PID 1 (CI, containers) the ExecStartPre= and ExecStart= lines of the
# installed unit are run by hand with setpriv as the unit's User=, with what the unit
# asks of systemd done first (RuntimeDirectory=, UMask=, a NOTIFY_SOCKET to check
# READY=1 and STOPPING=1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/build-deb}" && cd "${1:-$ROOT/build-deb}" && pwd)"
PKGS=(forgejo-mcp-broker forgejo-mcp-broker-console)
UNIT=/lib/systemd/system/forgejo-mcp-broker.service
STATE=/var/lib/forgejo-mcp-broker
RUNTIME=/run/forgejo-mcp-broker
start=$(date +%s)
say() { printf 'packages (%ss): %s\n' "$(( $(date +%s) - start ))" "$*"; }
fail() { printf 'packages: FAIL: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "run as root (it installs and purges packages)"
for p in "${PKGS[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv "not-installed"; then
        fail "$p is installed on this machine already; purge it first (this script would not restore it)"
    fi
done

WORK="$(mktemp -d /tmp/fmb-packages.XXXXXX)"
chmod 0755 "$WORK"
user_existed=0; getent passwd fmb >/dev/null && user_existed=1
group_existed=0; getent group fmb >/dev/null && group_existed=1
daemon_pid=""; notify_pid=""
cleanup() {
    local rc=$?
    set +e
    [[ -n "$daemon_pid" ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [[ -n "$notify_pid" ]] && kill "$notify_pid" 2>/dev/null && wait "$notify_pid" 2>/dev/null
    for p in "${PKGS[@]}"; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -qv "not-installed"; then
            DEBIAN_FRONTEND=noninteractive dpkg --purge "$p" >/dev/null 2>&1
        fi
    done
    # Dependencies apt pulled in for the packages (none on a machine that built them).
    local added=""
    [[ -f "$WORK/before.pkgs" ]] && added="$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ {print $2}' |
             LC_ALL=C sort | LC_ALL=C comm -13 "$WORK/before.pkgs" -)"
    # shellcheck disable=SC2086 # one word a package
    [[ -n "$added" ]] && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $added >/dev/null 2>&1
    rm -rf "$RUNTIME"
    # Debian policy keeps a package's system user after purge; CI leaves no trace of it.
    ((user_existed)) || userdel fmb 2>/dev/null
    ((group_existed)) || groupdel fmb 2>/dev/null
    rm -rf "$WORK"
    ((rc == 0)) || echo "packages: cleaned up after the failure" >&2
    exit "$rc"
}
trap cleanup EXIT

# --- build ------------------------------------------------------------------------------
# A fixed copy of the tree (tracked and new files, not build trees or node_modules): the
# packages are built from what is checked out, uncommitted changes included, and the
# fixed path lets ccache hit across runs (debhelper moves HOME, so CCACHE_DIR is pinned).
VERSION="$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -S Version)"
SRC="$OUT/src/forgejo-mcp-broker-$VERSION"
if [[ "${FMB_PACKAGES_REUSE:-}" == "1" ]]; then
    say "reusing the packages in $OUT (FMB_PACKAGES_REUSE=1)"
else
    rm -rf "$OUT/src" "$OUT"/*.deb "$OUT"/*.ddeb "$OUT"/*.changes "$OUT"/*.buildinfo
    mkdir -p "$SRC"
    (cd "$ROOT" && git ls-files -z -co --exclude-standard | grep -zv '^debian/.*\.\(log\|substvars\)$' |
        tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$SRC")
    (cd "$SRC" && dpkg-checkbuilddeps) || fail "build dependencies missing: run .ci/deps.sh --test"
    build_env=()
    if command -v ccache >/dev/null 2>&1; then
        build_env=(FMB_CCACHE=1 "CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ccache}"
                   "CCACHE_BASEDIR=$OUT/src")
    fi
    say "building the packages in $SRC (dpkg-buildpackage, Release)"
    (cd "$SRC" && env "${build_env[@]}" DEB_BUILD_OPTIONS="parallel=$(nproc)" \
        dpkg-buildpackage -b -uc -us >"$OUT/build.log" 2>&1) || { tail -40 "$OUT/build.log"; fail "dpkg-buildpackage (log: $OUT/build.log)"; }
    mv "$OUT"/src/*.deb "$OUT"/src/*.changes "$OUT"/src/*.buildinfo "$OUT"/
    mv "$OUT"/src/*.ddeb "$OUT"/ 2>/dev/null || true
    ls -l "$OUT"/*.deb
fi
deb_daemon="$(ls "$OUT"/forgejo-mcp-broker_"$VERSION"_*.deb)"
deb_console="$(ls "$OUT"/forgejo-mcp-broker-console_"$VERSION"_*.deb)"

# --- lint -------------------------------------------------------------------------------
say "lintian (every remaining tag is explained in debian/*.lintian-overrides)"
lintian --allow-root --fail-on error,warning --display-info \
    "$OUT"/forgejo-mcp-broker_"$VERSION"_*.changes
for t in Depends Recommends; do
    printf '  %s %s: %s\n' forgejo-mcp-broker "$t" "$(dpkg-deb -f "$deb_daemon" "$t")"
    printf '  %s %s: %s\n' forgejo-mcp-broker-console "$t" "$(dpkg-deb -f "$deb_console" "$t")"
done
dpkg-deb -x "$deb_console" "$WORK/console"
desktop-file-validate "$WORK/console/usr/share/applications/forgejo-mcp-broker-console.desktop"
# The component ID is the .desktop file's name, not a reverse domain name: the project owns
# no domain yet. Renaming later needs a <replaces> entry; until then this warning is info.
appstreamcli validate --no-net --explain --override=cid-desktopapp-is-not-rdns=info \
    "$WORK/console/usr/share/metainfo/forgejo-mcp-broker-console.metainfo.xml"

# --- their dependencies first ----------------------------------------------------------
# What apt pulls in for the packages (systemd for its sysusers, on a minimal Debian root) is
# not theirs to take away again: installed before the snapshot, it stays like any package the
# machine had. (A CI machine that built the packages has all of it already.)
say "apt-get satisfy: their dependencies"
DEBIAN_FRONTEND=noninteractive apt-get satisfy -y -qq --no-install-recommends \
    "$(dpkg-deb -f "$deb_daemon" Depends), $(dpkg-deb -f "$deb_console" Depends)" >/dev/null

# --- what the machine looks like before -------------------------------------------------
snapshot() { # every path under the trees a package may touch, minus the package databases
    find /etc /usr /lib /var/lib /opt -xdev 2>/dev/null |
        grep -Ev '^/var/lib/(dpkg|apt|ucf|systemd/deb-systemd-helper-masked)(/|$)|^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$|^/etc/ld.so.cache$' |
        LC_ALL=C sort
}
snapshot >"$WORK/before.list"
dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ {print $2}' | LC_ALL=C sort >"$WORK/before.pkgs"


# --- install ----------------------------------------------------------------------------
say "apt-get install ./forgejo-mcp-broker_*.deb ./forgejo-mcp-broker-console_*.deb"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb_daemon" "$deb_console" >/dev/null
for p in "${PKGS[@]}"; do dpkg -L "$p" >"$WORK/$p.files"; done
dpkg-query -W -f='${Conffiles}\n' forgejo-mcp-broker | grep -q ' /etc/forgejo-mcp-broker/broker.ini ' ||
    fail "broker.ini is not a conffile"
getent passwd fmb >/dev/null || fail "no service user fmb after install (sysusers.d)"
[[ "$(stat -c '%U %a' "$STATE")" == "fmb 700" ]] || fail "$STATE is not fmb's, mode 0700 (tmpfiles.d)"
[[ -L /etc/systemd/system/multi-user.target.wants/forgejo-mcp-broker.service ]] ||
    fail "the unit is not enabled (deb-systemd-helper)"
grep -q '^Type=notify$' "$UNIT" || fail "$UNIT lacks Type=notify"

# --- run it as the unit would -----------------------------------------------------------
unit_line() { sed -n "s/^$1=//p" "$UNIT"; }
read -r -a exec_pre <<<"$(unit_line ExecStartPre)"
read -r -a exec_start <<<"$(unit_line ExecStart)"
[[ "$(unit_line User)" == fmb ]] || fail "User= of the unit is not fmb"
install -d -o fmb -g fmb -m 0700 "$RUNTIME" # RuntimeDirectory=, RuntimeDirectoryMode=
# [NAME=VALUE...] COMMAND...: User=, Group=, UMask=, a service's environment. It execs, so
# call it in a subshell: `(as_service ...)`, or `as_service ... &` (then $! is the daemon).
as_service() {
    umask 0077
    exec setpriv --reuid=fmb --regid=fmb --init-groups --inh-caps=-all -- \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME="$STATE" USER=fmb LOGNAME=fmb SHELL=/usr/sbin/nologin LANG=C.UTF-8 "$@"
}
listen_env=()
if ss -Hltn 'sport = :8080' | grep -q .; then
    listen_env=(FMB_LISTEN=127.0.0.1:0) # the packaged port is taken on this machine
    say "127.0.0.1:8080 is in use here: overriding only listen (FMB_LISTEN=127.0.0.1:0)"
fi

# Type=notify: a datagram socket as NOTIFY_SOCKET, as systemd offers one.
notify_log="$WORK/notify.log"
python3 - "$WORK/notify.sock" "$notify_log" <<'EOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        for line in s.recv(4096).decode().splitlines():
            log.write(line + "\n")
EOF
notify_pid=$!
for _ in $(seq 100); do [[ -S "$WORK/notify.sock" ]] && break; sleep 0.05; done

start_daemon() { # $1: log file; the rest: extra environment
    local log="$1"; shift
    say "ExecStartPre: ${exec_pre[*]}"
    (as_service "${listen_env[@]}" "$@" "${exec_pre[@]}") || fail "ExecStartPre (--check-config) failed"
    : >"$notify_log"
    say "ExecStart (as fmb): ${exec_start[*]}"
    as_service "${listen_env[@]}" NOTIFY_SOCKET="$WORK/notify.sock" "$@" "${exec_start[@]}" 2>"$log" &
    daemon_pid=$!
    for _ in $(seq 200); do
        grep -qx 'READY=1' "$notify_log" && break
        kill -0 "$daemon_pid" 2>/dev/null || { cat "$log" >&2; fail "the daemon exited at start"; }
        sleep 0.05
    done
    grep -qx 'READY=1' "$notify_log" || { cat "$log" >&2; fail "no READY=1 within 10 s"; }
    url="$(sed -n 's/.* fmb\.http: listening on \(http:[^ ]*\).*/\1/p' "$log" | head -1)"
    [[ -n "$url" ]] || fail "no 'listening on' line"
    say "READY=1; listening on $url"
}
stop_daemon() {
    kill -TERM "$daemon_pid"
    local rc=0
    wait "$daemon_pid" || rc=$?
    daemon_pid=""
    ((rc == 0)) || fail "the daemon exited $rc after SIGTERM"
    grep -qx 'STOPPING=1' "$notify_log" || fail "no STOPPING=1 at shutdown"
}
mcp() { # POST one JSON-RPC message to /mcp; headers to $WORK/h, body on stdout
    curl -sS -D "$WORK/h" -o - -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18' \
        ${sid:+-H "Mcp-Session-Id: $sid"} --data "$1" "$url/mcp"
}
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"packages.sh","version":"1"}}}'

# 1. The packaged configuration as it is: local mode with the placeholder child.
start_daemon "$WORK/daemon1.log"
[[ "$(curl -sS -o /dev/null -w '%{http_code}' "$url/healthz")" == 200 ]] || fail "/healthz is not 200"
sid=""
body="$(mcp "$init" || true)"
say "initialize with the placeholder child: $(head -1 "$WORK/h" | tr -d '\r'): ${body:0:200}"
for _ in $(seq 100); do grep -q 'no MCP server configured' "$WORK/daemon1.log" && break; sleep 0.05; done
grep 'no MCP server configured' "$WORK/daemon1.log" ||
    { cat "$WORK/daemon1.log" >&2; fail "the log does not say that no MCP server is configured"; }
stop_daemon

# 2. The same, with one override: child_command = server-everything (no MCP server ships
#    in Debian), so initialize and tools/list go through to a real child.
# shellcheck source=.ci/node.sh
source "$ROOT/.ci/node.sh"
fmb_use_node >/dev/null
E2E_HOME="$ROOT/tests/e2e"
# shellcheck source=tests/e2e/lib/gateway.sh
source "$E2E_HOME/lib/gateway.sh"
ensure_node_modules >/dev/null
everything="$E2E_HOME/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
start_daemon "$WORK/daemon2.log" FMB_CHILD_COMMAND="$(command -v node) $everything stdio"
sid=""
mcp "$init" >"$WORK/init.out"
grep -q '"serverInfo"' "$WORK/init.out" || { cat "$WORK/init.out" "$WORK/daemon2.log" >&2; fail "initialize"; }
sid="$(sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: *\([A-Za-z0-9._-]*\).*/\1/p' "$WORK/h")"
[[ -n "$sid" ]] || fail "no Mcp-Session-Id"
mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' >"$WORK/tools.out"
grep -q '"name":"echo"' "$WORK/tools.out" || { cat "$WORK/tools.out" >&2; fail "tools/list has no echo tool"; }
say "initialize + tools/list through the installed daemon: $(grep -o '"inputSchema"' "$WORK/tools.out" | wc -l) tools"
setpriv --reuid=fmb --regid=fmb --init-groups -- \
    forgejo-mcp-brokerctl --admin-socket "$RUNTIME/admin.sock" list | tee "$WORK/ctl.out"
# brokerctl shows the random part of the id, after the node-id prefix (NODE-<48 hex>).
random_part="${sid: -48}"
grep -q "${random_part:0:8}" "$WORK/ctl.out" || fail "forgejo-mcp-brokerctl list does not show the session"
stop_daemon
rm -rf "$RUNTIME" # systemd removes RuntimeDirectory= when the service stops

# --- remove, purge, and look for leftovers ----------------------------------------------
say "apt-get remove"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "${PKGS[@]}" >/dev/null
[[ -f /etc/forgejo-mcp-broker/broker.ini ]] || fail "remove took the conffile (only purge may)"
[[ -d "$STATE" ]] || fail "remove took the state directory (only purge may)"
# apt no longer knows a removed local .deb (no archive has it): dpkg purges what is left.
say "dpkg --purge"
DEBIAN_FRONTEND=noninteractive dpkg --purge "${PKGS[@]}" >/dev/null
for p in "${PKGS[@]}"; do
    while read -r f; do
        [[ ( -f "$f" || -L "$f" ) && ! -d "$f" ]] && fail "$f of $p is still there after purge"
    done <"$WORK/$p.files"
done
snapshot >"$WORK/after.list"
if ! LC_ALL=C comm -3 "$WORK/before.list" "$WORK/after.list" >"$WORK/leftovers" || [[ -s "$WORK/leftovers" ]]; then
    cat "$WORK/leftovers" >&2
    fail "the purge left these paths behind (or took them)"
fi
getent passwd fmb >/dev/null && ((user_existed == 0)) &&
    say "left after purge, as Debian policy wants: the system user fmb (CI removes it now)"
say "packages built, linted, installed, served, removed and purged: OK"
