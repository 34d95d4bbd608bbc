"""Background jobs: PostgreSQL as the queue (SKIP LOCKED claims), leases that survive a dead worker, and the
202 + Location import flow with the worker run in the test."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from layers import jobs
from layers.models import GenericFeature, Job, Layer, LayerVersion

from .test_versions import V1, write

RAN: list[tuple[int, str]] = []  # (job id, worker) of every run of tests.record


@jobs.register("tests.record")
def _record(ctx: jobs.Context) -> dict:
    RAN.append((ctx.job.pk, ctx.job.worker))
    ctx.progress(50)
    time.sleep(ctx.job.params.get("sleep", 0))
    if ctx.job.params.get("fail"):
        raise jobs.JobFailed("wie gewünscht", result={"errors": {"detail": "x"}})
    if ctx.job.params.get("crash"):
        raise RuntimeError("boom")
    return {"echo": ctx.job.params.get("echo")}


@pytest.mark.django_db
def test_a_worker_runs_queued_jobs_in_order_and_records_results():
    RAN.clear()
    a = jobs.submit("tests.record", {"echo": 1})
    b = jobs.submit("tests.record", {"echo": 2, "fail": True})
    c = jobs.submit("tests.record", {"crash": True})
    assert jobs.work("w1", once=True, kinds=["tests.record"]) == 3
    assert [pk for pk, _w in RAN] == [a.pk, b.pk, c.pk]
    a, b, c = (Job.objects.get(pk=j.pk) for j in (a, b, c))
    assert (a.state, a.result, a.progress, a.error, a.worker, a.attempts) == ("succeeded", {"echo": 1}, 100, "", "w1", 1)
    assert a.started_at <= a.finished_at
    assert (b.state, b.result, b.error) == ("failed", {"errors": {"detail": "x"}}, "wie gewünscht")
    assert (c.state, c.error) == ("failed", "RuntimeError: boom")  # the worker lived on


@pytest.mark.django_db
def test_a_job_of_a_dead_worker_is_requeued_after_its_lease_then_failed_after_max_attempts():
    job = jobs.submit("tests.record", {"echo": "again"})
    assert jobs.claim("dead", ["tests.record"]).pk == job.pk  # …and the worker dies: nobody renews the lease
    assert jobs.claim("other", ["tests.record"]) is None  # a running job is nobody else's while leased
    assert jobs.expire_leases() == (0, 0)
    with connection.cursor() as cur:
        cur.execute("UPDATE layers_job SET lease_until = now() - interval '1 second' WHERE id = %s", [job.pk])
    assert jobs.work("alive", once=True, kinds=["tests.record"]) == 1
    job.refresh_from_db()
    assert (job.state, job.worker, job.attempts, job.result) == ("succeeded", "alive", 2, {"echo": "again"})

    doomed = jobs.submit("tests.record", {})
    Job.objects.filter(pk=doomed.pk).update(state="running", attempts=jobs.MAX_ATTEMPTS, worker="dead")
    with connection.cursor() as cur:
        cur.execute("UPDATE layers_job SET lease_until = now() - interval '1 second' WHERE id = %s", [doomed.pk])
    assert jobs.expire_leases() == (0, 1)
    doomed.refresh_from_db()
    assert doomed.state == "failed" and "lease expired" in doomed.error


def _purge() -> None:
    Job.objects.filter(kind__startswith="tests.").delete()


@pytest.fixture
def committed_jobs(django_db_setup, django_db_blocker):
    """Twenty committed tests.record jobs (other connections see them), removed afterwards."""
    with django_db_blocker.unblock():
        _purge()
        made = [jobs.submit("tests.record", {"echo": i, "sleep": 0.02}) for i in range(20)]
        try:
            yield made
        finally:
            _purge()


def test_two_workers_never_take_the_same_job(committed_jobs):
    RAN.clear()
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            jobs.work(name, once=True, kinds=["tests.record"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("w-a", "w-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [pk for pk, _w in RAN]
    assert sorted(ids) == sorted(j.pk for j in committed_jobs)  # each job ran exactly once
    assert {w for _pk, w in RAN} == {"w-a", "w-b"}  # …and both workers worked
    finished = Job.objects.filter(pk__in=ids)
    assert set(finished.values_list("state", flat=True)) == {"succeeded"}
    assert {j.pk: j.worker for j in finished} == dict(RAN)


def test_the_heartbeat_publishes_progress_while_the_job_runs(committed_jobs, monkeypatch):
    monkeypatch.setattr(jobs, "PROGRESS_SECONDS", 0.05)
    first = committed_jobs[0]
    Job.objects.filter(pk=first.pk).update(params={"sleep": 1.0})
    seen: list[int] = []

    def watch() -> None:
        try:
            for _ in range(60):
                seen.append(Job.objects.get(pk=first.pk).progress)
                time.sleep(0.02)
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    jobs.work("w-p", once=True, kinds=["tests.record"], max_jobs=1)
    watcher.join()
    assert 50 in seen  # written by the heartbeat's own connection while the handler was still sleeping
    assert Job.objects.get(pk=first.pk).progress == 100


# --- the import flow over the API ------------------------------------------------------------------------------
@pytest.fixture
def steward(user_factory):
    return user_factory("t_jobs_steward", roles=["data_steward"], department="land")


@pytest.mark.django_db
def test_async_import_answers_202_with_location_and_the_worker_imports(steward, tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    client = APIClient()
    client.force_authenticate(steward)
    with open(write(tmp_path, V1), "rb") as upload:
        response = client.post("/api/v1/layers/?async=1", {"file": upload, "name": "land.lyt_async", "title_zh": "后台",
                                                             "comment": "后台导入"}, format="multipart")
    assert response.status_code == 202, response.content
    url = response["Location"]
    body = response.json()
    assert url == f"/api/v1/jobs/{body['id']}/" == body["url"]
    assert (body["state"], body["kind"], body["layer"], body["created_by"]) == (
        "queued", "layers.import", "land.lyt_async", "t_jobs_steward")
    assert not Layer.objects.filter(name="land.lyt_async").exists()  # nothing ran in the request
    assert jobs.work("in-test", once=True) == 1
    job = client.get(url).json()
    assert (job["state"], job["progress"], job["error"]) == ("succeeded", 100, "")
    assert (job["result"]["rows_written"], job["result"]["version"], job["result"]["created"]) == (3, 1, True)
    layer = Layer.objects.get(name="land.lyt_async")
    assert GenericFeature.objects.filter(layer=layer).count() == 3
    assert LayerVersion.objects.get(layer=layer).comment == "后台导入"
    assert [j["id"] for j in client.get("/api/v1/jobs/").json()["results"]] == [job["id"]]
    assert not (tmp_path / "var" / "jobs" / str(job["id"])).exists()  # the upload is gone with the job


@pytest.mark.django_db
def test_a_failed_async_import_leaves_nothing_and_says_why(steward, tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    client = APIClient()
    client.force_authenticate(steward)
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, '
                   '"properties": {"code": "A"}}]}')
    with bad.open("rb") as upload:
        response = client.post("/api/v1/layers/?async=1", {"file": upload, "name": "land.lyt_async_bad",
                                                             "title_zh": "坏"}, format="multipart")
    assert response.status_code == 202
    jobs.work("in-test", once=True)
    job = client.get(response["Location"]).json()
    assert job["state"] == "failed" and job["error"]
    assert "errors" in job["result"]
    assert not Layer.objects.filter(name="land.lyt_async_bad").exists()


@pytest.mark.django_db
def test_jobs_are_their_submitters_and_bad_parameters_are_named(steward, user_factory, tmp_path):
    job = jobs.submit("tests.record", {}, steward)
    other = APIClient()
    other.force_authenticate(user_factory("t_jobs_other", roles=["data_steward"], department="urban"))
    assert other.get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert other.get("/api/v1/jobs/").json()["results"] == []
    assert APIClient().get("/api/v1/jobs/").status_code in (401, 403)
    mine = APIClient()
    mine.force_authenticate(steward)
    assert mine.get(f"/api/v1/jobs/{job.pk}/").json()["state"] == "queued"
    assert list(mine.get("/api/v1/jobs/", {"state": "nope"}).json()) == ["state"]
    with open(write(tmp_path, V1), "rb") as upload:
        response = mine.post("/api/v1/layers/?async=yes", {"file": upload, "name": "land.lyt_x", "title_zh": "x"},
                             format="multipart")
    assert response.status_code == 400 and list(response.json()) == ["async"]


@pytest.mark.django_db
def test_the_run_jobs_command_works_off_the_queue():
    from io import StringIO

    from django.core.management import call_command

    job = jobs.submit("tests.record", {"echo": "cli"})
    out = StringIO()
    call_command("run_jobs", "--once", stdout=out)
    job.refresh_from_db()
    assert (job.state, job.result) == ("succeeded", {"echo": "cli"})
    assert "1" in out.getvalue().splitlines()[-1]


@pytest.fixture
def committed_import(django_db_setup, django_db_blocker, tmp_path, settings):
    """A committed import job of 60,000 points into a new layer land.lyt_crash; job and layer removed afterwards."""
    import geopandas as gpd
    import numpy as np
    from shapely import points

    from layers.importer import LayerCreate
    from layers.jobkinds import IMPORT, import_params

    settings.VAR_DIR = tmp_path / "var"
    n = 60_000
    rng = np.random.default_rng(7)
    frame = gpd.GeoDataFrame({"code": [f"P{i}" for i in range(n)]},
                             geometry=points(104.8 + rng.random(n) * 0.1, 26.5 + rng.random(n) * 0.1), crs="EPSG:4490")

    def purge() -> None:
        Job.objects.filter(params__layer="land.lyt_crash").delete()
        Layer.objects.filter(name="land.lyt_crash").delete()

    with django_db_blocker.unblock():
        purge()
        folder = jobs.new_folder()
        frame.to_file(folder / "upload.gpkg", driver="GPKG", engine="pyogrio")
        job = jobs.submit(IMPORT, import_params(file="upload.gpkg", name="points.gpkg", layer="land.lyt_crash", user=None,
                                                create=LayerCreate(department="land", title_zh="崩溃")), folder=folder)
        try:
            yield job, n
        finally:
            purge()


def test_a_worker_killed_mid_import_leaves_nothing_and_the_job_runs_again(committed_import, settings):
    """A real worker process is killed (SIGKILL) while importing; the next worker re-queues the job after its
    lease and imports the file once: no rows or version of the dead attempt remain."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    job, n = committed_import
    env = {**os.environ, "DATABASE_URL": f"postgis:///{connection.settings_dict['NAME']}",
           "CITYGIS_VAR_DIR": str(settings.VAR_DIR), "CITYGIS_JOBS_LEASE_SECONDS": "2"}
    import psycopg2

    root = Path(__file__).resolve().parents[2]
    # Hold the feature table in SHARE mode from another connection: the worker's import reads, repairs and starts
    # writing, then waits for the lock — it is killed there, mid-import, however fast the machine is.
    gate = psycopg2.connect(dbname=connection.settings_dict["NAME"])
    with gate.cursor() as cur:
        cur.execute("LOCK TABLE layers_genericfeature IN SHARE MODE")
    worker = subprocess.Popen([sys.executable, str(root / "manage.py"), "run_jobs", "--once", "--verbosity", "0"],
                              cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        waiting = False
        while not waiting and time.monotonic() < deadline:  # the import has begun and waits to write
            with gate.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                            "WHERE c.relname = 'layers_genericfeature' AND NOT l.granted")
                waiting = cur.fetchone()[0] > 0
            time.sleep(0.05)
        assert waiting, "the worker never reached the write"
        assert Job.objects.get(pk=job.pk).state == "running"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        gate.rollback()  # releases the lock
        gate.close()
    dead = Job.objects.get(pk=job.pk)
    assert (dead.state, dead.attempts) == ("running", 1)  # …and nobody will renew its lease
    assert not Layer.objects.filter(name="land.lyt_crash").exists()  # the killed transaction left nothing
    Job.objects.filter(pk=job.pk).update(lease_until=dead.lease_until - timedelta(seconds=3))  # = 2 s lease over
    assert jobs.work("survivor", once=True, kinds=["layers.import"]) == 1
    done = Job.objects.get(pk=job.pk)
    assert (done.state, done.attempts, done.worker, done.result["rows_written"]) == ("succeeded", 2, "survivor", n)
    layer = Layer.objects.get(name="land.lyt_crash")
    assert GenericFeature.objects.filter(layer=layer).count() == n
    assert list(LayerVersion.objects.filter(layer=layer).values_list("number", "rows_added")) == [(1, n)]
