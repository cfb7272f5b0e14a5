# shellcheck shell=bash
# Sourced by run.sh and conformance.sh: start, stop and clean up the gateway
# under test (forgejo-mcp-brokerd, or supergateway 4.0.0 for comparison).
#
# The caller sets, before gateway_start:
#   E2E_HOME      tests/e2e (for node_modules and lib/)
#   TARGET        brokerd | supergateway
#   DAEMON        path of forgejo-mcp-brokerd (brokerd only)
#   WORK          a scratch folder (the log goes to $WORK/gateway.log)
#   MARKER        a random string: the gateway's children get FMB_E2E_MARKER=$MARKER
#                 in their environment, so the ones left behind can be found
# and after it has: GATEWAY_PID, GATEWAY_URL (http://HOST:PORT/mcp), GATEWAY_LOG.

# The project's pinned Node.js goes first on PATH (installed on first use).
# shellcheck source=.ci/node.sh
source "$E2E_HOME/../../.ci/node.sh"
fmb_use_node || exit 1
# Children are started as "$NODE_BIN ...": an absolute path, so they start even
# when the gateway gives its children an environment without PATH.
# shellcheck disable=SC2034 # read by the scripts that source this file
NODE_BIN="$(command -v node)"
GATEWAY_START_TIMEOUT="${GATEWAY_START_TIMEOUT:-30}" # seconds to print the listening line
GATEWAY_STOP_TIMEOUT="${GATEWAY_STOP_TIMEOUT:-20}"   # seconds to exit after SIGTERM
# shellcheck disable=SC2034 # read by the scripts that source this file
GATEWAY_PID=""
GATEWAY_URL=""
GATEWAY_LOG=""
GATEWAY_STATUS=""

# marked_pids [MARKER]: pids of processes that carry MARKER (default: this
# run's marker) in their environment: a broker's children. The scripts never
# export a marker themselves.
marked_pids() {
  grep -lzxF "FMB_E2E_MARKER=${1:-$MARKER}" /proc/[0-9]*/environ 2>/dev/null \
    | sed -e 's#^/proc/##' -e 's#/environ$##' | grep -vx "$$" || true
}

# gateway_start CHILD_COMMAND [extra forgejo-mcp-brokerd arguments...]
# Returns non-zero (after printing the log) when the gateway does not come up.
gateway_start() {
  local child_command="$1"
  shift
  GATEWAY_LOG="$WORK/gateway.log"
  local listening_re port=""
  if [[ "$TARGET" == brokerd ]]; then
    "$DAEMON" --auth none --listen 127.0.0.1:0 \
      --child-command "$child_command" \
      --child-env "FMB_E2E_MARKER=$MARKER" \
      "$@" </dev/null >"$GATEWAY_LOG" 2>&1 &
    GATEWAY_PID=$!
    listening_re='listening on http://[^[:space:]/]+'
  else
    # supergateway has no listen-host option and no port 0: pick a free loopback
    # port and bind to 127.0.0.1 through the loopback-only preload. Its children
    # inherit its environment, so the marker goes there. It exits when its stdin
    # closes, so its stdin is a FIFO that it holds open itself.
    port="$(node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    rm -f "$WORK/gateway.stdin"
    mkfifo "$WORK/gateway.stdin"
    exec 3<>"$WORK/gateway.stdin"
    FMB_E2E_MARKER="$MARKER" NODE_OPTIONS="--require $E2E_HOME/lib/loopback-only.cjs" \
      "$E2E_HOME/node_modules/.bin/supergateway" --stdio "$child_command" \
      --outputTransport streamableHttp --stateful --port "$port" \
      --sessionTimeout "${SUPERGATEWAY_SESSION_TIMEOUT_MS:-120000}" \
      <&3 >"$GATEWAY_LOG" 2>&1 &
    GATEWAY_PID=$!
    exec 3<&-
    listening_re="Listening on port $port"
  fi

  local line
  for _ in $(seq 1 $((GATEWAY_START_TIMEOUT * 10))); do
    if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
      echo "$TARGET exited during start-up; its log:" >&2
      cat "$GATEWAY_LOG" >&2
      GATEWAY_PID=""
      return 1
    fi
    line="$(grep -oE "$listening_re" "$GATEWAY_LOG" | head -n1 || true)"
    if [[ -n "$line" ]]; then
      if [[ "$TARGET" == brokerd ]]; then
        GATEWAY_URL="${line#listening on }/mcp"
      else
        # shellcheck disable=SC2034 # read by the scripts that source this file
        GATEWAY_URL="http://127.0.0.1:$port/mcp"
      fi
      return 0
    fi
    sleep 0.1
  done
  echo "$TARGET printed no listening line within ${GATEWAY_START_TIMEOUT}s; its log:" >&2
  cat "$GATEWAY_LOG" >&2
  return 1
}

# gateway_stop: SIGTERM, then wait up to GATEWAY_STOP_TIMEOUT. Sets GATEWAY_STATUS
# to the exit status, or to "timeout" when the gateway was still running (it is
# then SIGKILLed). Call it directly, not in $(...): only this shell can wait for it.
gateway_stop() {
  local pid="$GATEWAY_PID" status=""
  GATEWAY_STATUS=not-running
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((GATEWAY_STOP_TIMEOUT * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      status=0
      wait "$pid" 2>/dev/null || status=$?
      break
    fi
    sleep 0.1
  done
  if [[ -z "$status" ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    status=timeout
  fi
  GATEWAY_PID=""
  # shellcheck disable=SC2034 # read by the scripts that source this file
  GATEWAY_STATUS="$status"
}

# For an EXIT trap: end the gateway and whatever it left behind, never fails.
gateway_cleanup() {
  if [[ -n "$GATEWAY_PID" ]] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
    GATEWAY_STOP_TIMEOUT=5 gateway_stop
  fi
  local leftover
  leftover="$(marked_pids)"
  if [[ -n "$leftover" ]]; then
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL $leftover 2>/dev/null || true
  fi
}

# npm ci in tests/e2e when node_modules is missing or came from another lock file.
ensure_node_modules() {
  local stamp="$E2E_HOME/node_modules/.fmb-e2e-lock.sha256" sum
  sum="$(sha256sum "$E2E_HOME/package-lock.json" | cut -d' ' -f1)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$sum" ]]; then
    echo "installing test dependencies (npm ci in $E2E_HOME)" >&2
    (cd "$E2E_HOME" && timeout --kill-after=10 600 npm ci --no-audit --no-fund) >&2
    echo "$sum" >"$stamp"
  fi
}
