"""Bench: cached tiles per second through our `/tiles` (gunicorn → tileserver dispatcher → MapProxy) vs nginx
serving the very same cache files statically, same concurrency, same run. Prints both and ours / nginx.

Works on a scratch layer it creates (`land.bench_tiles`, 2,500 parcels in the `citygis` database or
DATABASE_URL) with the configuration and cache in a temporary directory; everything is removed afterwards.
Servers bind 127.0.0.1 only. BENCH_TILES_REQUESTS and BENCH_TILES_CONCURRENCY override the load. Our gunicorn
runs with the OGC rate and render limits lifted (bench._support.unthrottled_ogc_env): throughput, not throttle.
Also prints the ceiling of any Python path: the same gunicorn serving one tile from memory with no framework.

Second figure: a *restricted* layer's cached tiles (`land.bench_tiles_restricted`, read with a scratch land-department
user's token) through nginx in front of our gunicorn with CITYGIS_TILE_ACCEL_REDIRECT: the app authorises, nginx
sends the file (tileserver/tilehits.py) — vs the same nginx static figure.
"""

from __future__ import annotations

import http.client
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bench._report import record
from bench._support import free_port, setup_django, unthrottled_ogc_env

REPO = Path(__file__).resolve().parents[1]
BENCH_LAYER = "land.bench_tiles"
RESTRICTED_LAYER = "land.bench_tiles_restricted"
READER = "bench_tiles_reader"
ACCEL_PREFIX = "/_citygis_tilecache/"
PREFIX = "BENCHTILE-"
ORIGIN = (104.80, 26.56)  # south-west corner of the scratch parcels (lon/lat)
REQUESTS = int(os.environ.get("BENCH_TILES_REQUESTS", 3000))
CONCURRENCY = int(os.environ.get("BENCH_TILES_CONCURRENCY", 8))
ZOOM = 15


@contextmanager
def scratch_layer(var_dir: Path, *, caches_enabled: bool = True):
    """A 50×50 grid of small parcels registered as a public layer; config generated into var_dir."""
    from django.conf import settings
    from django.contrib.gis.geos import MultiPolygon, Polygon
    from django.db import transaction

    from city_gis.accounts.models import Department
    from layers.models import LandParcel, Layer
    from layers.registry import register_layer
    from tileserver.generate import generate_all

    settings.CITYGIS_MAPFILE_DIR = var_dir / "mapserver"
    settings.CITYGIS_MAPPROXY_DIR = var_dir / "mapproxy"
    settings.CITYGIS_TILE_CACHE_DIR = var_dir / "tilecache"
    Department.objects.get_or_create(code="land", defaults={"name_zh": "自然资源局"})
    step = 0.0008
    with transaction.atomic():
        LandParcel.objects.filter(parcel_code__startswith=PREFIX).delete()
        rows = []
        for i in range(50):
            for j in range(50):
                x, y = ORIGIN[0] + i * step, ORIGIN[1] + j * step
                poly = Polygon.from_bbox((x, y, x + step * 0.8, y + step * 0.8))
                rows.append(LandParcel(parcel_code=f"{PREFIX}{i:02d}{j:02d}", landuse_code=("0701", "0601")[(i + j) % 2],
                                       landuse_name="基准", name=f"基准{i}-{j}", geom=MultiPolygon(poly, srid=4490)))
        LandParcel.objects.bulk_create(rows)
        for name, classification in ((BENCH_LAYER, "public"), (RESTRICTED_LAYER, "restricted")):
            register_layer(name, owner="land", title_zh="基准宗地", classification=classification, kind="vector",
                           geometry_type="POLYGON", source_table="layers_landparcel",
                           source_where=[{"column": "parcel_code", "op": "like", "value": PREFIX + "%"}],
                           style={"fill": "#ffd37f", "stroke": "#555555", "classify_by": "landuse_code",
                                  "classes": [{"value": "0601", "fill": "#c0c0ff"}], "label": {"attribute": "name"}})
    generate_all(caches_enabled=caches_enabled)
    try:
        yield
    finally:
        with transaction.atomic():
            Layer.objects.filter(name__in=[BENCH_LAYER, RESTRICTED_LAYER]).delete()
            LandParcel.objects.filter(parcel_code__startswith=PREFIX).delete()


@contextmanager
def reader_token():
    """The token of a scratch land-department user (may read the restricted layer); removed afterwards."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from city_gis.accounts.models import Department

    user, _ = get_user_model().objects.update_or_create(
        username=READER, defaults={"department": Department.objects.get(code="land"), "roles": ["handler"],
                                   "is_active": True})
    try:
        yield Token.objects.get_or_create(user=user)[0].key
    finally:
        Token.objects.filter(user=user).delete()
        user.delete()


@contextmanager
def gunicorn(var_dir: Path, workers: int = 2, concurrency: int = CONCURRENCY, extra_env: dict[str, str] | None = None):
    """gunicorn (workers × 4 threads) on the scratch configuration, unthrottled for `concurrency` clients."""
    from django.db import connection

    port = free_port()
    db = connection.settings_dict
    env = dict(os.environ, CITYGIS_VAR_DIR=str(var_dir), **unthrottled_ogc_env(concurrency), **(extra_env or {}))
    if db.get("NAME") and "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = f"postgis:///{db['NAME']}"
    cmd = [str(Path(sys.executable).with_name("gunicorn")), "city_gis.wsgi:application", "--bind",
           f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4",
           "--control-socket", str(var_dir / "gunicorn.ctl")]
    with serving(cmd, port, env=env) as p:
        yield p


@contextmanager
def serving(cmd: list[str], port: int, env: dict[str, str] | None = None):
    """Run a server process until the block ends; yields its port once it accepts connections."""
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, proc)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def nginx(snippet: Path, work: Path, app_port: int | None = None, cache_dir: Path | None = None):
    """nginx serving the tile cache with the generated location snippet (as docs/deployment.md sets it up);
    with `app_port`, also in front of our gunicorn with the X-Accel-Redirect location of `cache_dir`."""
    from tileserver.tilehits import nginx_accel_location

    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    app = "location @citygis_app { return 502; }"
    upstream = ""
    if app_port is not None:
        upstream = f"upstream citygis {{ server 127.0.0.1:{app_port}; keepalive 32; }}"
        proxy = ('proxy_pass http://citygis; proxy_http_version 1.1; proxy_set_header Connection ""; '
                 "proxy_set_header Host $host;")
        app = (f"location @citygis_app {{ {proxy} }}\n    location / {{ {proxy} }}\n"
               + nginx_accel_location(ACCEL_PREFIX, str(cache_dir)))
    conf.write_text(f"""
worker_processes 2;
pid {work}/nginx.pid;
error_log {work}/error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy; fastcgi_temp_path {work}/fcgi;
  uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
  sendfile on; keepalive_requests 100000;
  types {{ image/png png; }}
  {upstream}
  server {{
    listen 127.0.0.1:{port};
    include {snippet};
    {app}
  }}
}}
""")
    with serving(["nginx", "-c", str(conf), "-p", str(work)], port) as p:
        yield p


def wait_for(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def run_concurrently(total: int, concurrency: int, make_worker) -> float:
    """Run `total` jobs on `concurrency` threads; `make_worker()` returns a per-thread `job(i)` callable
    (and may hold per-thread state such as a keep-alive connection). Returns jobs per second."""
    counter = iter(range(total))
    lock = threading.Lock()

    def thread() -> None:
        job = make_worker()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            job(i)

    threads = [threading.Thread(target=thread) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return total / (time.perf_counter() - start)


def load(port: int, paths: list[str], total: int, concurrency: int, headers: dict[str, str] | None = None,
         expect_bytes: bool = False) -> tuple[float, int]:
    """Requests/second for `total` GETs cycling over `paths` on keep-alive connections; (rps, errors). With
    `expect_bytes`, an empty 200 body (an X-Accel-Redirect nginx did not follow) counts as an error."""
    errors = [0]

    def make_worker():
        conn = [http.client.HTTPConnection("127.0.0.1", port, timeout=60)]

        def job(i: int) -> None:
            conn[0].request("GET", paths[i % len(paths)], headers=headers or {})
            resp = conn[0].getresponse()
            body = resp.read()
            if resp.status != 200 or (expect_bytes and not body):
                errors[0] += 1
            if resp.getheader("Connection", "").lower() == "close":
                conn[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        return job

    return run_concurrently(total, concurrency, make_worker), errors[0]


def tile_paths(layer: str = BENCH_LAYER) -> list[str]:
    n = 2**ZOOM
    lon0, lat0 = ORIGIN
    lon1, lat1 = lon0 + 0.04, lat0 + 0.04

    def tx(lon):
        return int((lon + 180) / 360 * n)

    def ty(lat):
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    return [f"/tiles/{layer}/webmercator/{ZOOM}/{x}/{y}.png"
            for x in range(tx(lon0), tx(lon1) + 1) for y in range(ty(lat1), ty(lat0) + 1)]


def trivial_wsgi(body_file: Path, work: Path, workers: int = 2):
    """The same gunicorn serving one tile's bytes from memory with no framework: what gunicorn alone costs,
    the ceiling of any Python path (printed so the distance to nginx can be split into server and our code)."""
    app = work / "trivial_wsgi.py"
    app.write_text(f"BODY = open({str(body_file)!r}, 'rb').read()\n"
                   "def application(environ, start_response):\n"
                   "    start_response('200 OK', [('Content-Type', 'image/png'), ('Content-Length', str(len(BODY)))])\n"
                   "    return [BODY]\n")
    port = free_port()
    cmd = [str(Path(sys.executable).with_name("gunicorn")), "trivial_wsgi:application", "--chdir", str(work),
           "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4",
           "--control-socket", str(work / "gunicorn-trivial.ctl")]
    return serving(cmd, port)


def main() -> None:
    setup_django()
    work = Path(tempfile.mkdtemp(prefix="bench-tiles-"))
    work.chmod(0o755)  # nginx workers run unprivileged and must read the cache
    try:
        with scratch_layer(work), reader_token() as token:
            paths, restricted = tile_paths(), tile_paths(RESTRICTED_LAYER)
            auth = {"Authorization": f"Token {token}"}
            with gunicorn(work) as port:
                _rps, errors = load(port, paths, len(paths), 2)  # seeds the cache through /tiles
                _rps, errors_r = load(port, restricted, len(restricted), 2, auth)
                if errors or errors_r:
                    raise RuntimeError(f"{errors + errors_r} tiles failed while seeding")
                load(port, paths, 200, CONCURRENCY)  # warm-up
                ours, err_ours = load(port, paths, REQUESTS, CONCURRENCY)
                direct, err_direct = load(port, restricted, REQUESTS, CONCURRENCY, auth)  # the app sends the file
            with nginx(work / "mapproxy" / "nginx-public-tiles.conf", work / "nginx") as port:
                load(port, paths, 200, CONCURRENCY)
                static, err_static = load(port, paths, REQUESTS, CONCURRENCY)
            with gunicorn(work, extra_env={"CITYGIS_TILE_ACCEL_REDIRECT": ACCEL_PREFIX}) as app_port, \
                    nginx(work / "mapproxy" / "nginx-public-tiles.conf", work / "nginx-accel", app_port,
                          work / "tilecache") as port:
                load(port, restricted, 200, CONCURRENCY, auth, expect_bytes=True)
                accel, err_accel = load(port, restricted, REQUESTS, CONCURRENCY, auth, expect_bytes=True)
            sample = next((work / "tilecache").rglob("*.png"))
            with trivial_wsgi(sample, work) as port:
                load(port, ["/"], 200, CONCURRENCY)
                bare, _err = load(port, ["/"], REQUESTS, CONCURRENCY)
        if err_ours or err_static or err_accel or err_direct:
            raise RuntimeError(f"failed requests: ours {err_ours}, nginx {err_static}, X-Accel {err_accel}, "
                               f"restricted {err_direct}")
        record("tiles_cached", "cached tiles via the app vs nginx static", ours=ours, floor=static, unit="req/s",
               target=">= 0.7")
        record("tiles_cached", "restricted cached tiles, nginx + X-Accel-Redirect vs nginx static", ours=accel,
               floor=static, unit="req/s", target=">= 0.7")
        print(f"tiles_cached: {len(paths)} cached tiles, {REQUESTS} requests, concurrency {CONCURRENCY}")
        print(f"tiles_cached: ours /tiles {ours:.0f} req/s (errors {err_ours}); nginx static {static:.0f} req/s "
              f"(errors {err_static}); ratio ours/nginx = {ours / static:.2f}")
        print(f"tiles_cached: restricted layer, token, our gunicorn alone {direct:.0f} req/s ({direct / static:.2f}); "
              f"nginx → our gunicorn → X-Accel-Redirect {accel:.0f} req/s (errors {err_accel}); "
              f"ratio / nginx static = {accel / static:.2f}")
        print(f"tiles_cached: ceiling: bare gunicorn app (same workers) {bare:.0f} req/s = {bare / static:.2f} of "
              f"nginx; ours/bare gunicorn = {ours / bare:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
