"""Health endpoints for load balancers: ``/healthz`` (liveness) and ``/readyz`` (readiness).

``/healthz`` touches no dependency: it answers as long as a worker runs Python. ``/readyz`` checks what a
request needs — database, cache, renderer (generated configuration + a runnable ``mapserv``), free disk in
CITYGIS_VAR_DIR — and answers 503 + Retry-After naming the failing checks. Both are plain Django views (no
DRF throttle), anonymous, ``Cache-Control: no-store``, and never report DSNs, paths or error messages: only
check names, file names and exception class names.

Settings: CITYGIS_READY_DB_TIMEOUT_MS, CITYGIS_READY_MIN_FREE_MB, CITYGIS_READY_RENDERER_CACHE_SECONDS,
CITYGIS_READY_RETRY_AFTER.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import HttpRequest, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from city_gis.dbrouting import REPLICA, replica_configured
from tileserver import renderer, tilestore
from tileserver.limits import MAPSERV
from tileserver.paths import config_paths

log = logging.getLogger("city_gis.health")

Check = dict[str, object]  # {"status": "ok" | "fail", ...details without secrets}
_MAPSERV_PROBE_TIMEOUT = 5  # seconds; `mapserv -v` answers in milliseconds when healthy
_mapserv_probe: dict[str, object] = {"at": 0.0, "ok": False, "error": ""}
_mapserv_lock = threading.Lock()


def _no_store(response: JsonResponse) -> JsonResponse:
    add_never_cache_headers(response)  # Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private
    return response


def _failed(exc: BaseException) -> Check:
    # The class name only: messages of connection errors carry host names, ports and user names.
    return {"status": "fail", "error": type(exc).__name__}


def _query(alias: str, sql: str) -> tuple:
    """One row of `sql` on `alias`, under a short statement_timeout (CITYGIS_READY_DB_TIMEOUT_MS)."""
    timeout_ms = int(settings.CITYGIS_READY_DB_TIMEOUT_MS)
    conn = connections[alias]
    try:
        with transaction.atomic(using=alias), conn.cursor() as cur:
            # SET LOCAL: the timeout ends with this transaction and never leaks to the pooled connection.
            cur.execute("SELECT set_config('statement_timeout', %s, true)", [f"{timeout_ms}ms"])
            cur.execute(sql)
            return cur.fetchone()
    except Exception:
        conn.close_if_unusable_or_obsolete()
        raise


def check_database() -> Check:
    """``SELECT 1`` on the primary."""
    try:
        ok = _query(DEFAULT_DB_ALIAS, "SELECT 1") == (1,)
    except Exception as exc:  # any failure means "not ready"; the outage middleware must not turn it into 503 text
        return _failed(exc)
    return {"status": "ok"} if ok else {"status": "fail", "error": "unexpected result"}


def check_cache() -> Check:
    """A set/get/delete round-trip through the default cache (Redis when REDIS_URL is set)."""
    key, value = f"citygis:readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    try:
        cache.set(key, value, timeout=10)
        ok = cache.get(key) == value
        cache.delete(key)
    except Exception as exc:
        return _failed(exc)
    return {"status": "ok"} if ok else {"status": "fail", "error": "value not read back"}


def _probe_mapserv() -> tuple[bool, str]:
    """Run ``mapserv -v`` at most once per CITYGIS_READY_RENDERER_CACHE_SECONDS per process."""
    ttl = float(settings.CITYGIS_READY_RENDERER_CACHE_SECONDS)
    with _mapserv_lock:
        if time.monotonic() - float(_mapserv_probe["at"]) < ttl and _mapserv_probe["at"]:
            return bool(_mapserv_probe["ok"]), str(_mapserv_probe["error"])
        try:
            proc = subprocess.run([MAPSERV, "-v"], capture_output=True, timeout=_MAPSERV_PROBE_TIMEOUT, check=False)
            ok = proc.returncode == 0 and proc.stdout.startswith(b"MapServer version")
            error = "" if ok else f"mapserv -v exited {proc.returncode}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, error = False, f"mapserv -v: {type(exc).__name__}"
        _mapserv_probe.update(at=time.monotonic(), ok=ok, error=error)
        return ok, error


def check_renderer() -> Check:
    """The generated MapServer/MapProxy configuration exists and ``mapserv`` runs."""
    paths = config_paths()
    missing = [p.name for p in (paths.mapfile, paths.mapserver_config, paths.mapproxy_yaml) if not p.is_file()]
    if missing:
        return {"status": "fail", "error": "configuration missing", "missing": missing}
    ok, error = _probe_mapserv()
    if ok and renderer.mode() == "fastcgi" and not renderer.is_running(paths):
        ok, error = False, "renderer pool not running"
    return {"status": "ok", "mode": renderer.mode()} if ok else {"status": "fail", "error": error}


def check_disk() -> Check:
    """Free space in CITYGIS_VAR_DIR (tile cache, media, generated configuration) ≥ CITYGIS_READY_MIN_FREE_MB."""
    minimum = int(settings.CITYGIS_READY_MIN_FREE_MB)
    try:
        free_mb = shutil.disk_usage(settings.VAR_DIR).free // (1024 * 1024)
    except OSError as exc:
        return _failed(exc)
    return {"status": "ok" if free_mb >= minimum else "fail", "free_mb": free_mb, "min_free_mb": minimum}


def check_replica() -> Check:
    """The read replica (when DATABASE_REPLICA_URL is set) answers, is a standby, and how far it lags."""
    try:
        standby, lag = _query(REPLICA, "SELECT pg_is_in_recovery(), "
                                       "extract(epoch FROM now() - pg_last_xact_replay_timestamp())")
    except Exception as exc:
        return _failed(exc)
    if not standby:
        return {"status": "fail", "error": "not a standby"}
    return {"status": "ok", "lag_s": None if lag is None else round(float(lag), 3)}


def check_tile_cache() -> Check:
    """The shared Redis tile cache (when CITYGIS_TILE_CACHE_REDIS_URL is set) answers a PING."""
    try:
        ok = tilestore.ping()
    except Exception as exc:
        return _failed(exc)
    return {"status": "ok"} if ok else {"status": "fail", "error": "no PONG"}


CHECKS: dict[str, Callable[[], Check]] = {
    "database": check_database,
    "cache": check_cache,
    "renderer": check_renderer,
    "disk": check_disk,
}
# Checked only where the deployment has them (several nodes).
OPTIONAL_CHECKS: dict[str, tuple[Callable[[], bool], Callable[[], Check]]] = {
    "replica": (replica_configured, check_replica),
    "tile_cache": (tilestore.is_shared, check_tile_cache),
}


def run_checks() -> dict[str, Check]:
    """Every readiness check with its duration in milliseconds; a check that raises counts as failed."""
    results: dict[str, Check] = {}
    wanted = dict(CHECKS)
    wanted.update({name: check for name, (present, check) in OPTIONAL_CHECKS.items() if present()})
    for name, check in wanted.items():
        started = time.perf_counter()
        try:
            result = check()
        except Exception as exc:  # a bug in one check must not hide the others
            log.exception("readiness check %s raised", name)
            result = _failed(exc)
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return results


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: 200 while the process serves requests; no dependency is touched."""
    return _no_store(JsonResponse({"status": "ok"}))


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 with every check, or 503 + Retry-After with the failing checks named in `failing`."""
    checks = run_checks()
    failing = [name for name, result in checks.items() if result["status"] != "ok"]
    body = {"status": "unavailable" if failing else "ok", "checks": checks, "failing": failing}
    response = JsonResponse(body, status=503 if failing else 200)
    if failing:
        log.warning("not ready: %s", ", ".join(failing))
        response["Retry-After"] = str(int(settings.CITYGIS_READY_RETRY_AFTER))
    return _no_store(response)


__all__ = ["CHECKS", "healthz", "readyz", "run_checks"]
