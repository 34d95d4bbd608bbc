#!/usr/bin/env bash
# One idempotent set-up for `make run` and `make test` on Debian 12 (root or sudo):
# Debian packages, a PostgreSQL cluster with PostGIS, the .venv, migrations, demo data, map config.
# Steps that already happened are skipped; pass SETUP_STEPS="packages db venv migrate demo mapconfig browser"
# to choose steps (also "services": start Redis and Mosquitto where they are not running; "qgis": the headless
# QGIS the real-client tests drive).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VAR="${CITYGIS_VAR_DIR:-$ROOT/var}"
mkdir -p "$VAR"
STEPS="${SETUP_STEPS:-packages services db venv migrate demo mapconfig}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

log() { printf '\033[1;34m[setup +%ss]\033[0m %s\n' "$SECONDS" "$*"; }  # seconds since the start: where the time goes
has_step() { case " $STEPS " in *" $1 "*) return 0;; *) return 1;; esac; }

DEBIAN_PACKAGES=(
  postgresql-15 postgresql-15-postgis-3 postgresql-client-15
  gdal-bin mapserver-bin cgi-mapserver
  fonts-noto-cjk python3-venv python3-dev
  fonts-wqy-zenhei  # TrueType CJK font embedded in review PDFs (ReportLab reads TrueType, not Noto's CFF)
  nginx-light curl ca-certificates
  spawn-fcgi multiwatch libfcgi-bin  # the persistent mapserv FastCGI pool (tileserver/renderer.py)
  pgbouncer  # connection pooling in front of PostgreSQL (scripts/cluster.sh, docs/scaling.md)
  redis-server mosquitto
  postgresql-15-pgrouting  # road-network distances of evacuation plans (city_gis/hazards/evacuation.py)
)
BROWSER_PACKAGES=(chromium)
# Headless QGIS 3.22 (Debian's /usr/bin/python3 + qgis.core) for the OAPIF/WFS real-client tests: 195 MB of
# packages, ~930 MB on disk, ~50 s to install; installed whatever python3 the machine runs (tests call /usr/bin/python3).
QGIS_PACKAGES=(python3-qgis qgis-providers)

install_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

if has_step packages; then
  # python3-venv/python3-dev are only needed when the machine's python3 is Debian's.
  wanted=()
  for p in "${DEBIAN_PACKAGES[@]}"; do
    case "$p" in python3-*) [ "$(command -v python3)" = /usr/bin/python3 ] || continue;; esac
    wanted+=("$p")
  done
  install_packages "${wanted[@]}"
fi
# QGIS is a test client only (`make test` asks for this step): `make run` does not wait ~50 s for it.
if has_step qgis; then
  install_packages "${QGIS_PACKAGES[@]}"
fi
# Redis (shared cache: throttles, sessions, lockouts across workers) and Mosquitto (sensor readings) must
# answer on their standard ports; start them without systemd where they are installed but not running.
if has_step services; then
  if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    log "starting redis-server"
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  fi
  if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    log "starting mosquitto"
    $SUDO mosquitto -d -p 1883
  fi
fi
if has_step browser; then install_packages "${BROWSER_PACKAGES[@]}"; fi

PSQL_ADMIN=(psql -v ON_ERROR_STOP=1 -X -q)
if has_step db; then
  if [ -z "${DATABASE_URL:-}" ]; then
    # Local cluster: create and start it without systemd when it is not running.
    if ! command -v pg_lsclusters >/dev/null; then echo "PostgreSQL is not installed" >&2; exit 1; fi
    if [ -z "$(pg_lsclusters -h | awk '$1==15 && $2=="main"')" ]; then
      log "creating PostgreSQL 15 cluster"
      $SUDO pg_createcluster 15 main
    fi
    if ! pg_lsclusters -h | awk '$1==15 && $2=="main"' | grep -q online; then
      log "starting PostgreSQL 15 cluster"
      $SUDO pg_ctlcluster --skip-systemctl-redirect 15 main start
    fi
    for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
    ME="$(id -un)"
    if ! psql -X -d postgres -tAc "select 1" >/dev/null 2>&1; then
      log "creating PostgreSQL role $ME"
      (cd /tmp && $SUDO su postgres -c "createuser -s $ME")
    fi
    if [ "$(psql -X -d postgres -tAc "select 1 from pg_database where datname='citygis'")" != 1 ]; then
      log "creating database citygis"
      createdb citygis
    fi
    "${PSQL_ADMIN[@]}" -d citygis -c "create extension if not exists postgis; create extension if not exists postgis_raster; create extension if not exists pgrouting;"
  else
    log "using DATABASE_URL (existing server); creating extensions if missing"
    "${PSQL_ADMIN[@]}" -d "${DATABASE_URL/postgis:/postgresql:}" -c "create extension if not exists postgis; create extension if not exists postgis_raster; create extension if not exists pgrouting;" || \
      log "could not create extensions (needs a superuser); assuming they exist"
  fi
fi

if has_step venv; then
  STAMP=".venv/.citygis-installed"
  HASH="$(sha256sum pyproject.toml | cut -c1-16)"
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
  fi
  if [ "$(cat "$STAMP" 2>/dev/null)" != "$HASH" ]; then
    log "installing the project into .venv"
    .venv/bin/pip install -q -e ".[dev]"  # Debian 12's pip (23) installs every wheel we use: no self-upgrade
    echo "$HASH" > "$STAMP"
  fi
fi

if has_step migrate; then
  log "migrating"
  .venv/bin/citygis migrate --noinput -v0
  .venv/bin/citygis case_history_partitions  # the months ahead exist; nothing waits in the default partition
  .venv/bin/citygis collectstatic --noinput -v0
fi
if has_step demo; then
  .venv/bin/citygis load_demo
fi
if has_step mapconfig; then
  if .venv/bin/citygis help generate_mapconfig >/dev/null 2>&1; then
    .venv/bin/citygis generate_mapconfig
  fi
fi
log "set-up done"
