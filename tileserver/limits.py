"""Cost bounds of the OGC/tile endpoints: image size, concurrent renders, per-client request rate, mapserv time.

Settings (city_gis/settings.py, read at call time so tests can override them):
CITYGIS_OGC_MAX_PIXELS_ANON / CITYGIS_OGC_MAX_PIXELS (width × height, each side ≤ mapfile.MAX_SIZE),
CITYGIS_RENDER_CONCURRENCY + CITYGIS_RENDER_WAIT (per process), CITYGIS_OGC_RATE_ANON / CITYGIS_OGC_RATE_USER
(Django's cache: shared across workers when REDIS_URL is set), CITYGIS_MAPSERV_TIMEOUT (mapserv wrapper).
"""

from __future__ import annotations

import math
import shlex
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

from city_gis.security.clientip import client_ip

MAPSERV = "/usr/bin/mapserv"
WRAPPER_NAME = "mapserv-limited"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def max_pixels(user) -> int:
    """Largest width × height a user may ask for (lower for anonymous clients)."""
    if user is not None and user.is_authenticated:
        return settings.CITYGIS_OGC_MAX_PIXELS
    return settings.CITYGIS_OGC_MAX_PIXELS_ANON


class RenderBusy(Exception):
    """No render slot became free within CITYGIS_RENDER_WAIT; `retry_after` in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("all render slots are busy")
        self.retry_after = retry_after


_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    size = max(1, int(settings.CITYGIS_RENDER_CONCURRENCY))
    current = _slots
    if current is None or current[0] != size:
        with _slots_lock:
            if _slots is None or _slots[0] != size:
                # A holder of the old semaphore releases the object it acquired (see render_slot).
                _slots = (size, threading.BoundedSemaphore(size))
            current = _slots
    return current[1]


@contextmanager
def render_slot() -> Iterator[None]:
    """Hold one of the process' CITYGIS_RENDER_CONCURRENCY render slots; RenderBusy when none frees up in
    CITYGIS_RENDER_WAIT seconds. Per process on purpose: a slot stands for a CPU this worker may use, and a
    crashed worker cannot leak a slot the way a shared counter could."""
    semaphore = _semaphore()
    wait = float(settings.CITYGIS_RENDER_WAIT)
    if not semaphore.acquire(timeout=wait):
        raise RenderBusy(max(1, math.ceil(wait)))
    try:
        yield
    finally:
        semaphore.release()


@lru_cache(maxsize=16)
def parse_rate(rate: str) -> tuple[int, int]:
    """"600/min" → (600, 60). Periods: s, min, hour, day (first letter decides, as in DRF)."""
    count, _, period = rate.partition("/")
    seconds = _PERIODS.get(period.strip()[:1].lower())
    if not count.strip().isdigit() or seconds is None:
        raise ValueError(f"OGC rate {rate!r}: expected N/s|min|hour|day")
    return int(count), seconds


def client_key(request, user) -> str:
    """Who a rate applies to: the user, else the client address by the trusted-proxy rule."""
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    meta = request.META
    # client_ip parses addresses and walks X-Forwarded-For: remembered per (peer, header, trusted proxies), as
    # every tile of a map page repeats them.
    seen = (meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), str(settings.CITYGIS_TRUSTED_PROXIES))
    key = _client_keys.get(seen)
    if key is None:
        if len(_client_keys) > 4096:
            _client_keys.clear()
        key = _client_keys[seen] = f"ip:{client_ip(request)}"
    return key


_client_keys: dict[tuple, str] = {}


def layer_count(names: str, readable: frozenset[str], root: str) -> int:
    """How many layers a WMS LAYERS/QUERY_LAYERS value draws: the root group expands to every readable layer,
    a theme group to the readable layers of its theme (MapProxy runs one mapserv per layer)."""
    count = 0
    for name in filter(None, names.split(",")):
        if name == root:
            count += len(readable)
        elif "." not in name:
            count += sum(1 for n in readable if n.startswith(name + ".")) or 1
        else:
            count += 1
    return max(count, 1)


# Units a process may count locally before adding them to the shared counter: a hundredth of the rate, so a
# busy client costs one cache round trip per that many requests (a tile hit is cheaper than the round trip).
_BATCH_FRACTION = 100
_pending_lock = threading.Lock()
_pending: dict[str, list[int]] = {}  # window key -> [units not yet added, shared count last seen]


def throttle(request, user, cost: int = 1) -> int | None:
    """Count this request (`cost` units: a GetMap costs the layers it draws) against its client's OGC rate;
    seconds to wait when over it, else None.

    A fixed window per client in Django's cache (atomic incr in Redis; at most 2× the rate across a window
    boundary), so every gunicorn worker counts against the same budget when REDIS_URL is configured. Each
    process adds its units in batches of rate/100 (1 below a rate of 200): the decision is the shared count
    last seen plus this process's pending units, so a client gets at most one batch per process beyond its rate."""
    anonymous = user is None or not user.is_authenticated
    limit, period = parse_rate(settings.CITYGIS_OGC_RATE_ANON if anonymous else settings.CITYGIS_OGC_RATE_USER)
    now = time.time()
    window = int(now // period)
    key = f"citygis:ogc-rate:{client_key(request, user)}:{period}:{window}"
    batch = limit // _BATCH_FRACTION
    count = None
    with _pending_lock:
        entry = _pending.get(key)
        if entry is not None and entry[0] + cost < batch:
            entry[0] += cost
            count = entry[1] + entry[0]
        else:
            units = cost + (entry[0] if entry is not None else 0)
            if entry is not None:
                entry[0] = 0
    if count is None:
        count = _add(key, units, period)
        if batch > 1:
            with _pending_lock:
                if len(_pending) > 4096:  # past windows' entries
                    _pending.clear()
                # The count just read, even if lower than one seen before: the counter may have been reset.
                _pending.setdefault(key, [0, 0])[1] = count
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * period - now))


def _add(key: str, units: int, period: int) -> int:
    """Add units to the shared counter of one window; the new count."""
    try:
        return cache.incr(key, units)
    except ValueError:  # first request of the window
        return units if cache.add(key, units, timeout=period + 1) else cache.incr(key, units)


def mapserv_wrapper(directory: Path) -> Path:
    """Write (when changed) and return an executable that runs mapserv under `timeout`
    (CITYGIS_MAPSERV_TIMEOUT seconds, then SIGKILL 5 s later): MapProxy's CGI client waits without a limit.

    MapProxy runs the binary with no arguments and the CGI request in its environment, so `exec` keeps both."""
    from .renderer import render_command  # mapserv itself, or the persistent pool's client (renderer.py)

    seconds = int(settings.CITYGIS_MAPSERV_TIMEOUT)
    timeout = shutil.which("timeout") or "/usr/bin/timeout"
    command = " ".join(shlex.quote(part) for part in render_command(Path(directory)))
    script = (f"#!/bin/sh\n# generated by tileserver.limits.mapserv_wrapper\n"
              f"exec {shlex.quote(timeout)} -k 5 {seconds} {command} \"$@\"\n")
    path = Path(directory) / WRAPPER_NAME
    try:
        current = path.read_text()
    except OSError:
        current = None
    if current != script:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{WRAPPER_NAME}.tmp")
        tmp.write_text(script)
        tmp.chmod(0o755)
        tmp.replace(path)  # atomic: a running MapProxy never executes a half-written script
    return path


def mapserver_options(mapfile_dir: Path) -> dict[str, str]:
    """MapProxy's `mapserver:` options (globals and sources): mapserv through the time-limited wrapper."""
    return {"binary": str(mapserv_wrapper(mapfile_dir)), "working_dir": str(mapfile_dir)}


MAPSERV_TIMEOUT_EXIT = 124  # what `timeout` exits with when it stopped the command


# --- OGC API – Features (tileserver/ogcapi): page size, offset, filter size, time per statement -------------------
# Read at call time from the settings (city_gis/settings.py: CITYGIS_OGCAPI_*), so tests can override them.
def ogcapi_default_limit() -> int:
    return int(settings.CITYGIS_OGCAPI_DEFAULT_LIMIT)


def ogcapi_max_limit() -> int:
    return int(settings.CITYGIS_OGCAPI_MAX_LIMIT)


def ogcapi_max_offset() -> int:
    return int(settings.CITYGIS_OGCAPI_MAX_OFFSET)


def ogcapi_max_filter_chars() -> int:
    return int(settings.CITYGIS_OGCAPI_MAX_FILTER_CHARS)


def ogcapi_statement_timeout_ms() -> int:
    return int(settings.CITYGIS_OGCAPI_STATEMENT_TIMEOUT_MS)
