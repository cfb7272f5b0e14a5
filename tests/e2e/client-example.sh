#!/usr/bin/env bash
# The README's client example: the MCP Inspector CLI (@modelcontextprotocol/inspector-cli,
# pinned in package-lock.json here) talks to a running broker over Streamable HTTP.
#
#   tests/e2e/client-example.sh                      tools/list at http://127.0.0.1:8080/mcp
#   tests/e2e/client-example.sh URL                  tools/list at URL
#   tests/e2e/client-example.sh URL ARGS...          other inspector-cli arguments, e.g.
#       --method tools/call --tool-name echo --tool-arg message=hello
#
# Prints the CLI's JSON answer. Runs on the project's pinned Node (.ci/node.sh) and
# installs tests/e2e/node_modules on first use.
set -euo pipefail
E2E_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/e2e/lib/gateway.sh
source "$E2E_HOME/lib/gateway.sh"
ensure_node_modules

url="${1:-http://127.0.0.1:8080/mcp}"
shift || true
(($#)) || set -- --method tools/list
# inspector-cli 1.0.3 finds its own package.json as "../package.json" from the
# working directory, so it only starts from its build/ folder.
cd "$E2E_HOME/node_modules/@modelcontextprotocol/inspector-cli/build"
exec node cli.js --cli "$url" --transport http "$@"
