"""Where MapProxy keeps rendered tiles: the local file cache (one node) or a shared Redis (several nodes).

`CITYGIS_TILE_CACHE_REDIS_URL` unset: MapProxy's file cache under `CITYGIS_TILE_CACHE_DIR` (tms layout, the
`/tiles/…` path itself, which nginx may serve directly). Set (`redis://[user:password@]host:port/db`): every
node's MapProxy stores and reads tiles in that Redis database, so a tile rendered by one node is served by
all of them, and an invalidation on any node reaches every node. Keys are MapProxy's own
(`<cache>_<grid>-<z>-<x>-<y>`, y from the north like the XYZ URL); they never expire by themselves (edits
invalidate them; size the Redis with `maxmemory` + `allkeys-lru`, see docs/deployment.md).

A Redis that does not answer never fails a tile: the cache-hit path answers None (MapProxy renders).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings

log = logging.getLogger(__name__)
TileRange = tuple[int, int, int, int]
# Short timeouts: a cache that hangs must not hold a worker longer than rendering would.
SOCKET_TIMEOUT_S = 0.5
_SCAN_BATCH = 1000


def shared_url() -> str:
    """The shared tile cache's Redis URL; '' when tiles live in the local file cache."""
    return settings.CITYGIS_TILE_CACHE_REDIS_URL or ""


def is_shared() -> bool:
    return bool(shared_url())


def _redis_target(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"CITYGIS_TILE_CACHE_REDIS_URL must be redis://host:port/db, not {url!r}")
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ValueError(f"CITYGIS_TILE_CACHE_REDIS_URL: database {db!r} is not a number")
    target: dict[str, Any] = {"host": parts.hostname, "port": parts.port or 6379, "db": int(db)}
    if parts.username:
        target["username"] = unquote(parts.username)
    if parts.password:
        target["password"] = unquote(parts.password)
    return target


def cache_config(coverage: dict[str, Any]) -> dict[str, Any]:
    """MapProxy's `cache:` block of one tile cache storing tiles only inside `coverage` (outside: blank)."""
    url = shared_url()
    if not url:
        return {"type": "file", "directory_layout": "tms", "use_grid_names": True, "coverage": coverage}
    # default_ttl 0: no expiry (MapProxy's default is one hour, which would re-render the whole city hourly).
    return {"type": "redis", **_redis_target(url), "default_ttl": 0, "coverage": coverage}


STORED_TYPES = frozenset({"file", "redis"})


@lru_cache(maxsize=4)
def _client(url: str):
    import redis

    return redis.Redis(**_redis_target(url), socket_timeout=SOCKET_TIMEOUT_S,
                       socket_connect_timeout=SOCKET_TIMEOUT_S)


def ping() -> bool:
    return bool(_client(shared_url()).ping())


def key(cache: str, grid: str, z: int, x: int, y: int) -> str:
    """MapProxy's Redis key of a tile (mapproxy.cache.redis: default prefix `<cache>_<grid>`)."""
    return f"{cache}_{grid}-{z}-{x}-{y}"


def read_shared(cache: str, grid: str, z: int, x: int, y: int) -> bytes | None:
    """The stored tile's bytes, None on a miss or when Redis does not answer (MapProxy then renders)."""
    import redis

    try:
        return _client(shared_url()).get(key(cache, grid, z, x, y))
    except redis.RedisError as exc:
        log.warning("shared tile cache unavailable: %s", exc)
        return None


_KEY = re.compile(r"-(\d+)-(\d+)-(\d+)$")


def remove_shared(cache: str, grid: str, covering: Callable[[int], TileRange] | None) -> int:
    """Delete the cache's stored tiles of `grid` (those inside covering(z) when given); the number deleted.

    SCAN walks only this cache's keys (MATCH on its prefix) in batches, so Redis is never blocked."""
    client = _client(shared_url())
    prefix = f"{cache}_{grid}-"
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    removed = 0
    doomed: list[bytes] = []
    ranges: dict[int, TileRange] = {}
    for raw in client.scan_iter(match=pattern, count=_SCAN_BATCH):
        if covering is not None:
            match = _KEY.search(raw.decode("utf-8", "replace"))
            if match is None:
                continue
            z, x, y = (int(v) for v in match.groups())
            if z not in ranges:
                ranges[z] = covering(z)
            x0, y0, x1, y1 = ranges[z]
            if not (x0 <= x <= x1 and y0 <= y <= y1):
                continue
        doomed.append(raw)
        if len(doomed) >= _SCAN_BATCH:
            removed += client.delete(*doomed)
            doomed.clear()
    if doomed:
        removed += client.delete(*doomed)
    return removed
