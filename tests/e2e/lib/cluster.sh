# shellcheck shell=bash
# Sourced by run.sh: a two-broker cluster for test/cluster.test.mjs (issue 14).
# A throwaway PostgreSQL (initdb into a temporary directory, as nobody when
# run as root, on a Unix socket only), fmb-fake-forgejo, two forgejo-mcp-brokerd
# with --database postgresql://... and one --secret-key-file, and HAProxy 2.6
# in front with the configuration of docs/deployment.md (cluster_haproxy_config
# takes it from there), run as plain processes on loopback ports.
#
# The caller sets, before cluster_start:
#   DAEMON, OAUTH_TEST_BIN, WORK, MARKER   as for oauth_start
# and after it has (exported for the node test through cluster_env):
#   CLUSTER_URL         http://127.0.0.1:PORT, HAProxy: the brokers' public URL
#   CLUSTER_A_URL/_B_URL  each broker directly; CLUSTER_A_PID/_B_PID
#   CLUSTER_FORGEJO_URL the fake Forgejo
#   CLUSTER_MIGRATE_URL a loopback URL the fake accepts as a broker's public URL too, and
#   CLUSTER_MIGRATE_DB  an empty database: test/migrate.test.mjs runs a single SQLite
#                       broker there, then migrate-store into CLUSTER_MIGRATE_DB
#   (and each broker's admin socket, $CLUSTER_DIR/X/admin.sock, issue 14; and
#   PostgreSQL's bin folder and directory, for the outage test's pg_ctl stop/start)
#   CLUSTER_SKIP        why the cluster cannot run here (then nothing was started)
# Broker X's children carry FMB_E2E_MARKER=$MARKER-cluster-X.

CLUSTER_URL=""
CLUSTER_A_URL=""
CLUSTER_B_URL=""
CLUSTER_A_PID=""
CLUSTER_B_PID=""
CLUSTER_FORGEJO_URL=""
CLUSTER_MIGRATE_URL=""
CLUSTER_MIGRATE_DB=""
CLUSTER_SKIP=""
CLUSTER_PG_PID=""
CLUSTER_PG_DIR=""
CLUSTER_HAPROXY_PID=""
CLUSTER_FAKE_PID=""
CLUSTER_DIR=""

# The newest /usr/lib/postgresql/<major>/bin with initdb and postgres (as PgCluster).
cluster_pg_bin() {
  local dir
  for dir in $(printf "%s\n" /usr/lib/postgresql/*/bin | sort -t/ -k5 -n -r); do
    if [[ -x "$dir/initdb" && -x "$dir/postgres" ]]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

cluster_free_port() {
  node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# cluster_as_pg_user CMD...: as nobody when we are root (PostgreSQL refuses root).
cluster_as_pg_user() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

# cluster_wait_for PID LOG PATTERN: returns 0 once LOG matches PATTERN, non-zero
# when PID exits first or 30 s pass.
cluster_wait_for() {
  local pid="$1" log="$2" pattern="$3"
  for _ in $(seq 1 300); do
    grep -qE "$pattern" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# cluster_haproxy_config LISTEN_PORT PORT_A PORT_B: the ```haproxy block of
# docs/deployment.md ("Several brokers"), verbatim but for its addresses: the
# bind line and the two brokers' 10.0.0.11:8931 / 10.0.0.12:8931.
cluster_haproxy_config() {
  local port="$1" port_a="$2" port_b="$3" doc="$E2E_HOME/../../docs/deployment.md" config
  config="$(awk '/^```haproxy$/ {on = 1; next} on && /^```$/ {exit} on {print}' "$doc")"
  if ! grep -q '10.0.0.11:8931' <<<"$config" || ! grep -q '10.0.0.12:8931' <<<"$config" ||
    ! grep -qE '^ *bind ' <<<"$config"; then
    echo "no HAProxy configuration with bind, 10.0.0.11:8931 and 10.0.0.12:8931 in $doc" >&2
    return 1
  fi
  sed -e "s#^\( *bind \).*#\1127.0.0.1:$port#" -e "s#10\.0\.0\.11:8931#127.0.0.1:$port_a#" \
    -e "s#10\.0\.0\.12:8931#127.0.0.1:$port_b#" <<<"$config"
}

# cluster_broker NAME PORT: starts one broker; sets CLUSTER_<NAME>_PID.
cluster_broker() {
  local name="$1" port="$2" upper pid
  upper="$(echo "$name" | tr '[:lower:]' '[:upper:]')"
  mkdir -p "$CLUSTER_DIR/$name/state"
  chmod 700 "$CLUSTER_DIR/$name" "$CLUSTER_DIR/$name/state"
  "$DAEMON" --auth oauth --listen "127.0.0.1:$port" --public-url "$CLUSTER_URL" --node-id "broker-$name" \
    --database "postgresql://fmb@:5432/fmb?host=$CLUSTER_PG_DIR" --secret-key-file "$CLUSTER_DIR/upstream.key" \
    --forgejo-url "$CLUSTER_FORGEJO_URL" --forgejo-client-id "$OAUTH_CLIENT_ID" \
    --forgejo-client-secret-file "$CLUSTER_DIR/client-secret" --state-dir "$CLUSTER_DIR/$name/state" \
    --child-stop-grace 1s --child-command "$OAUTH_TEST_BIN/fmb-test-mcp-server" \
    --max-sessions-per-user 0 --refresh-lead 30s --rotate-interval 1s --child-env "FMB_E2E_MARKER=$MARKER-cluster-$name" --admin-socket "$CLUSTER_DIR/$name/admin.sock" \
    </dev/null >"$CLUSTER_DIR/broker-$name.log" 2>&1 &
  pid=$!
  printf -v "CLUSTER_${upper}_PID" '%s' "$pid"
}

# Returns non-zero (after printing logs) when a part does not come up; returns 0
# with CLUSTER_SKIP set when postgres or haproxy is not installed.
cluster_start() {
  local pg_bin haproxy_port port_a port_b
  if ! pg_bin="$(cluster_pg_bin)"; then
    CLUSTER_SKIP="PostgreSQL server binaries not installed (Debian package postgresql)"
    return 0
  fi
  if ! command -v haproxy >/dev/null; then
    CLUSTER_SKIP="haproxy not installed (Debian package haproxy)"
    return 0
  fi
  CLUSTER_DIR="$WORK/cluster"
  mkdir -p "$CLUSTER_DIR"
  chmod 700 "$CLUSTER_DIR"

  # PostgreSQL: its own directory, handed to nobody ($WORK is private to us).
  CLUSTER_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/fmb-e2e-pg.XXXXXX")"
  [[ $(id -u) -eq 0 ]] && chown nobody "$CLUSTER_PG_DIR"
  if ! cluster_as_pg_user env LC_ALL=C "$pg_bin/initdb" -D "$CLUSTER_PG_DIR/data" -U fmb -A trust -E UTF8 \
    --locale=C --no-sync >"$CLUSTER_DIR/initdb.log" 2>&1; then
    echo "initdb failed; its log:" >&2
    cat "$CLUSTER_DIR/initdb.log" >&2
    return 1
  fi
  cluster_as_pg_user env LC_ALL=C "$pg_bin/postgres" -D "$CLUSTER_PG_DIR/data" -k "$CLUSTER_PG_DIR" -p 5432 \
    -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
    </dev/null >"$CLUSTER_DIR/postgres.log" 2>&1 &
  CLUSTER_PG_PID=$!
  if ! cluster_wait_for "$CLUSTER_PG_PID" "$CLUSTER_DIR/postgres.log" "ready to accept connections"; then
    echo "postgres did not come up; its log:" >&2
    cat "$CLUSTER_DIR/postgres.log" >&2
    return 1
  fi
  if ! "$pg_bin/createdb" -h "$CLUSTER_PG_DIR" -p 5432 -U fmb fmb >>"$CLUSTER_DIR/initdb.log" 2>&1 ||
    ! "$pg_bin/createdb" -h "$CLUSTER_PG_DIR" -p 5432 -U fmb fmb_migrate >>"$CLUSTER_DIR/initdb.log" 2>&1; then
    echo "createdb failed:" >&2
    cat "$CLUSTER_DIR/initdb.log" >&2
    return 1
  fi

  # What every broker of the cluster shares: the upstream-token key and the client secret.
  (umask 077 && head -c 32 /dev/urandom >"$CLUSTER_DIR/upstream.key")
  (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$CLUSTER_DIR/client-secret")
  haproxy_port="$(cluster_free_port)"
  port_a="$(cluster_free_port)"
  port_b="$(cluster_free_port)"
  CLUSTER_URL="http://127.0.0.1:$haproxy_port"
  CLUSTER_A_URL="http://127.0.0.1:$port_a"
  CLUSTER_B_URL="http://127.0.0.1:$port_b"
  CLUSTER_MIGRATE_URL="http://127.0.0.1:$(cluster_free_port)"
  CLUSTER_MIGRATE_DB="postgresql://fmb@:5432/fmb_migrate?host=$CLUSTER_PG_DIR"

  "$OAUTH_TEST_BIN/fmb-fake-forgejo" --listen 127.0.0.1:0 --client-id "$OAUTH_CLIENT_ID" \
    --client-secret-file "$CLUSTER_DIR/client-secret" --redirect-uri "$CLUSTER_URL/oauth/callback" \
    --redirect-uri "$CLUSTER_MIGRATE_URL/oauth/callback" \
    --access-ttl 3600 --user alice:1 </dev/null >"$CLUSTER_DIR/fake-forgejo.log" 2>&1 &
  CLUSTER_FAKE_PID=$!
  if ! CLUSTER_FORGEJO_URL="$(oauth_wait_listening "$CLUSTER_FAKE_PID" "$CLUSTER_DIR/fake-forgejo.log")"; then
    echo "fmb-fake-forgejo (cluster) did not come up; its log:" >&2
    cat "$CLUSTER_DIR/fake-forgejo.log" >&2
    return 1
  fi
  CLUSTER_FORGEJO_URL="http://${CLUSTER_FORGEJO_URL#http://}"

  # Both at once: the schema migration must be safe when brokers start together.
  cluster_broker a "$port_a"
  cluster_broker b "$port_b"
  local name pid
  for name in a b; do
    pid="CLUSTER_$(echo "$name" | tr '[:lower:]' '[:upper:]')_PID"
    if ! oauth_wait_listening "${!pid}" "$CLUSTER_DIR/broker-$name.log" >/dev/null; then
      echo "cluster broker $name did not come up; its log:" >&2
      cat "$CLUSTER_DIR/broker-$name.log" >&2
      return 1
    fi
  done

  cluster_haproxy_config "$haproxy_port" "$port_a" "$port_b" >"$CLUSTER_DIR/haproxy.cfg" || return 1
  haproxy -db -f "$CLUSTER_DIR/haproxy.cfg" </dev/null >"$CLUSTER_DIR/haproxy.log" 2>&1 &
  CLUSTER_HAPROXY_PID=$!
  for _ in $(seq 1 100); do
    # Both brokers in the pool (two health checks passed each) before the tests start.
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$CLUSTER_URL/healthz")" == 200 ]]; then
      return 0
    fi
    kill -0 "$CLUSTER_HAPROXY_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "haproxy did not come up; its log:" >&2
  cat "$CLUSTER_DIR/haproxy.log" >&2
  return 1
}

# The node test's environment (env NAME=VALUE ... words).
cluster_env() {
  if [[ -n "$CLUSTER_SKIP" ]]; then
    echo "FMB_E2E_CLUSTER_SKIP=$CLUSTER_SKIP"
    return 0
  fi
  echo "FMB_E2E_CLUSTER_URL=$CLUSTER_URL"
  echo "FMB_E2E_CLUSTER_A_URL=$CLUSTER_A_URL"
  echo "FMB_E2E_CLUSTER_B_URL=$CLUSTER_B_URL"
  echo "FMB_E2E_CLUSTER_A_PID=$CLUSTER_A_PID"
  echo "FMB_E2E_CLUSTER_B_PID=$CLUSTER_B_PID"
  echo "FMB_E2E_CLUSTER_FORGEJO_URL=$CLUSTER_FORGEJO_URL"
  echo "FMB_E2E_CLUSTER_MIGRATE_URL=$CLUSTER_MIGRATE_URL"
  echo "FMB_E2E_CLUSTER_MIGRATE_DB=$CLUSTER_MIGRATE_DB"
  echo "FMB_E2E_CLUSTER_DIR=$CLUSTER_DIR"
  echo "FMB_E2E_CLUSTER_CLIENT_ID=$OAUTH_CLIENT_ID"
  echo "FMB_E2E_DAEMON=$DAEMON"
  echo "FMB_E2E_TEST_BIN=$OAUTH_TEST_BIN"
  echo "FMB_E2E_CLUSTER_MARKER=$MARKER-cluster"
  echo "FMB_E2E_CLUSTER_PG_BIN=$(cluster_pg_bin)"
  echo "FMB_E2E_CLUSTER_PG_DIR=$CLUSTER_PG_DIR"
  echo "FMB_E2E_CLUSTER_A_ADMIN_SOCKET=$CLUSTER_DIR/a/admin.sock"
  echo "FMB_E2E_CLUSTER_B_ADMIN_SOCKET=$CLUSTER_DIR/b/admin.sock"
}

# cluster_stop_pid PID: SIGTERM (SIGKILL after 10 s); never fails.
cluster_stop_pid() {
  local pid="$1"
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Ends everything cluster_start started (a broker the test killed is gone
# already); never fails. Safe to call twice.
cluster_cleanup() {
  cluster_stop_pid "$CLUSTER_HAPROXY_PID"
  cluster_stop_pid "$CLUSTER_A_PID"
  cluster_stop_pid "$CLUSTER_B_PID"
  cluster_stop_pid "$CLUSTER_FAKE_PID"
  if [[ -n "$CLUSTER_PG_PID" && -f "$CLUSTER_PG_DIR/data/postmaster.pid" ]]; then
    # A fast shutdown that returns only once the postmaster and all its
    # processes are gone: signalling the runuser wrapper alone can leave a
    # checkpointer writing into pg_wal while we remove the directory.
    cluster_as_pg_user "$(cluster_pg_bin)/pg_ctl" -D "$CLUSTER_PG_DIR/data" -m fast -w -t 30 stop \
      >/dev/null 2>&1 || true
  fi
  cluster_stop_pid "$CLUSTER_PG_PID"
  CLUSTER_HAPROXY_PID="" CLUSTER_A_PID="" CLUSTER_B_PID="" CLUSTER_FAKE_PID="" CLUSTER_PG_PID=""
  if [[ -n "$CLUSTER_PG_DIR" ]]; then
    rm -rf "$CLUSTER_PG_DIR" 2>/dev/null || {
      sleep 1
      rm -rf "$CLUSTER_PG_DIR" || echo "e2e: could not remove $CLUSTER_PG_DIR" >&2
    }
    CLUSTER_PG_DIR=""
  fi
  return 0
}
