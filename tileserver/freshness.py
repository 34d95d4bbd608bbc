"""Every node's generated configuration follows the registry in the database, not one disk's file mtime.

The node that saves a layer regenerates at once (signals.py). Every other node notices on its next OGC request:
generate_all() records a fingerprint of the registry rows it was built from; at most every
CITYGIS_CONFIG_CHECK_SECONDS a process compares it with the database's and, when they differ, regenerates its
own files (one process per node at a time, under a file lock; the others then find them current).
Never inside a transaction: uncommitted rows (a test's, a half-done import's) are not the registry.
"""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from .paths import ConfigPaths, config_paths

_FINGERPRINT_SQL = (
    "SELECT count(*), coalesce(md5(string_agg(name || '@' || updated_at::text, ',' ORDER BY name)), '') "
    "FROM layers_layer"
)
_lock = threading.Lock()
_checked: dict[str, float | None] = {"at": None}  # monotonic time of this process's last check


def registry_fingerprint() -> str:
    """Changes with every registered, changed or removed layer row (its name and updated_at)."""
    with connection.cursor() as cur:
        cur.execute(_FINGERPRINT_SQL)
        count, digest = cur.fetchone()
    return f"{count}:{digest}"


def fingerprint_file(paths: ConfigPaths) -> Path:
    return paths.mapproxy_dir / "registry.fingerprint"


def stored_fingerprint(paths: ConfigPaths) -> str | None:
    try:
        return fingerprint_file(paths).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def regenerate_if_stale(paths: ConfigPaths | None = None) -> bool:
    """Regenerate `paths` when the registry changed since they were generated; True when it did."""
    from .generate import generate_all, generated_for_this_database

    paths = paths or config_paths()
    if not generated_for_this_database(paths) or stored_fingerprint(paths) == registry_fingerprint():
        return False
    paths.mapproxy_dir.mkdir(parents=True, exist_ok=True)
    with open(paths.mapproxy_dir / ".regenerate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the node's other workers wait, then find the files current
        if stored_fingerprint(paths) == registry_fingerprint():
            return False
        generate_all(paths)
    return True


def ensure_current() -> bool:
    """regenerate_if_stale() at most every CITYGIS_CONFIG_CHECK_SECONDS per process (one small query)."""
    interval = float(settings.CITYGIS_CONFIG_CHECK_SECONDS)
    now = time.monotonic()

    def recent() -> bool:
        last = _checked["at"]
        return last is not None and now - last < interval

    if interval < 0 or recent() or connection.in_atomic_block:
        return False
    with _lock:
        if recent():
            return False
        _checked["at"] = now
    return regenerate_if_stale()
