#!/usr/bin/env bash
# Installs what building, running and testing the broker needs on Debian 12,
# skipping what is already there. Needs root (or sudo) for apt.
#   .ci/deps.sh            build and run dependencies + the npm packages
#   .ci/deps.sh --test     also what the tests use (sshd, xvfb, clang tools, and
#                          clang with libFuzzer and llvm-symbolizer for tests/fuzz)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(cmake ninja-build g++ pkg-config qt6-base-dev qt6-httpserver-dev qt6-websockets-dev
          qt6-tools-dev qt6-tools-dev-tools qt6-l10n-tools libqt6sql6-sqlite libqt6sql6-psql libssl-dev nodejs npm)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(openssh-server openssh-client xvfb xauth clang-format procps curl)
    # A throwaway PostgreSQL cluster for the store tests (tests/support/PgCluster),
    # HAProxy in front of two brokers for the cluster e2e test (tests/e2e/lib/cluster.sh).
    packages+=(postgresql haproxy)
    # libFuzzer ships in libclang-rt-14-dev, which clang only recommends.
    packages+=(clang libclang-rt-14-dev llvm)
    # The Debian packages (.ci/packages.sh): build, lint, validate.
    # build-essential: dpkg-checkbuilddeps wants it even where g++ and make are installed.
    packages+=(build-essential debhelper dpkg-dev fakeroot help2man lintian appstream desktop-file-utils ccache)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian's nodejs and npm (Node 18) are only there to install the project's pinned
# Node.js (.ci/node.sh), which then runs everything: any npm already on PATH will do.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The pinned MCP packages (server-everything for the default child, the SDK
# client, inspector-cli and supergateway for the tests), installed with the pinned Node.
# The same check and stamp as tests/e2e/run.sh (ensure_node_modules), so it does not
# install again; sourcing gateway.sh installs the pinned Node.js first (.ci/node.sh).
E2E_HOME="$ROOT/tests/e2e"
# shellcheck source=tests/e2e/lib/gateway.sh
source "$E2E_HOME/lib/gateway.sh"
ensure_node_modules
