# shellcheck shell=bash
# Sourced by run.sh: fmb-fake-forgejo (a fake Forgejo OAuth2 provider) and a
# second forgejo-mcp-brokerd in OAuth mode in front of fmb-test-mcp-server, for
# test/oauth.test.mjs. The broker's public URL (its OAuth issuer) must be known
# before it starts, and the fake must know the broker's callback, so a free
# loopback port is picked first.
#
# The caller sets, before oauth_start:
#   DAEMON          path of forgejo-mcp-brokerd
#   OAUTH_TEST_BIN  the build's tests/bin (fmb-fake-forgejo, fmb-test-mcp-server)
#   WORK, MARKER    as for gateway_start (the broker's children get the marker)
# and after it has: OAUTH_URL (http://127.0.0.1:PORT, no /mcp), OAUTH_FORGEJO_URL,
# OAUTH_PID, OAUTH_LOG, OAUTH_FAKE_PID, OAUTH_FAKE_LOG.
#
# Timings (OAUTH_* variables override them): Forgejo access tokens live 20 s and
# the broker refreshes them 15 s before they expire, looking every 2 s, so a
# session's child is respawned with a new token about every 5-7 s; the broker's
# own access tokens live 5 s, so the SDK client has to refresh them.

OAUTH_CLIENT_ID="fmb-e2e-broker"
OAUTH_UPSTREAM_ACCESS_TTL="${OAUTH_UPSTREAM_ACCESS_TTL:-20}"
OAUTH_REFRESH_LEAD="${OAUTH_REFRESH_LEAD:-15}"
OAUTH_ROTATE_INTERVAL="${OAUTH_ROTATE_INTERVAL:-2}"
OAUTH_ACCESS_TOKEN_TTL="${OAUTH_ACCESS_TOKEN_TTL:-5}"
OAUTH_URL=""
OAUTH_FORGEJO_URL=""
OAUTH_PID=""
OAUTH_LOG=""
OAUTH_FAKE_PID=""
OAUTH_FAKE_LOG=""
OAUTH_STATUS=""

# oauth_wait_listening PID LOG: prints the first "listening on http://HOST:PORT"
# URL of LOG, or returns non-zero when PID exits or 30 s pass.
oauth_wait_listening() {
  local pid="$1" log="$2" line
  for _ in $(seq 1 300); do
    line="$(grep -oE 'listening on http://[^[:space:]/]+' "$log" | head -n1 || true)"
    if [[ -n "$line" ]]; then
      echo "${line#listening on }"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Returns non-zero (after printing the logs) when either process does not come up.
oauth_start() {
  local dir="$WORK/oauth" port url
  mkdir -p "$dir/state"
  chmod 700 "$dir" "$dir/state"
  (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$dir/client-secret")
  port="$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  OAUTH_URL="http://127.0.0.1:$port"

  OAUTH_FAKE_LOG="$dir/fake-forgejo.log"
  "$OAUTH_TEST_BIN/fmb-fake-forgejo" --listen 127.0.0.1:0 --client-id "$OAUTH_CLIENT_ID" \
    --client-secret-file "$dir/client-secret" --redirect-uri "$OAUTH_URL/oauth/callback" \
    --access-ttl "$OAUTH_UPSTREAM_ACCESS_TTL" --user alice:1 \
    </dev/null >"$OAUTH_FAKE_LOG" 2>&1 &
  OAUTH_FAKE_PID=$!
  if ! url="$(oauth_wait_listening "$OAUTH_FAKE_PID" "$OAUTH_FAKE_LOG")"; then
    echo "fmb-fake-forgejo did not come up; its log:" >&2
    cat "$OAUTH_FAKE_LOG" >&2
    return 1
  fi
  OAUTH_FORGEJO_URL="$url"

  OAUTH_LOG="$dir/brokerd-oauth.log"
  "$DAEMON" --auth oauth --listen "127.0.0.1:$port" --public-url "$OAUTH_URL" \
    --forgejo-url "$OAUTH_FORGEJO_URL" --forgejo-client-id "$OAUTH_CLIENT_ID" \
    --forgejo-client-secret-file "$dir/client-secret" --state-dir "$dir/state" \
    --rotate-interval "$OAUTH_ROTATE_INTERVAL" --refresh-lead "$OAUTH_REFRESH_LEAD" \
    --access-token-ttl "$OAUTH_ACCESS_TOKEN_TTL" --child-stop-grace 1s \
    --child-command "$OAUTH_TEST_BIN/fmb-test-mcp-server" \
    --child-env "FMB_E2E_MARKER=$MARKER" --admin-socket "$dir/admin.sock" --audit-log "$dir/audit.log" \
    </dev/null >"$OAUTH_LOG" 2>&1 &
  OAUTH_PID=$!
  if ! url="$(oauth_wait_listening "$OAUTH_PID" "$OAUTH_LOG")"; then
    echo "forgejo-mcp-brokerd (--auth oauth) did not come up on port $port; its log:" >&2
    cat "$OAUTH_LOG" >&2
    return 1
  fi
  if [[ "$url" != "127.0.0.1:$port" && "$url" != "http://127.0.0.1:$port" ]]; then
    echo "forgejo-mcp-brokerd (--auth oauth) listens on $url, not on 127.0.0.1:$port" >&2
    return 1
  fi
}

# oauth_stop: SIGTERM to the broker, then to the fake. Sets OAUTH_STATUS to the
# broker's exit status, or "timeout" (then it was SIGKILLed) like gateway_stop.
oauth_stop() {
  local saved_pid="$GATEWAY_PID" saved_status="$GATEWAY_STATUS"
  OAUTH_STATUS=not-running
  if [[ -n "$OAUTH_PID" ]]; then
    GATEWAY_PID="$OAUTH_PID"
    gateway_stop
    OAUTH_STATUS="$GATEWAY_STATUS"
    OAUTH_PID=""
  fi
  if [[ -n "$OAUTH_FAKE_PID" ]]; then
    GATEWAY_PID="$OAUTH_FAKE_PID"
    GATEWAY_STOP_TIMEOUT=5 gateway_stop
    OAUTH_FAKE_PID=""
  fi
  GATEWAY_PID="$saved_pid"
  GATEWAY_STATUS="$saved_status"
}

# For the EXIT trap; never fails.
oauth_cleanup() {
  if [[ -n "$OAUTH_PID" || -n "$OAUTH_FAKE_PID" ]]; then
    GATEWAY_STOP_TIMEOUT=5 oauth_stop
  fi
  return 0
}
