"""The local cluster (scripts/cluster.sh, issue 14 item 5) on the test database: a real streaming replica made by
pg_basebackup, two gunicorn nodes behind nginx-light, the shared Redis tile cache. Under bounded load one node
is killed: the other keeps serving (nginx retries idempotent requests; only in-flight ones may fail), and a
tile rendered through node 1 is served from the shared cache by node 2."""

from __future__ import annotations

import concurrent.futures
import hashlib
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

import psycopg2
import pytest
import redis
import requests

pytestmark = pytest.mark.django_db  # the test database (and its small demo city) is what the cluster serves
ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 240
# Zhongshan district, Liupanshui: inside the demo base map.
CENTER = (104.83, 26.59)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tile(z: int) -> tuple[int, int]:
    lon, lat = CENTER
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def cluster(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        db = connection.settings_dict["NAME"]
    base = Path(tempfile.mkdtemp(prefix="citygis-cluster-"))
    base.chmod(0o755)  # the replica's postgres user walks into it
    ports = {"nginx": _free_port(), "node1": _free_port(), "node2": _free_port(), "replica": _free_port(),
             "pool": _free_port()}
    redis_db = 10 + zlib.crc32(db.encode()) % 6
    env = dict(os.environ, CLUSTER_DB=db, DATABASE_URL=f"postgis:///{db}", CLUSTER_PORT=str(ports["nginx"]),
               NODE_PORTS=f"{ports['node1']} {ports['node2']}", REPLICA_PORT=str(ports["replica"]),
               POOL_PORT=str(ports["pool"]),
               CLUSTER_DIR=str(base / "cluster"), CITYGIS_VAR_DIR=str(base / "var"), CLUSTER_REDIS_DB=str(redis_db),
               NODE_WORKERS="1", CLUSTER_CONSUMER="0",
               # The load below is bounded by the test itself; throttles are not what it measures.
               CITYGIS_THROTTLE_ANON="100000/min", CITYGIS_OGC_RATE_ANON="100000/min", CITYGIS_DEMO_PASSWORD=os.environ["CITYGIS_DEMO_PASSWORD"])
    env.pop("CITYGIS_TEST_DB_NAME", None)
    env.pop("REDIS_URL", None)
    tiles = redis.Redis(db=redis_db)
    tiles.flushdb()  # this run's own database (see redis_db)
    proc = subprocess.Popen([str(ROOT / "scripts/cluster.sh")], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        for line in proc.stdout:
            output.append(line)
            if "cluster ready" in line:
                break
            if time.monotonic() > deadline:
                break
        if not any("cluster ready" in line for line in output):
            pytest.fail("cluster did not start:\n" + "".join(output[-40:]))
        yield {"ports": ports, "dir": base / "cluster", "db": db, "tiles": tiles,
               "url": f"http://127.0.0.1:{ports['nginx']}"}
    finally:
        proc.send_signal(signal.SIGTERM)  # the script's trap stops nodes, nginx and the replica
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        tiles.flushdb()
        shutil.rmtree(base, ignore_errors=True)


def test_the_replica_is_a_streaming_standby_that_follows_the_primary(cluster):
    replica = psycopg2.connect(host="127.0.0.1", port=cluster["ports"]["replica"], dbname=cluster["db"])
    primary = psycopg2.connect(dbname=cluster["db"])
    primary.autocommit = True
    try:
        with replica.cursor() as cur:
            cur.execute("SELECT pg_is_in_recovery()")
            assert cur.fetchone() == (True,)
        with primary.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS cluster_probe (n int)")
            cur.execute("INSERT INTO cluster_probe VALUES (42)")
        for _ in range(100):
            replica.rollback()
            with replica.cursor() as cur:
                cur.execute("SELECT to_regclass('cluster_probe') IS NOT NULL")
                if cur.fetchone()[0]:
                    cur.execute("SELECT n FROM cluster_probe")
                    if cur.fetchall() == [(42,)]:
                        break
            time.sleep(0.1)
        else:
            pytest.fail("the row never reached the replica")
    finally:
        with primary.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS cluster_probe")
        replica.close()
        primary.close()


def test_the_nodes_reach_the_primary_through_pgbouncer(cluster):
    log = (cluster["dir"] / "logs" / "pgbouncer.log").read_text()
    pooled = psycopg2.connect(host="127.0.0.1", port=cluster["ports"]["pool"], dbname=cluster["db"])
    try:
        with pooled.cursor() as cur:
            cur.execute("SELECT count(*) FROM layers_layer")
            assert cur.fetchone()[0] > 0
    finally:
        pooled.close()
    assert "transaction" in (cluster["dir"] / "pgbouncer.ini").read_text() and "FATAL" not in log


def test_every_node_reports_its_dependencies_ready(cluster):
    for node in ("node1", "node2"):
        body = requests.get(f"http://127.0.0.1:{cluster['ports'][node]}/readyz", timeout=30).json()
        assert body["status"] == "ok", body
        assert set(body["checks"]) == {"database", "cache", "renderer", "disk", "replica", "tile_cache"}
        assert body["checks"]["replica"]["status"] == "ok"


def test_a_tile_rendered_through_node_1_comes_from_the_shared_cache_on_node_2(cluster):
    x, y = _tile(14)
    path = f"/tiles/base.basemap/webmercator/14/{x}/{y}.png"
    first = requests.get(f"http://127.0.0.1:{cluster['ports']['node1']}{path}", timeout=60)
    assert first.status_code == 200 and first.headers["Content-Type"] == "image/png"
    assert cluster["tiles"].get(f"base.basemap_webmercator-14-{x}-{y}") == first.content
    second = requests.get(f"http://127.0.0.1:{cluster['ports']['node2']}{path}", timeout=60)
    assert second.status_code == 200 and second.content == first.content
    # Node 2 answered from Redis on its hit path: its validator is the content's MD5 (MapProxy's is not).
    assert second.headers["ETag"] == hashlib.md5(first.content).hexdigest()


def test_killing_a_node_under_load_only_fails_requests_in_flight(cluster):
    url = cluster["url"] + "/api/v1/layers/"
    concurrency, total = 4, 400
    node1 = int((cluster["dir"] / "run" / f"node-{cluster['ports']['node1']}.pid").read_text())
    results: list[tuple[float, int]] = []
    killed_at: list[float] = []

    def one(i: int) -> tuple[float, int]:
        if i == total // 4 and not killed_at:
            killed_at.append(time.monotonic())
            subprocess.run(["pkill", "-KILL", "-P", str(node1)], check=False)  # its workers …
            os.kill(node1, signal.SIGKILL)  # … and the master: the node is gone at once
        try:
            status = requests.get(url, timeout=30).status_code
        except requests.RequestException:
            status = 0
        return time.monotonic(), status

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(total)))
    failed = [r for r in results if r[1] != 200]
    assert killed_at, "the node was not killed"
    assert len(failed) <= concurrency, failed  # at most the requests in flight at the kill
    after = [status for at, status in results if at > killed_at[0] + 1]
    assert after and all(status == 200 for status in after)  # node 2 alone serves everything afterwards
    node2 = requests.get(f"http://127.0.0.1:{cluster['ports']['node2']}/healthz", timeout=10)
    assert node2.status_code == 200
