"""Bench: inspector report intake through POST /api/v1/reports/ (validation, geocoding, numbering, history,
duplicate search) vs a minimal view that only inserts a row, same server, same run, 16 concurrent clients.

Then counts the cases: exactly N, no duplicate client_uuid, none lost; repeats with 20% of the reports sent
twice at once on two connections, the first answer thrown away (a lost response): still exactly N.
Runs gunicorn on 127.0.0.1 (free port, control socket in a temp dir) against the `citygis` database (or
DATABASE_URL) and removes every case and row it made. BENCH_INTAKE_REPORTS (10000), BENCH_INTAKE_CLIENTS (16),
BENCH_INTAKE_WORKERS (4) override the load.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tqdm import tqdm

from bench._report import record
from bench._support import free_port, setup_django

REPO = Path(__file__).resolve().parents[1]
REPORTS = int(os.environ.get("BENCH_INTAKE_REPORTS", 10000))
CLIENTS = int(os.environ.get("BENCH_INTAKE_CLIENTS", 16))
WORKERS = int(os.environ.get("BENCH_INTAKE_WORKERS", 4))
RETRY_SHARE = 0.2
INSPECTORS = [f"inspector{i}" for i in range(1, 13)]
# The baseline view's receipts carry this hash (bench/_intake_urls.py). Kept here so that the purge does not import
# the project's URLconf: a broken import elsewhere in the tree must not leave the bench's cases behind.
BASELINE_HASH = "bench-baseline"


def tokens() -> list[str]:
    from rest_framework.authtoken.models import Token

    from city_gis.accounts.models import User

    users = list(User.objects.filter(username__in=INSPECTORS, is_active=True))
    if not users:
        sys.exit("report_intake: no demo inspectors in the database — run `citygis load_demo` first")
    return [Token.objects.get_or_create(user=u)[0].key for u in users]


def sample_points(n: int, rng: random.Random) -> list[tuple[float, float]]:
    """n random points inside current grid cells (PostGIS ST_GeneratePoints), reproducible by seed."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT setseed(%s)", [rng.random() * 2 - 1])
        cur.execute(
            "SELECT ST_X(g), ST_Y(g) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, 1, %s))).geom AS g "
            "FROM grid_cell WHERE valid_to IS NULL ORDER BY random() LIMIT %s) p",
            [rng.randint(1, 10**6), n],
        )
        rows = cur.fetchall()
    if not rows:
        sys.exit("report_intake: no grid cells in the database — run `citygis load_demo` first")
    return [rows[i % len(rows)] for i in range(n)]


def category_codes() -> list[str]:
    from city_gis.cases.models import Category, CategoryKind

    return list(Category.objects.filter(active=True, kind=CategoryKind.EVENT).exclude(urgency_levels=[])
                .values_list("code", flat=True))


class Server:
    """gunicorn on a free local port with the bench settings; stopped (and waited for) on exit."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench._intake_settings", "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "city_gis.wsgi:application", "--bind",
             f"127.0.0.1:{self.port}", "--workers", str(WORKERS), "--worker-class", "sync", "--backlog", "256",
             "--timeout", "120", "--control-socket", str(tmp / "gunicorn.ctl"), "--log-level", "warning"],
            cwd=REPO, env=env,
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/open311/v2/discovery.json")
                if conn.getresponse().status == 200:
                    return self
            except OSError:
                time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_load(port: int, path: str, bodies: list[dict], keys: list[str], retried: set[int], label: str) -> dict:
    """Send every body from CLIENTS threads (keep-alive); retried indices go twice at once on two connections."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answers: dict[int, set] = {}
    lock = threading.Lock()
    cursor = iter(range(len(bodies)))
    bar = tqdm(total=len(bodies), desc=label, unit="req", leave=False, mininterval=2)

    def client(slot: int) -> None:
        headers = {"Content-Type": "application/json", "Authorization": f"Token {keys[slot % len(keys)]}"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        spare = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            payload = json.dumps(bodies[i])
            t0 = time.perf_counter()
            conn.request("POST", path, payload, headers)
            if i in retried:
                # The phone resends before the first answer arrives; that first answer is then lost.
                spare.request("POST", path, payload, headers)
            first = conn.getresponse()
            first_body = first.read()
            elapsed = time.perf_counter() - t0
            codes = [first.status]
            ids = {json.loads(first_body).get("id")} if first.status in (200, 201) else set()
            if i in retried:
                second = spare.getresponse()
                second_body = second.read()
                codes.append(second.status)
                if second.status in (200, 201):
                    ids.add(json.loads(second_body).get("id"))
            with lock:
                latencies.append(elapsed)
                for c in codes:
                    statuses[c] = statuses.get(c, 0) + 1
                answers[i] = ids
                bar.update(1)
        conn.close()
        spare.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    bar.close()
    latencies.sort()
    return {
        "rps": len(bodies) / wall,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
        "statuses": statuses,
        "split_answers": sum(1 for ids in answers.values() if len(ids) > 1),
    }


def report_bodies(n: int, rng: random.Random) -> list[dict]:
    points = sample_points(min(n, 5000), rng)
    codes = category_codes()
    return [
        {
            "client_uuid": str(uuid.uuid4()),
            "category": rng.choice(codes),
            "location": {"type": "Point", "coordinates": list(points[i % len(points)])},
            "observed_at": "2026-11-25T09:00:00+08:00",
            "description": "性能测试上报",
        }
        for i in range(n)
    ]


def count_cases(uuids: list[str]) -> tuple[int, int]:
    """(cases carrying these client_uuids, client_uuids that appear on more than one case)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(*) - count(DISTINCT client_uuid) FROM cases_case WHERE client_uuid = ANY(%s::uuid[])",
            [uuids],
        )
        return cur.fetchone()


def purge(uuids: list[str]) -> None:
    """Remove the bench's cases (history purge under the trigger's documented flag) and rows."""
    from django.db import connection, transaction

    from city_gis.cases.models import Case
    from field_app_api.models import ReportReceipt

    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL citygis.allow_history_purge = 'on'")
        ReportReceipt.objects.filter(payload_hash=BASELINE_HASH).delete()
        for start in range(0, len(uuids), 2000):
            chunk = uuids[start:start + 2000]
            ReportReceipt.objects.filter(client_uuid__in=chunk).delete()
            Case.objects.filter(client_uuid__in=chunk).delete()


def main() -> None:
    # A SIGTERM (e.g. a CI timeout) still stops gunicorn and removes the bench's cases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    setup_django()
    rng = random.Random(20261125)
    keys = tokens()
    n = REPORTS
    print(f"report_intake: {n} reports, {CLIENTS} clients, gunicorn {WORKERS} workers")
    baseline_bodies = [{"client_uuid": str(uuid.uuid4())} for _ in range(n)]
    first = report_bodies(n, rng)
    second = report_bodies(n, rng)
    retried = set(rng.sample(range(n), int(n * RETRY_SHARE)))
    made = [b["client_uuid"] for b in first + second]
    try:
        with tempfile.TemporaryDirectory(prefix="citygis-intake-") as tmp, Server(Path(tmp)) as server:
            base = run_load(server.port, "/bench/minimal-insert/", baseline_bodies, keys, set(), "baseline")
            real = run_load(server.port, "/api/v1/reports/", first, keys, set(), "reports")
            count, dups = count_cases([b["client_uuid"] for b in first])
            retry = run_load(server.port, "/api/v1/reports/", second, keys, retried, "reports+retries")
            count2, dups2 = count_cases([b["client_uuid"] for b in second])
        print(f"baseline (insert one row)   {base['rps']:8.1f} req/s   p95 {base['p95_ms']:7.1f} ms   {base['statuses']}")
        print(f"reports (with geocoding)    {real['rps']:8.1f} req/s   p95 {real['p95_ms']:7.1f} ms   {real['statuses']}")
        record("report_intake", "reports vs insert-only view", ours=real["rps"], floor=base["rps"], unit="req/s",
               target=">= 0.4")
        record("report_intake", "reports p95 (target: ratio to 150 ms)", ours=real["p95_ms"], floor=150, unit="ms",
               target="<= 1")
        print(f"report_intake throughput ratio reports/baseline: {real['rps'] / base['rps']:.3f}  "
              f"(p95 ratio {real['p95_ms'] / base['p95_ms']:.2f})")
        print(f"report_intake count: cases {count} of {n}, lost {n - count + dups}, duplicate client_uuid {dups}")
        print(f"reports + 20% retried      {retry['rps']:8.1f} req/s   p95 {retry['p95_ms']:7.1f} ms   {retry['statuses']}")
        print(f"report_intake with {len(retried)} retries: cases {count2} of {n}, lost {n - count2 + dups2}, "
              f"duplicate client_uuid {dups2}, retries answered with another case {retry['split_answers']}")
    finally:
        purge(made)


if __name__ == "__main__":
    main()
