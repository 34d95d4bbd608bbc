"""Bench: the price of several nodes (issue 14), measured with scripts/cluster.sh on this machine, one run.

1. Cached tiles through nginx: one node with its file cache (floor) vs two nodes sharing the Redis tile cache.
   On 2 cores two nodes cannot add capacity: the ratio is the price of sharing (target ≥ 0.8).
2. Cold GetMap (every request a new bbox) rendered from the streaming replica vs from the primary, through
   nginx (target ≥ 0.9).
3. Report intake through nginx with two nodes, one killed mid-run; clients retry a failed POST with the same
   client_uuid: cases made = reports acknowledged, none lost, none doubled.

Runs against the `citygis` database (or DATABASE_URL's; the demo must be loaded: tiles of the base map,
inspector accounts). BENCH_CLUSTER_TILES (3000), BENCH_CLUSTER_GETMAPS (200), BENCH_CLUSTER_REPORTS (600),
BENCH_CLUSTER_CONCURRENCY (8) override the load. Removes the cases it made.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests

from bench._report import record
from bench._support import free_port, setup_django, unthrottled_ogc_env

REPO = Path(__file__).resolve().parents[1]
TILES = int(os.environ.get("BENCH_CLUSTER_TILES", 3000))
GETMAPS = int(os.environ.get("BENCH_CLUSTER_GETMAPS", 200))
REPORTS = int(os.environ.get("BENCH_CLUSTER_REPORTS", 600))
CONCURRENCY = int(os.environ.get("BENCH_CLUSTER_CONCURRENCY", 8))
CENTER = (104.83, 26.59)
MARK = "bench-cluster"


@contextmanager
def cluster(db: str, *, nodes: int, replica: bool, tile_cache: str):
    """scripts/cluster.sh with its own ports and directory; yields {nginx, nodes: [ports], dir}."""
    work = Path(tempfile.mkdtemp(prefix="citygis-bench-cluster-"))
    work.chmod(0o755)
    ports = [free_port() for _ in range(nodes)]
    nginx = free_port()
    env = dict(os.environ, CLUSTER_DB=db, DATABASE_URL=f"postgis:///{db}", CLUSTER_PORT=str(nginx),
               NODE_PORTS=" ".join(map(str, ports)), REPLICA_PORT=str(free_port()), CLUSTER_DIR=str(work / "cluster"),
               CITYGIS_VAR_DIR=str(work / "var"), CLUSTER_REPLICA="1" if replica else "0",
               CLUSTER_TILE_CACHE=tile_cache, CLUSTER_CONSUMER="0", CLUSTER_WORKERS="0", NODE_WORKERS="2",
               CITYGIS_THROTTLE_ANON="100000000/min", CITYGIS_THROTTLE_USER="100000000/hour",
               **unthrottled_ogc_env(CONCURRENCY))
    proc = subprocess.Popen([str(REPO / "scripts/cluster.sh")], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "cluster ready" in line:
            break
    else:
        raise RuntimeError("cluster did not start:\n" + "".join(lines[-30:]))
    try:
        yield {"nginx": nginx, "nodes": ports, "dir": work / "cluster"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(work)], check=False)


def run_load(total: int, job, concurrency: int = CONCURRENCY) -> tuple[float, list]:
    """`total` calls of job(i, session) on `concurrency` threads; (calls per second, results)."""
    results: list = [None] * total
    counter = iter(range(total))
    lock = threading.Lock()

    def worker():
        session = requests.Session()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            results[i] = job(i, session)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return total / (time.perf_counter() - started), results


def tile_paths(z: int = 15, side: int = 8) -> list[str]:
    n = 2**z
    lon, lat = CENTER
    x0 = int((lon + 180) / 360 * n) - side // 2
    y0 = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n) - side // 2
    return [f"/tiles/base.basemap/webmercator/{z}/{x0 + i}/{y0 + j}.png" for i in range(side) for j in range(side)]


def cached_tiles(port: int) -> float:
    paths = tile_paths()
    base = f"http://127.0.0.1:{port}"
    for path in paths:  # warm: every tile rendered once, stored in this deployment's cache
        assert requests.get(base + path, timeout=120).status_code == 200, path
    rps, results = run_load(TILES, lambda i, s: s.get(base + paths[i % len(paths)], timeout=60).status_code)
    assert all(r == 200 for r in results), {r for r in results}
    return rps


def cold_getmaps(port: int, seed: int) -> float:
    rng = random.Random(seed)
    base = f"http://127.0.0.1:{port}/ows"
    boxes = []
    for _ in range(GETMAPS):
        lon, lat = CENTER[0] + rng.uniform(-0.05, 0.05), CENTER[1] + rng.uniform(-0.05, 0.05)
        boxes.append(f"{lon:.6f},{lat:.6f},{lon + 0.01:.6f},{lat + 0.01:.6f}")
    params = {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetMap", "LAYERS": "base.roads,land.parcels",
              "STYLES": "", "SRS": "EPSG:4490", "WIDTH": "256", "HEIGHT": "256", "FORMAT": "image/png"}
    rps, results = run_load(GETMAPS, lambda i, s: s.get(base, params={**params, "BBOX": boxes[i]},
                                                       timeout=120).status_code, concurrency=4)
    assert all(r == 200 for r in results), {r for r in results}
    return rps


def intake_with_a_node_killed(c: dict, tokens: list[str], points: list[tuple[float, float]],
                              codes: list[str], uuids: list[str]) -> dict[str, int]:
    """POST REPORTS reports through nginx; kill node 1 after a quarter. Retries keep the client_uuid."""
    url = f"http://127.0.0.1:{c['nginx']}/api/v1/reports/"
    node1 = int((c["dir"] / "run" / f"node-{c['nodes'][0]}.pid").read_text())
    killed = threading.Event()
    uuids.extend(str(uuid.uuid4()) for _ in range(REPORTS))  # the caller purges them
    retries = [0]

    def job(i: int, session: requests.Session) -> int:
        if i == REPORTS // 4 and not killed.is_set():
            killed.set()
            subprocess.run(["pkill", "-KILL", "-P", str(node1)], check=False)
            os.kill(node1, signal.SIGKILL)
        lon, lat = points[i % len(points)]
        body = {"client_uuid": uuids[i], "category": codes[i % len(codes)], "description": f"{MARK} {i}",
                "observed_at": "2026-11-25T09:00:00+08:00", "location": {"type": "Point", "coordinates": [lon, lat]}}
        for attempt in range(5):
            try:
                r = session.post(url, json=body, timeout=30,
                                 headers={"Authorization": f"Token {tokens[i % len(tokens)]}"})
                if r.status_code in (200, 201):
                    return 1
                if r.status_code < 500:
                    return 0
            except requests.RequestException:
                pass
            retries[0] += 1
            time.sleep(0.2 * (attempt + 1))
        return 0

    _, results = run_load(REPORTS, job)
    from city_gis.cases.models import Case

    made = Case.objects.filter(client_uuid__in=uuids)
    return {"acknowledged": sum(results), "cases": made.count(),
            "distinct": made.values("client_uuid").distinct().count(), "retries": retries[0]}


def main() -> None:
    setup_django()
    from django.db import connection

    from bench.report_intake import category_codes, purge, sample_points, tokens

    db = connection.settings_dict["NAME"]
    uuids: list[str] = []
    print(f"cluster bench on database {db}: {TILES} cached tiles, {GETMAPS} cold GetMaps, {REPORTS} reports, "
          f"concurrency {CONCURRENCY}")
    with cluster(db, nodes=1, replica=False, tile_cache="file") as one:
        tiles_one = cached_tiles(one["nginx"])
        getmap_primary = cold_getmaps(one["nginx"], seed=1)
    with cluster(db, nodes=2, replica=True, tile_cache="redis") as two:
        tiles_two = cached_tiles(two["nginx"])
        getmap_replica = cold_getmaps(two["nginx"], seed=2)
        rng = random.Random(7)
        points = sample_points(200, rng)
        try:
            intake = intake_with_a_node_killed(two, tokens(), points, category_codes(), uuids)
        finally:
            purge(uuids)
    record("cluster", "cached tiles, 2 nodes + Redis vs 1 node + files", ours=tiles_two, floor=tiles_one, unit="req/s",
           target=">= 0.8")
    record("cluster", "cold GetMap from the replica vs the primary", ours=getmap_replica, floor=getmap_primary,
           unit="req/s", target=">= 0.9")
    record("cluster", "intake with a node killed: cases / reports sent", ours=intake["cases"], floor=REPORTS,
           unit="cases", target=">= 1")
    print(f"cluster cached tiles via nginx: 1 node + file cache {tiles_one:.0f} req/s, 2 nodes + shared Redis "
          f"{tiles_two:.0f} req/s, ratio {tiles_two / tiles_one:.2f} (target >= 0.8)")
    print(f"cluster cold GetMap via nginx: primary {getmap_primary:.1f} req/s, replica {getmap_replica:.1f} req/s, "
          f"ratio {getmap_replica / getmap_primary:.2f} (target >= 0.9)")
    ok = intake["acknowledged"] == intake["cases"] == intake["distinct"] == REPORTS
    print(f"cluster intake with node 1 killed: {REPORTS} sent, {intake['acknowledged']} acknowledged, "
          f"{intake['cases']} cases ({intake['distinct']} distinct), {intake['retries']} retries: "
          f"{'none lost, none doubled' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
