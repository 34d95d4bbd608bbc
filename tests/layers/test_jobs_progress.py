"""Job progress and cancellation: progress (percent, done/total, message) is seen from another connection while the
job's transaction is open; a cancelled job — queued or running — leaves nothing applied; who sees and cancels a job
over /api/v1/jobs/ (submitter, the department's stewards, admins; others 404; a finished job 409)."""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from city_gis.accounts.models import Department
from layers import jobs
from layers.models import Job, Layer

from .test_jobs import committed_import  # noqa: F401 — the 60,000-point import job fixture

KIND = "tests.progress"
MARK = "tests-jobs-progress"  # the department row the test kind writes (and a cancelled run must not leave)
CALLS: list[int] = []


@jobs.register(KIND)
def _count(ctx: jobs.Context) -> dict:
    """Writes one row, then reports progress step by step until the end (or a cancel stops it)."""
    CALLS.append(ctx.job.pk)
    Department.objects.create(code=f"{MARK}-{ctx.job.pk}", name_zh="进度测试")
    total = ctx.job.params.get("total", 40)
    for done in range(1, total + 1):
        ctx.progress(100 * done / total, done=done, total=total, message=f"step {done}")
        time.sleep(ctx.job.params.get("sleep", 0.05))
    return {"done": total}


def _purge() -> None:
    Job.objects.filter(kind=KIND).delete()
    Department.objects.filter(code__startswith=MARK).delete()


@pytest.fixture
def committed(django_db_setup, django_db_blocker, monkeypatch):
    """Jobs of the test kind committed (a worker thread and a second connection see them), removed afterwards."""
    monkeypatch.setattr(jobs, "PROGRESS_SECONDS", 0.05)
    with django_db_blocker.unblock():
        _purge()
        CALLS.clear()
        try:
            yield lambda params: jobs.submit(KIND, params)
        finally:
            _purge()


def _worker(**kwargs) -> threading.Thread:
    def work() -> None:
        try:
            jobs.work("w-progress", once=True, kinds=kwargs.get("kinds", [KIND]), max_jobs=1)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def _other_connection():
    conn = psycopg2.connect(dbname=connection.settings_dict["NAME"])
    conn.autocommit = True
    return conn


def _read(conn, job_id: int) -> tuple:
    with conn.cursor() as cur:
        cur.execute("SELECT state, progress, done, total, message FROM layers_job WHERE id = %s", [job_id])
        return cur.fetchone()


def _wait_for(conn, job_id: int, predicate, timeout: float = 20) -> tuple:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = _read(conn, job_id)
        if predicate(row):
            return row
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached the expected state: {_read(conn, job_id)}")


def test_progress_is_visible_from_another_connection_while_the_job_runs(committed):
    job = committed({"total": 20, "sleep": 0.05})
    other = _other_connection()
    try:
        worker = _worker()
        state, percent, done, total, message = _wait_for(other, job.pk, lambda r: r[2] is not None and r[2] >= 3)
        assert state == "running" and total == 20 and 0 < percent < 100 and message.startswith("step ")
        with other.cursor() as cur:  # …while the job's own write is still uncommitted
            cur.execute("SELECT count(*) FROM accounts_department WHERE code = %s", [f"{MARK}-{job.pk}"])
            assert cur.fetchone()[0] == 0
        worker.join()
    finally:
        other.close()
    job.refresh_from_db()
    assert (job.state, job.progress, job.result, job.message) == ("succeeded", 100, {"done": 20}, "")
    assert Department.objects.filter(code=f"{MARK}-{job.pk}").exists()


def test_a_queued_job_cancelled_before_it_starts_never_runs(committed):
    job = committed({})
    assert jobs.cancel(job.pk) == "cancelled"
    assert jobs.work("w-none", once=True, kinds=[KIND]) == 0
    job.refresh_from_db()
    assert (job.state, job.started_at is None, job.finished_at is not None) == ("cancelled", True, True)
    assert CALLS == [] and not Department.objects.filter(code__startswith=MARK).exists()
    assert jobs.cancel(job.pk) is None  # ended: nothing to cancel


def test_a_running_job_cancelled_stops_at_its_next_progress_point_and_leaves_nothing(committed):
    job = committed({"total": 400, "sleep": 0.02})  # 8 s if nobody stops it
    other = _other_connection()
    try:
        worker = _worker()
        _wait_for(other, job.pk, lambda r: r[2] is not None and r[2] >= 2)
        assert jobs.cancel(job.pk) == "requested"
        start = time.monotonic()
        worker.join()
        assert time.monotonic() - start < 4  # stopped, not run to its end
    finally:
        other.close()
    job.refresh_from_db()
    assert job.state == "cancelled" and job.result is None and job.error == ""
    assert 0 < job.progress < 100 and job.cancel_requested_at is not None
    assert not Department.objects.filter(code=f"{MARK}-{job.pk}").exists()  # its write was rolled back
    assert jobs.cancel(job.pk) is None


def test_a_cancelled_import_leaves_no_layer_no_rows_no_version(committed_import, monkeypatch):  # noqa: F811
    """The real import kind: the cancel flag is up when the worker starts it; the import stops at a progress point
    (or, if it got to its end first, at the success check) and rolls back — the new layer does not exist."""
    monkeypatch.setattr(jobs, "PROGRESS_SECONDS", 0.05)
    job, _n = committed_import
    claimed = jobs.claim("w-import", ["layers.import"])
    assert claimed.pk == job.pk
    assert jobs.cancel(job.pk) == "requested"
    finished = jobs.run(claimed, "w-import")
    assert finished.state == "cancelled" and finished.result is None
    assert not Layer.objects.filter(name="land.lyt_crash").exists()


def test_a_lost_job_with_a_cancel_request_is_not_run_again(committed):
    job = committed({})
    jobs.claim("dead", [KIND])
    assert jobs.cancel(job.pk) == "requested"
    with connection.cursor() as cur:
        cur.execute("UPDATE layers_job SET lease_until = now() - interval '1 second' WHERE id = %s", [job.pk])
    jobs.expire_leases()
    job.refresh_from_db()
    assert job.state == "cancelled" and CALLS == []


# --- the API: who sees, who cancels ------------------------------------------------------------------------------
@pytest.fixture
def people(user_factory):
    return {
        "owner": user_factory("t_jp_owner", roles=["data_steward"], department="land"),
        "colleague": user_factory("t_jp_colleague", roles=["inspector"], department="land"),
        "steward": user_factory("t_jp_steward", roles=["data_steward"], department="land"),
        "other_dept": user_factory("t_jp_other", roles=["data_steward"], department="urban"),
        "admin": user_factory("t_jp_admin", roles=["admin"], department="urban"),
    }


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_who_sees_a_job(people):
    job = jobs.submit(KIND, {}, people["owner"])
    url = f"/api/v1/jobs/{job.pk}/"
    for who, code in (("owner", 200), ("steward", 200), ("admin", 200), ("colleague", 404), ("other_dept", 404)):
        response = _client(people[who]).get(url)
        assert response.status_code == code, who
        listed = [j["id"] for j in _client(people[who]).get("/api/v1/jobs/").json()["results"]]
        assert (job.pk in listed) is (code == 200), who
    body = _client(people["owner"]).get(url).json()
    assert (body["state"], body["done"], body["total"], body["message"], body["cancel_requested"]) == (
        "queued", None, None, "", False)
    assert "params" not in body
    assert _client().get(url).status_code in (401, 403)
    assert _client().get("/api/v1/jobs/").status_code in (401, 403)


@pytest.mark.django_db
def test_who_cancels_a_job_and_a_finished_one_is_409(people):
    job = jobs.submit(KIND, {}, people["owner"])
    url = f"/api/v1/jobs/{job.pk}/cancel/"
    for who in ("colleague", "other_dept"):
        assert _client(people[who]).post(url).status_code == 404, who
    assert _client().post(url).status_code in (401, 403)
    assert Job.objects.get(pk=job.pk).state == "queued"  # nobody of those changed anything

    response = _client(people["owner"]).post(url)
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    again = _client(people["owner"]).post(url)
    assert again.status_code == 409 and again.json()["state"] == "cancelled"

    running = jobs.submit(KIND, {}, people["owner"])
    Job.objects.filter(pk=running.pk).update(state="running", worker="w")
    response = _client(people["steward"]).post(f"/api/v1/jobs/{running.pk}/cancel/")  # the department's steward
    assert response.status_code == 202
    assert (response.json()["state"], response.json()["cancel_requested"]) == ("running", True)

    done = jobs.submit(KIND, {}, people["other_dept"])
    Job.objects.filter(pk=done.pk).update(state="succeeded")
    assert _client(people["admin"]).post(f"/api/v1/jobs/{done.pk}/cancel/").status_code == 409
    assert _client(people["owner"]).post("/api/v1/jobs/999999999/cancel/").status_code == 404
    assert _client(people["owner"]).get("/api/v1/jobs/", {"state": "cancelled"}).json()["results"][0]["id"] == job.pk
