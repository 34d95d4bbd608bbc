#!/usr/bin/env bash
# A local cluster on one machine (docs/scaling.md): a streaming read replica of the PostgreSQL 15 primary
# (pg_basebackup), pgBouncer, two app nodes behind nginx, the shared Redis tile cache, two job workers and the hazard
# consumer. Runs in the foreground; Ctrl-C (or SIGTERM) stops every process it started and the replica.
#
# Environment (defaults): CLUSTER_DB=citygis, CLUSTER_PORT=8080 (nginx), NODE_PORTS="8001 8002",
# REPLICA_PORT=5433, CLUSTER_DIR=$CITYGIS_VAR_DIR/cluster, CLUSTER_REDIS_DB=2 (tile cache), NODE_WORKERS=2,
# CLUSTER_WORKERS=2 (job workers; 0 = none), CLUSTER_CONSUMER=1 (hazard consumer; 0 = none),
# CLUSTER_REPLICA=1 (0: every node reads the primary), CLUSTER_TILE_CACHE=redis (file: each node's own disk),
# CLUSTER_POOLER=1 (pgBouncer on POOL_PORT=6433 in front of the primary; 0: nodes connect directly).
# With CLUSTER_TILE_CACHE=file, CITYGIS_TILE_ACCEL_REDIRECT=/_citygis_tilecache/ makes nginx send authorised cached
# tiles (X-Accel-Redirect, docs/deployment.md); the nodes inherit the variable.
# Prints "cluster ready: http://127.0.0.1:$CLUSTER_PORT" once nginx answers through both nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VAR="${CITYGIS_VAR_DIR:-$ROOT/var}"
DB="${CLUSTER_DB:-citygis}"
PORT="${CLUSTER_PORT:-8080}"
read -r -a NODES <<< "${NODE_PORTS:-8001 8002}"
REPLICA_PORT="${REPLICA_PORT:-5433}"
DIR="${CLUSTER_DIR:-$VAR/cluster}"
REDIS_DB="${CLUSTER_REDIS_DB:-2}"
SLOT="citygis_replica_${REPLICA_PORT}"
PGBIN=/usr/lib/postgresql/15/bin
VENV="$ROOT/.venv/bin"
log() { printf '\033[1;35m[cluster]\033[0m %s\n' "$*"; }
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else (cd /tmp && su postgres -s /bin/bash -c "$(printf '%q ' "$@")"); fi; }
PIDS=()

stop_all() {
  trap - EXIT INT TERM
  log "stopping"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -f "$DIR/replica/postmaster.pid" ]; then as_postgres "$PGBIN/pg_ctl" -D "$DIR/replica" -m fast -w stop >/dev/null || true; fi
  psql -X -q -d postgres -c "select pg_drop_replication_slot('$SLOT') from pg_replication_slots where slot_name = '$SLOT'" >/dev/null 2>&1 || true
}
trap stop_all EXIT
trap 'exit 0' INT TERM

mkdir -p "$DIR/logs" "$DIR/run" && touch "$DIR/logs/replica.log" && chown postgres "$DIR/logs/replica.log"
chmod 755 "$DIR"

unset DATABASE_REPLICA_URL CITYGIS_TILE_CACHE_REDIS_URL  # decided below, never inherited
if [ "${CLUSTER_REPLICA:-1}" = 1 ]; then
# 1. The primary lets a replication role in from 127.0.0.1 (the line is added once).
psql -X -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
do $$ begin
  if not exists (select 1 from pg_roles where rolname = 'citygis_replicator') then
    create role citygis_replicator with login replication;
  end if;
end $$;
SQL
HBA="$(psql -X -Atd postgres -c 'show hba_file')"
if ! grep -q "^host replication citygis_replicator 127.0.0.1/32" "$HBA"; then
  log "allowing streaming replication from 127.0.0.1 in $HBA"
  printf 'host replication citygis_replicator 127.0.0.1/32 trust\n' >> "$HBA"
  psql -X -q -d postgres -c "select pg_reload_conf()" >/dev/null
fi

# 2. A fresh standby: base backup with its own slot, then its own small configuration (Debian keeps the
#    primary's configuration outside the data directory, so the copy has none).
if [ -f "$DIR/replica/postmaster.pid" ]; then as_postgres "$PGBIN/pg_ctl" -D "$DIR/replica" -m fast -w stop >/dev/null || true; fi
psql -X -q -d postgres -c "select pg_drop_replication_slot('$SLOT') from pg_replication_slots where slot_name = '$SLOT'" >/dev/null
rm -rf "$DIR/replica" && mkdir -p "$DIR/replica" "$DIR/run" && chown postgres:postgres "$DIR/replica" "$DIR/run" && chmod 700 "$DIR/replica"
log "base backup of the primary into $DIR/replica"
as_postgres "$PGBIN/pg_basebackup" -h 127.0.0.1 -p 5432 -U citygis_replicator -D "$DIR/replica" -X stream -c fast --no-sync -C -S "$SLOT" -R
as_postgres bash -c "cat > '$DIR/replica/postgresql.conf' <<CONF
port = $REPLICA_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR/run'
hot_standby = on
recovery_init_sync_method = syncfs  # one syncfs() instead of an fsync per file at start
max_connections = 100
shared_buffers = 128MB
CONF
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' > '$DIR/replica/pg_hba.conf'
: > '$DIR/replica/pg_ident.conf'"
as_postgres "$PGBIN/pg_ctl" -D "$DIR/replica" -l "$DIR/logs/replica.log" -w start >/dev/null
log "replica streaming on 127.0.0.1:$REPLICA_PORT ($(psql -X -Atd postgres -c "select state from pg_stat_replication where application_name = 'walreceiver' limit 1"))"
export DATABASE_REPLICA_URL="postgis://127.0.0.1:$REPLICA_PORT/$DB"
fi

# 3. pgBouncer (transaction pooling) in front of the primary: many node connections share a few server ones.
export DATABASE_URL="${DATABASE_URL:-postgis:///$DB}"
if [ "${CLUSTER_POOLER:-1}" = 1 ]; then
  POOL_PORT="${POOL_PORT:-6433}"
  ME="$(id -un)"
  cat > "$DIR/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $POOL_PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/pgbouncer.users
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
pidfile = $DIR/run/pgbouncer.pid
logfile = $DIR/logs/pgbouncer.log
INI
  printf '"%s" ""\n' "$ME" > "$DIR/pgbouncer.users"
  touch "$DIR/logs/pgbouncer.log"
  chown postgres "$DIR/pgbouncer.ini" "$DIR/pgbouncer.users" "$DIR/logs/pgbouncer.log" "$DIR/run" 2>/dev/null || true
  if [ "$(id -u)" = 0 ]; then pgbouncer -u postgres "$DIR/pgbouncer.ini" & else pgbouncer "$DIR/pgbouncer.ini" & fi
  PIDS+=($!)
  for _ in $(seq 1 50); do psql -X -q -h 127.0.0.1 -p "$POOL_PORT" -d "$DB" -c "select 1" >/dev/null 2>&1 && break; sleep 0.1; done
  export DATABASE_URL="postgis://$ME@127.0.0.1:$POOL_PORT/$DB"
  export CITYGIS_DB_POOLER=transaction
  log "pgbouncer (transaction pooling) on 127.0.0.1:$POOL_PORT"
fi

# 4. Every node: shared Django cache and tile cache in Redis, the replica for the read paths, nginx trusted.
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/1}"
if [ "${CLUSTER_TILE_CACHE:-redis}" = redis ]; then export CITYGIS_TILE_CACHE_REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB"; fi
export CITYGIS_TRUSTED_PROXIES="127.0.0.1/32"
export CITYGIS_VAR_DIR="$VAR"
export CITYGIS_RENDERER="${CITYGIS_RENDERER:-fastcgi}"
"$VENV/citygis" generate_mapconfig >/dev/null  # MapServer now reads the replica, MapProxy caches in Redis
if [ "$CITYGIS_RENDERER" = fastcgi ]; then
  "$VENV/citygis" renderer >"$DIR/logs/renderer.log" 2>&1 &  # one persistent mapserv pool for this machine's nodes
  PIDS+=($!)
  for _ in $(seq 1 100); do [ -S "$VAR/mapserver/mapserv.sock" ] && break; sleep 0.1; done
fi

for port in "${NODES[@]}"; do
  rm -rf "$DIR/prometheus-$port" && mkdir -p "$DIR/prometheus-$port"
  PROMETHEUS_MULTIPROC_DIR="$DIR/prometheus-$port" "$VENV/gunicorn" city_gis.wsgi:application \
    --bind "127.0.0.1:$port" --workers "${NODE_WORKERS:-2}" --threads 4 --timeout 120 \
    --control-socket "$DIR/run/gunicorn-$port.ctl" --pid "$DIR/run/node-$port.pid" \
    >"$DIR/logs/node-$port.log" 2>&1 &
  PIDS+=($!)
done
for i in $(seq 1 "${CLUSTER_WORKERS:-2}"); do
  if "$VENV/citygis" help run_jobs >/dev/null 2>&1; then
    "$VENV/citygis" run_jobs >"$DIR/logs/worker-$i.log" 2>&1 &
    PIDS+=($!)
    echo "$!" > "$DIR/run/worker-$i.pid"
  fi
done
if [ "${CLUSTER_CONSUMER:-1}" = 1 ] && "$VENV/citygis" help hazard_consumer >/dev/null 2>&1; then
  "$VENV/citygis" hazard_consumer >"$DIR/logs/consumer.log" 2>&1 &
  PIDS+=($!)
fi

# 5. nginx in front: round robin, a failed node is skipped for 5 s and idempotent requests retried on the other.
ACCEL_LOCATION=""
if [ -n "${CITYGIS_TILE_ACCEL_REDIRECT:-}" ] && [ -z "${CITYGIS_TILE_CACHE_REDIS_URL:-}" ]; then
  # The one definition of the internal location (tileserver.tilehits); it refuses a malformed prefix.
  ACCEL_LOCATION="$("$VENV/citygis" shell --no-imports -c "import os; from tileserver.tilehits import nginx_accel_location as n; print(n(os.environ['CITYGIS_TILE_ACCEL_REDIRECT'], os.environ['CITYGIS_VAR_DIR'] + '/tilecache'), end='')")"
  log "nginx sends authorised cached tiles (X-Accel-Redirect to $CITYGIS_TILE_ACCEL_REDIRECT)"
fi
{
  if [ "$(id -u)" = 0 ]; then printf 'user www-data;\n'; fi  # never serve as root
  printf 'worker_processes 1;\npid %s/run/nginx.pid;\nerror_log %s/logs/nginx-error.log warn;\n' "$DIR" "$DIR"
  printf 'events { worker_connections 1024; }\nhttp {\n  access_log %s/logs/nginx-access.log;\n' "$DIR"
  printf '  client_max_body_size 210m;\n  proxy_read_timeout 130s;\n'
  printf '  client_body_temp_path %s/run/body; proxy_temp_path %s/run/proxy;\n' "$DIR" "$DIR"
  printf '  fastcgi_temp_path %s/run/fcgi; uwsgi_temp_path %s/run/uwsgi; scgi_temp_path %s/run/scgi;\n' "$DIR" "$DIR" "$DIR"
  printf '  upstream citygis {\n'
  for port in "${NODES[@]}"; do printf '    server 127.0.0.1:%s max_fails=1 fail_timeout=5s;\n' "$port"; done
  printf '    keepalive 16;\n  }\n  server {\n    listen 127.0.0.1:%s;\n    location / {\n' "$PORT"
  printf '      proxy_pass http://citygis;\n      proxy_http_version 1.1;\n      proxy_set_header Connection "";\n'
  printf '      proxy_set_header Host $host:$server_port;\n      proxy_set_header X-Forwarded-For $remote_addr;\n'
  printf '      proxy_set_header X-Forwarded-Proto $scheme;\n'
  printf '      proxy_next_upstream error timeout http_502 http_503;\n      proxy_next_upstream_tries 2;\n'
  printf '    }\n'
  if [ -n "$ACCEL_LOCATION" ]; then printf '%s\n' "$ACCEL_LOCATION" | sed 's/^/    /'; fi
  printf '  }\n}\n'
} > "$DIR/nginx.conf"
mkdir -p "$DIR/run/body" "$DIR/run/proxy" "$DIR/run/fcgi" "$DIR/run/uwsgi" "$DIR/run/scgi"
if [ "$(id -u)" = 0 ]; then chown www-data "$DIR/run/body" "$DIR/run/proxy" "$DIR/run/fcgi" "$DIR/run/uwsgi" "$DIR/run/scgi"; fi
nginx -c "$DIR/nginx.conf" -p "$DIR" -g 'daemon off;' &
NGINX=$!
PIDS+=("$NGINX")

for port in "${NODES[@]}" "$PORT"; do
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" || { log "node on $port did not start"; tail -20 "$DIR/logs/node-$port.log" || true; exit 1; }
done
log "cluster ready: http://127.0.0.1:$PORT (nodes ${NODES[*]}, replica ${DATABASE_REPLICA_URL:-none}, tiles ${CITYGIS_TILE_CACHE_REDIS_URL:-file})"
# Nodes and workers may die (the failover test kills them); the cluster lives as long as nginx does.
wait "$NGINX" || true
log "nginx ended"
