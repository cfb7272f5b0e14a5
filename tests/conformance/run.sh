#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance 0.1.16,
# pinned with the SDK in package-lock.json here) against a Streamable HTTP
# endpoint that fronts fixture-server.mjs over stdio.
#
#   tests/conformance/run.sh --install          npm ci here (when the lock changed), nothing else
#   tests/conformance/run.sh URL [suite args]   every server scenario (--suite all: 30 active
#                                               + 2 pending); extra args come after, so
#                                               `--scenario NAME` or `--suite active` override it
#
# Prints a PASS/FAIL line per scenario, then `conformance: N passed, M failed`;
# exits 0 only when M is 0. Runs on the project's pinned Node (.ci/node.sh).
#
# Environment:
#   CONFORMANCE_RESULTS_DIR  where the suite's log and checks.json files go (default: mktemp -d)
#   CONFORMANCE_TIMEOUT      limit in seconds for the suite (default 900)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=.ci/node.sh
source "$HERE/../../.ci/node.sh"
fmb_use_node

stamp="$HERE/node_modules/.fmb-conformance-lock"
if [[ ! -f "$stamp" ]] || ! cmp -s "$HERE/package-lock.json" "$stamp"; then
  echo "conformance: installing the suite and the SDK (npm ci in $HERE)" >&2
  (cd "$HERE" && timeout --kill-after=10 600 npm ci --no-audit --no-fund) >&2
  cp "$HERE/package-lock.json" "$stamp"
fi
if [[ "${1:-}" == --install ]]; then
  exit 0
fi
if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: $0 URL [args for 'conformance server']    or    $0 --install" >&2
  exit 2
fi
URL="$1"
shift

RESULTS="${CONFORMANCE_RESULTS_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/fmb-conformance-results.XXXXXX")}"
mkdir -p "$RESULTS"
echo "conformance: suite against $URL (log and checks.json files in $RESULTS)" >&2

status=0
(
  cd "$RESULTS"
  NO_COLOR=1 timeout --kill-after=10 "${CONFORMANCE_TIMEOUT:-900}" \
    node "$HERE/node_modules/@modelcontextprotocol/conformance/dist/index.js" \
    server --url "$URL" --suite all -o "$RESULTS" "$@"
) >"$RESULTS/suite.log" 2>&1 || status=$?

exec node "$HERE/report.mjs" "$RESULTS" "$RESULTS/suite.log" "$status"
