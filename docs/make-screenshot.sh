#!/usr/bin/env bash
# Regenerates docs/console.png: starts forgejo-mcp-brokerd (local mode, the
# test MCP server as its child) with a private admin socket, opens a few MCP
# sessions over HTTP, runs forgejo-mcp-broker-console under `xvfb-run -a`
# and lets it save its own window (--screenshot, QWidget::grab()).
#
#   docs/make-screenshot.sh [BUILD_DIR] [OUTPUT]
#
# BUILD_DIR defaults to ./build (it needs forgejo-mcp-brokerd,
# forgejo-mcp-broker-console and tests/bin/fmb-test-mcp-server built);
# OUTPUT defaults to docs/console.png. Needs xvfb-run and curl.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
output="${2:-$root/docs/console.png}"
work="$(mktemp -d)"
daemon_pid=""

cleanup() {
  if [[ -n "$daemon_pid" ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$build/bin/forgejo-mcp-brokerd" --auth none --listen 127.0.0.1:0 \
  --child-command "$build/tests/bin/fmb-test-mcp-server" \
  --admin-socket "$work/admin.sock" </dev/null >"$work/daemon.log" 2>&1 &
daemon_pid=$!

url=""
for _ in $(seq 1 100); do
  if grep -q "admin socket listening" "$work/daemon.log"; then
    url="$(grep -oE 'listening on http://[^[:space:]/]+' "$work/daemon.log" | head -n1)"
    url="${url#listening on }/mcp"
    break
  fi
  sleep 0.1
done
if [[ -z "$url" ]]; then
  echo "forgejo-mcp-brokerd did not come up:" >&2
  cat "$work/daemon.log" >&2
  exit 1
fi

# One MCP session per client name: POST initialize, as a client would.
for client in claude-code vscode-copilot cursor mcp-inspector; do
  curl -sf -o /dev/null -X POST "$url" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"$client\",\"version\":\"1.0\"}}}"
  sleep 1
done

# A private settings folder: no saved geometry or recent list leaks in.
XDG_CONFIG_HOME="$work/config" LC_ALL=C.UTF-8 LANG=C.UTF-8 \
  xvfb-run -a -s "-screen 0 1280x800x24" \
  "$build/bin/forgejo-mcp-broker-console" --admin-socket "$work/admin.sock" \
  --size 1120x360 --screenshot "$output"
echo "wrote $output"
