#!/usr/bin/env bash
# End-to-end tests: real MCP SDK clients and the MCP Inspector CLI talk to
# forgejo-mcp-brokerd, which fronts @modelcontextprotocol/server-everything
# over stdio.
#
#   tests/e2e/run.sh BUILD_DIR                   # BUILD_DIR/bin/forgejo-mcp-brokerd
#   FMB_E2E_TARGET=supergateway tests/e2e/run.sh # the same tests against supergateway 4.0.0
#
# Prints the node:test report, then `e2e: N passed, M failed`. Besides the node
# tests, two checks count: the gateway exits with status 0 on SIGTERM, and none
# of its children outlives it. M also counts cancelled tests and a test run
# that died or timed out. Exits non-zero when M > 0.
#
# Environment:
#   FMB_E2E_TARGET        brokerd (default) or supergateway
#   FMB_E2E_TIMEOUT       limit in seconds for the node tests (default 600)
#   FMB_E2E_SESSIONS      sessions in the concurrency test (default 50)
#   FMB_E2E_DAEMON_ARGS   extra arguments for forgejo-mcp-brokerd (split on spaces)
#   (brokerd serves /metrics on a port of its own: FMB_E2E_METRICS_URL for test/metrics.test.mjs)
#   FMB_E2E_KEEP_LOGS=1   keep the scratch folder with the gateway log (kept anyway on failure)
#   FMB_E2E_ONLY          run only the test files whose name matches this glob (e.g. 'cluster*')
#
# With brokerd, a second daemon runs in OAuth mode in front of fmb-test-mcp-server,
# with fmb-fake-forgejo as its Forgejo (lib/oauth-daemon.sh), for test/oauth.test.mjs
# (FMB_E2E_OAUTH_URL, FMB_E2E_FORGEJO_URL). It must exit 0 on SIGTERM too.
#
# With brokerd, also a cluster for test/cluster.test.mjs (lib/cluster.sh): a
# throwaway PostgreSQL, two brokers on it and HAProxy in front (skipped, and
# said so, when postgresql or haproxy is not installed).
set -euo pipefail

E2E_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="${FMB_E2E_TARGET:-brokerd}"
TEST_TIMEOUT="${FMB_E2E_TIMEOUT:-600}"
# shellcheck source=lib/gateway.sh
source "$E2E_HOME/lib/gateway.sh"
# shellcheck source=lib/oauth-daemon.sh
source "$E2E_HOME/lib/oauth-daemon.sh"
# shellcheck source=lib/cluster.sh
source "$E2E_HOME/lib/cluster.sh"

case "$TARGET" in
  brokerd)
    if [[ $# -lt 1 || "$1" == -* ]]; then
      echo "usage: $0 BUILD_DIR    (or FMB_E2E_TARGET=supergateway $0)" >&2
      exit 2
    fi
    DAEMON="$(cd "$1" 2>/dev/null && pwd || echo "$1")/bin/forgejo-mcp-brokerd"
    OAUTH_TEST_BIN="$(cd "$1" 2>/dev/null && pwd || echo "$1")/tests/bin"
    if [[ ! -x "$DAEMON" ]]; then
      echo "e2e: $DAEMON is missing or not executable (build the daemon first)" >&2
      echo "e2e: 0 passed, 1 failed"
      exit 1
    fi
    ;;
  supergateway) ;;
  *)
    echo "e2e: FMB_E2E_TARGET must be brokerd or supergateway, not \"$TARGET\"" >&2
    exit 2
    ;;
esac
for tool in node npm timeout sha256sum mkfifo; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is not installed" >&2; exit 1; }
done

ensure_node_modules
EVERYTHING="$E2E_HOME/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
[[ -f "$EVERYTHING" ]] || { echo "e2e: $EVERYTHING is missing after npm ci" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/fmb-e2e.XXXXXX")"
TAP="$WORK/results.tap"
MARKER="fmb-e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
TEST_PID=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n "$TEST_PID" ]]; then
    kill -TERM "$TEST_PID" 2>/dev/null || true
  fi
  oauth_cleanup
  cluster_cleanup
  gateway_cleanup
  if [[ "${FMB_E2E_KEEP_LOGS:-0}" == 1 || $status -ne 0 ]]; then
    echo "e2e: logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the gateway in front of server-everything (its stdio mode: `index.js stdio`)
daemon_args=(--max-sessions 200)
if [[ "$TARGET" == brokerd ]]; then
  daemon_args+=(--metrics-listen 127.0.0.1:0) # test/metrics.test.mjs
  daemon_args+=(--input-required-ttl 3s)      # test/rev2026.test.mjs: an expired requestState
fi
if [[ -n "${FMB_E2E_DAEMON_ARGS:-}" ]]; then
  read -r -a extra <<<"$FMB_E2E_DAEMON_ARGS"
  daemon_args+=("${extra[@]}")
fi
if ! gateway_start "$NODE_BIN $EVERYTHING stdio" "${daemon_args[@]}"; then
  echo "e2e: 0 passed, 1 failed"
  exit 1
fi
echo "e2e: $TARGET (pid $GATEWAY_PID) at $GATEWAY_URL; log: $GATEWAY_LOG" >&2
metrics_env=()
if [[ "$TARGET" == brokerd ]]; then
  # Printed before "listening on", so it is in the log by now.
  metrics_url="$(grep -oE 'metrics on http://[^[:space:]]+' "$GATEWAY_LOG" | head -n1 || true)"
  metrics_env=(FMB_E2E_METRICS_URL="${metrics_url#metrics on }")
fi

# --- the OAuth-mode daemon and the fake Forgejo (brokerd only)
oauth_env=()
if [[ "$TARGET" == brokerd ]]; then
  if ! oauth_start; then
    echo "e2e: 0 passed, 1 failed"
    exit 1
  fi
  echo "e2e: OAuth brokerd (pid $OAUTH_PID) at $OAUTH_URL, fake Forgejo at $OAUTH_FORGEJO_URL" >&2
  oauth_env=(FMB_E2E_OAUTH_URL="$OAUTH_URL" FMB_E2E_FORGEJO_URL="$OAUTH_FORGEJO_URL"
    FMB_E2E_OAUTH_ADMIN_SOCKET="$WORK/oauth/admin.sock" FMB_E2E_BROKERCTL="${DAEMON%d}ctl"
    FMB_E2E_OAUTH_AUDIT_LOG="$WORK/oauth/audit.log" FMB_E2E_OAUTH_CLIENT_SECRET_FILE="$WORK/oauth/client-secret")
fi

# --- two brokers on PostgreSQL behind HAProxy (brokerd only)
cluster_vars=()
if [[ "$TARGET" == brokerd ]]; then
  if ! cluster_start; then
    echo "e2e: 0 passed, 1 failed"
    exit 1
  fi
  if [[ -n "$CLUSTER_SKIP" ]]; then
    echo "e2e: cluster test skipped: $CLUSTER_SKIP" >&2
  else
    echo "e2e: cluster: HAProxy (pid $CLUSTER_HAPROXY_PID) at $CLUSTER_URL, brokers $CLUSTER_A_URL and $CLUSTER_B_URL" >&2
  fi
  mapfile -t cluster_vars < <(cluster_env)
fi

# --- the node tests, one file at a time (the concurrency test wants the machine to itself)
shopt -s nullglob
tests=("$E2E_HOME"/test/${FMB_E2E_ONLY:-*}.test.mjs)
test_status=0
(
  cd "$E2E_HOME"
  FMB_E2E_URL="$GATEWAY_URL" FMB_E2E_TARGET="$TARGET" FMB_E2E_MARKER="$MARKER" \
    exec env "${oauth_env[@]}" "${metrics_env[@]}" "${cluster_vars[@]}" timeout --kill-after=10 "$TEST_TIMEOUT" node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$TAP" \
    "${tests[@]}"
) &
TEST_PID=$!
wait "$TEST_PID" || test_status=$?
TEST_PID=""
if [[ $test_status -eq 124 || $test_status -eq 137 ]]; then
  echo "e2e: the tests did not finish within ${TEST_TIMEOUT}s" >&2
fi

tap_count() { # the last "# <word> N" summary line of the TAP report
  local n
  n="$(grep -E "^# $1 [0-9]+$" "$TAP" 2>/dev/null | tail -n1 | awk '{print $3}' || true)"
  echo "${n:-0}"
}
passed="$(tap_count pass)"
failed=$(($(tap_count fail) + $(tap_count cancelled)))
if [[ $test_status -ne 0 && $failed -eq 0 ]]; then
  failed=1 # the runner died or timed out before it reported a failure
fi
if [[ $((passed + failed)) -eq 0 ]]; then
  failed=1 # no test ran at all
fi

# --- shutdown: SIGTERM must end the gateway with status 0 and take its children along
if [[ "$TARGET" == brokerd ]]; then
  oauth_stop
  if [[ "$OAUTH_STATUS" == 0 ]]; then
    echo "e2e: ok the OAuth brokerd exited with status 0 after SIGTERM" >&2
    passed=$((passed + 1))
  else
    echo "e2e: FAIL the OAuth brokerd ended with $OAUTH_STATUS after SIGTERM; log tail:" >&2
    tail -n 20 "$OAUTH_LOG" >&2
    failed=$((failed + 1))
  fi
fi
if [[ "$TARGET" == brokerd && -z "$CLUSTER_SKIP" ]]; then
  cluster_cleanup
  sleep 0.5 # children that are already on their way out
  leftover="$({ marked_pids "$MARKER-cluster-a"; marked_pids "$MARKER-cluster-b"; } | tr '\n' ' ')"
  if [[ -z "${leftover// /}" ]]; then
    echo "e2e: ok no child of the cluster's brokers outlived them" >&2
    passed=$((passed + 1))
  else
    echo "e2e: FAIL children of the cluster's brokers still running: $leftover" >&2
    failed=$((failed + 1))
  fi
fi
stopped_pid="$GATEWAY_PID"
gateway_stop
if [[ "$GATEWAY_STATUS" == 0 ]]; then
  echo "e2e: ok $TARGET exited with status 0 after SIGTERM" >&2
  passed=$((passed + 1))
elif [[ "$GATEWAY_STATUS" == timeout ]]; then
  echo "e2e: FAIL $TARGET was still running ${GATEWAY_STOP_TIMEOUT}s after SIGTERM (killed)" >&2
  failed=$((failed + 1))
else
  echo "e2e: FAIL $TARGET exited with status $GATEWAY_STATUS after SIGTERM; log tail:" >&2
  tail -n 20 "$GATEWAY_LOG" >&2
  failed=$((failed + 1))
fi
sleep 0.5 # children that are already on their way out
leftover="$(marked_pids | tr '\n' ' ')"
if [[ -z "${leftover// /}" ]]; then
  echo "e2e: ok no child of $TARGET outlived it" >&2
  passed=$((passed + 1))
else
  echo "e2e: FAIL children of $TARGET (pid $stopped_pid) still running after it exited: $leftover" >&2
  failed=$((failed + 1))
fi

echo "e2e: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
