"""Bench: uncached 256×256 GetMap through our `/ows` (gunicorn → tileserver → MapProxy → mapserv) vs the
identical WMS request given to `mapserv` directly (CGI, one process per request, as MapProxy runs it), same
concurrency, same run. Prints both and ours / mapserv (target ≥ 0.8).

Uses the scratch layer of bench/tiles_cached.py with caches disabled, so every request renders.
BENCH_GETMAP_REQUESTS and BENCH_GETMAP_CONCURRENCY override the load.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from bench._report import record
from bench.tiles_cached import (
    BENCH_LAYER,
    ORIGIN,
    gunicorn,
    load,
    run_concurrently,
    scratch_layer,
    setup_django,
)

REQUESTS = int(os.environ.get("BENCH_GETMAP_REQUESTS", 120))
CONCURRENCY = int(os.environ.get("BENCH_GETMAP_CONCURRENCY", 4))


def queries(n: int) -> list[str]:
    """Distinct 256×256 WMS 1.1.1 GetMap queries (EPSG:4490) over the scratch parcels."""
    rng = random.Random(20261125)
    out = []
    for _ in range(n):
        size = rng.uniform(0.004, 0.02)
        x, y = ORIGIN[0] + rng.uniform(0, 0.04 - size), ORIGIN[1] + rng.uniform(0, 0.04 - size)
        out.append(urlencode({"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": BENCH_LAYER,
                              "STYLES": "", "SRS": "EPSG:4490", "BBOX": f"{x},{y},{x + size},{y + size}",
                              "WIDTH": "256", "HEIGHT": "256", "FORMAT": "image/png", "TRANSPARENT": "TRUE"}))
    return out


def mapserv_direct(qs: list[str], mapfile: Path, config: Path, concurrency: int) -> tuple[float, int]:
    """The same queries to `mapserv` as a CGI process each; (requests/second, errors)."""
    errors = [0]
    base = dict(os.environ, MAPSERVER_CONFIG_FILE=str(config), REQUEST_METHOD="GET", SERVER_NAME="127.0.0.1",
                SERVER_PORT="80", SCRIPT_NAME="/mapserv")

    def make_worker():
        def job(i: int) -> None:
            env = dict(base, QUERY_STRING=f"map={mapfile}&{qs[i]}")
            out = subprocess.run(["mapserv"], env=env, capture_output=True).stdout
            if b"image/png" not in out[:200]:
                errors[0] += 1

        return job

    return run_concurrently(len(qs), concurrency, make_worker), errors[0]


def through_the_pool(work: Path, qs: list[str], warm: list[str]) -> tuple[float, int]:
    """The same load with MapProxy's renders handed to the mapserv FastCGI pool (tileserver/renderer.py)."""
    from django.conf import settings

    from tileserver import renderer
    from tileserver.generate import generate_all

    settings.CITYGIS_RENDERER = os.environ["CITYGIS_RENDERER"] = "fastcgi"
    try:
        paths = generate_all(caches_enabled=False)
        pool = renderer.start_pool(paths, processes=max(CONCURRENCY, 2))
        try:
            with gunicorn(work, concurrency=CONCURRENCY) as port:
                load(port, ["/ows?" + q for q in warm], len(warm), CONCURRENCY)
                return load(port, ["/ows?" + q for q in qs], len(qs), CONCURRENCY)
        finally:
            pool.terminate()
            pool.wait(timeout=30)
    finally:
        settings.CITYGIS_RENDERER = "cgi"
        os.environ.pop("CITYGIS_RENDERER", None)


def main() -> None:
    setup_django()
    work = Path(tempfile.mkdtemp(prefix="bench-getmap-"))
    try:
        with scratch_layer(work, caches_enabled=False):
            qs = queries(REQUESTS)
            warm = queries(REQUESTS + 10)[REQUESTS:]
            mapfile, config = work / "mapserver" / "citygis.map", work / "mapserver" / "mapserver.conf"
            mapserv_direct(warm, mapfile, config, CONCURRENCY)
            direct, err_direct = mapserv_direct(qs, mapfile, config, CONCURRENCY)
            with gunicorn(work, concurrency=CONCURRENCY) as port:
                load(port, ["/ows?" + q for q in warm], len(warm), CONCURRENCY)
                ours, err_ours = load(port, ["/ows?" + q for q in qs], len(qs), CONCURRENCY)
            pooled, err_pooled = through_the_pool(work, qs, warm)
        record("getmap_cold", "GetMap 256² via /ows, mapserv spawned", ours=ours, floor=direct, unit="req/s",
               target=">= 0.8")
        record("getmap_cold", "GetMap 256² via /ows, persistent renderer", ours=pooled, floor=direct, unit="req/s",
               target=">= 2.0")
        print(f"getmap_cold: {REQUESTS} distinct 256x256 GetMap, concurrency {CONCURRENCY}")
        print(f"getmap_cold: ours /ows {ours:.1f} req/s (errors {err_ours}); mapserv direct {direct:.1f} req/s "
              f"(errors {err_direct}); ratio ours/mapserv = {ours / direct:.2f} (target >= 0.8)")
        print(f"getmap_cold: ours /ows with the persistent renderer (CITYGIS_RENDERER=fastcgi) {pooled:.1f} req/s "
              f"(errors {err_pooled}); ratio pooled/mapserv = {pooled / direct:.2f} (target >= 2.0)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
