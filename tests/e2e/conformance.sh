#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, all 32
# server scenarios) through forgejo-mcp-brokerd in front of the project's stdio
# fixture server (tests/conformance/fixture-server.mjs, run by tests/conformance/run.sh).
#
#   tests/e2e/conformance.sh BUILD_DIR [extra args for `conformance server`]
#   FMB_E2E_TARGET=supergateway tests/e2e/conformance.sh   # baseline: 31 of 32
#
# Prints one PASS/FAIL line per scenario and `conformance: N passed, M failed`;
# exits with the suite's status (0 only when M is 0). Whether the gateway then
# stops cleanly on SIGTERM is reported on stderr but does not change the status.
#
# Environment:
#   FMB_E2E_TARGET        brokerd (default) or supergateway (needs tests/e2e/node_modules)
#   CONFORMANCE_TIMEOUT   limit in seconds for the suite (default 900, read by tests/conformance/run.sh)
#   FMB_E2E_KEEP_LOGS=1   keep the scratch folder with the gateway log (kept anyway on failure)
set -euo pipefail

E2E_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONFORMANCE_HOME="$(cd "$E2E_HOME/../conformance" && pwd)"
TARGET="${FMB_E2E_TARGET:-brokerd}"
# shellcheck source=lib/gateway.sh
source "$E2E_HOME/lib/gateway.sh"

case "$TARGET" in
  brokerd)
    if [[ $# -lt 1 || "$1" == -* ]]; then
      echo "usage: $0 BUILD_DIR [extra args]    (or FMB_E2E_TARGET=supergateway $0 [extra args])" >&2
      exit 2
    fi
    DAEMON="$(cd "$1" 2>/dev/null && pwd || echo "$1")/bin/forgejo-mcp-brokerd"
    shift
    if [[ ! -x "$DAEMON" ]]; then
      echo "conformance: $DAEMON is missing or not executable (build the daemon first)" >&2
      echo "conformance: 0 passed, 1 failed"
      exit 1
    fi
    ;;
  supergateway)
    ensure_node_modules
    ;;
  *)
    echo "conformance: FMB_E2E_TARGET must be brokerd or supergateway, not \"$TARGET\"" >&2
    exit 2
    ;;
esac

# The suite and the fixture's SDK (npm ci on first use).
"$CONFORMANCE_HOME/run.sh" --install

WORK="$(mktemp -d "${TMPDIR:-/tmp}/fmb-conformance.XXXXXX")"
MARKER="fmb-conformance-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  gateway_cleanup
  if [[ "${FMB_E2E_KEEP_LOGS:-0}" == 1 || $status -ne 0 ]]; then
    echo "conformance: gateway log kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every scenario opens a session and never deletes it (33 per run): a short idle
# timeout keeps their children from piling up.
SUPERGATEWAY_SESSION_TIMEOUT_MS=60000
if ! gateway_start "$NODE_BIN $CONFORMANCE_HOME/fixture-server.mjs" --idle-timeout 60; then
  echo "conformance: 0 passed, 1 failed"
  exit 1
fi
echo "conformance: $TARGET (pid $GATEWAY_PID) at $GATEWAY_URL; log: $GATEWAY_LOG" >&2

suite_status=0
"$CONFORMANCE_HOME/run.sh" "$GATEWAY_URL" "$@" || suite_status=$?

gateway_stop
if [[ "$GATEWAY_STATUS" == 0 ]]; then
  echo "conformance: $TARGET exited with status 0 after SIGTERM" >&2
else
  echo "conformance: warning: $TARGET stopped with status $GATEWAY_STATUS after SIGTERM" >&2
fi
exit "$suite_status"
