#!/usr/bin/env bash
# Regenerates docs/console.png (the Sessions tab) and docs/console-users.png
# (the Users tab) in OAuth mode with several users: starts fmb-fake-forgejo
# and forgejo-mcp-brokerd --auth oauth (the test MCP server as its child) with
# a private admin socket, signs three users in with six MCP clients
# (docs/screenshot-clients.mjs, the MCP SDK client), which keep calling
# tools while Forgejo tokens (10 minutes) are refreshed every 20 s or so, runs
# forgejo-mcp-broker-console under `xvfb-run -a` and lets it save its own
# window (--screenshot, QWidget::grab()).
#
#   docs/make-screenshot.sh [BUILD_DIR] [OUTPUT_DIR]
#
# BUILD_DIR defaults to ./build (it needs forgejo-mcp-brokerd,
# forgejo-mcp-broker-console, tests/bin/fmb-fake-forgejo and
# tests/bin/fmb-test-mcp-server built); OUTPUT_DIR defaults to docs/. Needs
# xvfb-run, Node.js and tests/e2e/node_modules (bash .ci/deps.sh --test).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
output="$(cd "${2:-$root/docs}" && pwd)"
work="$(mktemp -d)"
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for PID LOG PATTERN: the first match of PATTERN in LOG, once it appears.
wait_for() {
  local pid="$1" log="$2" pattern="$3" found
  for _ in $(seq 1 300); do
    found="$(grep -oE "$pattern" "$log" | head -n1 || true)"
    if [[ -n "$found" ]]; then
      echo "$found"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  echo "no '$pattern' in $log:" >&2
  cat "$log" >&2
  return 1
}

chmod 700 "$work"
(umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$work/client-secret")
port="$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
broker="http://127.0.0.1:$port"

"$build/tests/bin/fmb-fake-forgejo" --listen 127.0.0.1:0 --client-id screenshot-broker \
  --client-secret-file "$work/client-secret" --redirect-uri "$broker/oauth/callback" \
  --access-ttl 600 --user alice:1 </dev/null >"$work/forgejo.log" 2>&1 &
pids+=($!)
forgejo="$(wait_for "${pids[-1]}" "$work/forgejo.log" 'http://[^[:space:]/]+')"

mkdir -m 700 "$work/state"
"$build/bin/forgejo-mcp-brokerd" --auth oauth --listen "127.0.0.1:$port" --public-url "$broker" \
  --forgejo-url "$forgejo" --forgejo-client-id screenshot-broker \
  --forgejo-client-secret-file "$work/client-secret" --state-dir "$work/state" \
  --refresh-lead 580 --rotate-interval 1 \
  --child-command "$build/tests/bin/fmb-test-mcp-server" \
  --admin-socket "$work/admin.sock" </dev/null >"$work/daemon.log" 2>&1 &
pids+=($!)
wait_for "${pids[-1]}" "$work/daemon.log" 'admin socket listening' >/dev/null

node "$root/docs/screenshot-clients.mjs" "$broker/mcp" "$forgejo" >"$work/clients.log" 2>&1 &
pids+=($!)
wait_for "${pids[-1]}" "$work/clients.log" '^ready$' >/dev/null

# A private settings folder: no saved geometry or recent list leaks in. The
# first window records 45 s of traffic and token refreshes for its charts.
delay=45
for tab in sessions users; do
  file="$output/console.png"
  [[ "$tab" == users ]] && file="$output/console-users.png"
  XDG_CONFIG_HOME="$work/config" LC_ALL=C.UTF-8 LANG=C.UTF-8 \
    xvfb-run -a -s "-screen 0 1280x800x24" \
    "$build/bin/forgejo-mcp-broker-console" --admin-socket "$work/admin.sock" \
    --size 1120x420 --tab "$tab" --screenshot "$file" --screenshot-delay "$delay"
  echo "wrote $file"
  delay=1.5
done
