#!/usr/bin/env bash
# Release check: the README's two commands on a really fresh Debian 12. Builds a
# minimal Debian 12 root with mmdebstrap (variant minbase + ca-certificates + git,
# Debian's own packages only), clones the current commit into it, and there
#   serve: starts `bash .ci/serve`, waits for its `listening on` line, runs the
#          README's client example (tests/e2e/client-example.sh) against it, stops it;
#   test:  runs `bash .ci/test`.
# It measures each step's time and the root's disk use (du) before and after each
# command, and prints a summary. Only committed work is tested (a clone of HEAD).
#
#   sudo .ci/fresh-debian.sh              serve, then the full test command
#   sudo .ci/fresh-debian.sh --quick      test with FMB_SKIP_ASAN=1 FMB_SKIP_FUZZ=1
#   options: --serve-only, --test-only, --port N (serve's port, default 8080),
#            --dir DIR (default /var/tmp/fmb-fresh-debian; the root is DIR/root and is
#            made anew), --keep (leave the root behind; it is removed otherwise)
#
# Needs root, network access to deb.debian.org and registry.npmjs.org, and about
# 4 GB of disk. Installs mmdebstrap with apt-get when it is missing. Runs the
# commands with chroot in private mount and pid namespaces (unshare): their /proc,
# /sys and /dev mounts go away with them, and so does every process they started.
# Not run by CI (root, namespaces, about 23 minutes with --quick on 2 cores): run it
# before a release. README.md ("Time, disk, and a check on a fresh Debian 12") has the figures.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR=/var/tmp/fmb-fresh-debian
PORT=8080
KEEP=0
QUICK=0
SERVE=1
TEST=1
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --serve-only) TEST=0 ;;
    --test-only) SERVE=0 ;;
    --keep) KEEP=1 ;;
    --port) PORT="$2"; shift ;;
    --dir) DIR="$2"; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-debian: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ $(id -u) -ne 0 ]]; then
  echo "fresh-debian: run as root (mmdebstrap, chroot and mounts need it)" >&2
  exit 2
fi

ROOTFS="$DIR/root"
# The clone, as seen inside the root. Not under /root (mode 0700): tst_brokerctl
# runs brokerctl as nobody, which cannot start a program in there.
SRC=/srv/forgejo-mcp-broker
SUMMARY="$DIR/summary.txt"
COMMIT="$(git -C "$REPO" rev-parse HEAD)"
if [[ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]]; then
  echo "fresh-debian: warning: uncommitted changes are not tested (the root gets a clone of $COMMIT)" >&2
fi
say() { printf '%s fresh-debian: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
disk() { du -sxm "$ROOTFS" | cut -f1; } # MB, this file system only
record() { say "$*"; echo "$*" >>"$SUMMARY"; }

# in_root COMMAND...: COMMAND inside the root, with a clean environment.
# shellcheck disable=SC2016 # expanded by the inner bash
in_root() {
  unshare --mount --pid --fork --kill-child=SIGKILL --propagation private -- bash -c '
    set -e
    rootfs="$1"; shift
    mount --rbind /dev "$rootfs/dev"
    mount -t proc proc "$rootfs/proc"
    mount -t sysfs sysfs "$rootfs/sys"
    exec chroot "$rootfs" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"' _ "$ROOTFS" "${ROOT_ENV[@]}" "$@"
}
ROOT_ENV=() # NAME=VALUE for every command in the root

mkdir -p "$DIR"
: >"$SUMMARY"
if ! command -v mmdebstrap >/dev/null 2>&1; then
  say "installing mmdebstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap
fi
rm -rf "$ROOTFS"

t0=$(date +%s)
say "mmdebstrap: Debian 12 minbase + ca-certificates + git in $ROOTFS"
mmdebstrap --variant=minbase --include=ca-certificates,git --mode=root bookworm "$ROOTFS" \
  "deb http://deb.debian.org/debian bookworm main" \
  "deb http://deb.debian.org/debian bookworm-updates main" \
  "deb http://deb.debian.org/debian-security bookworm-security main"
# What every installed machine has and a bare root lacks: name resolution, a
# hosts file; and, as in Debian's container images, no service starts from a
# package's postinst (openssh-server would try to start sshd on the host's port 22).
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
[[ -s "$ROOTFS/etc/hosts" ]] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOTFS/etc/hosts"
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
# Behind a TLS-intercepting proxy the host trusts the proxy's CA from
# /usr/local/share/ca-certificates: the root gets the same certificates, and the
# official Node binary (which has its own roots) is pointed at the system store.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
  in_root update-ca-certificates >/dev/null
  ROOT_ENV=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
  record "local CA certificates of the host copied in: $(cd /usr/local/share/ca-certificates && echo *.crt)"
fi
git clone --quiet --no-hardlinks "$REPO" "$ROOTFS$SRC"
git -C "$ROOTFS$SRC" checkout --quiet --detach "$COMMIT"
record "commit: $COMMIT"
record "root: $(disk) MB after mmdebstrap and the clone ($(($(date +%s) - t0)) s)"

status=0
if ((SERVE)); then
  say "serve: bash .ci/serve --listen 127.0.0.1:$PORT (log: $ROOTFS/root/serve.log)"
  t0=$(date +%s)
  # shellcheck disable=SC2016 # expanded inside the root
  if in_root bash -c '
      cd "$1"
      bash .ci/serve --listen "127.0.0.1:$2" >/root/serve.log 2>&1 &
      serve=$!
      until grep -q "listening on http://" /root/serve.log; do
        kill -0 "$serve" 2>/dev/null || { echo "serve: exited before listening"; tail -n 30 /root/serve.log; exit 1; }
        sleep 2
      done
      echo "serve: $(grep -m1 "listening on http://" /root/serve.log) after $(($(date +%s) - $3)) s"
      ok=0
      tests/e2e/client-example.sh "http://127.0.0.1:$2/mcp" >/root/client.json && grep -q "\"echo\"" /root/client.json || ok=$?
      echo "client example: $(grep -c "\"name\"" /root/client.json) names in tools/list (status $ok)"
      kill -TERM "$serve"
      wait "$serve" || true
      exit "$ok"' _ "$SRC" "$PORT" "$t0"; then
    record "serve: passed in $(($(date +%s) - t0)) s (install, build, start, client example, stop); root now $(disk) MB"
  else
    status=1
    record "serve: FAILED after $(($(date +%s) - t0)) s; root now $(disk) MB (log: $ROOTFS/root/serve.log)"
  fi
fi

if ((TEST)); then
  skips=()
  ((QUICK)) && skips=(FMB_SKIP_ASAN=1 FMB_SKIP_FUZZ=1)
  say "test: ${skips[*]} bash .ci/test (log: $ROOTFS/root/test.log)"
  before=$(disk)
  t0=$(date +%s)
  # shellcheck disable=SC2016 # expanded inside the root
  if in_root bash -c 'cd "$1"; shift; env "$@" bash .ci/test >/root/test.log 2>&1' _ "$SRC" "${skips[@]}"; then
    record "test: ${skips[*]} passed in $(($(date +%s) - t0)) s; root $before -> $(disk) MB"
  else
    status=1
    record "test: ${skips[*]} FAILED after $(($(date +%s) - t0)) s; root $before -> $(disk) MB; log tail:"
    tail -n 40 "$ROOTFS/root/test.log" | tee -a "$SUMMARY"
  fi
  grep -E '^== ' "$ROOTFS/root/test.log" | tee -a "$SUMMARY" || true
fi

say "summary ($SUMMARY):"
cat "$SUMMARY"
if ((KEEP == 0 && status == 0)); then
  rm -rf "$ROOTFS"
else
  say "the root stays in $ROOTFS"
fi
exit "$status"
