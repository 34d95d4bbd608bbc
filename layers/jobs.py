"""Background jobs with PostgreSQL as the queue: work that must not run inside an HTTP request (large imports).

A job is a row of layers_job (layers.models.Job). `submit` queues one; `citygis run_jobs` workers `claim` the
oldest queued job with ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers never take the same job, and neither
waits for the other), run its kind's handler and record the result or the error. While a job runs, a heartbeat
thread (its own database connection, so it commits while the handler's transaction is still open) renews the
job's lease and publishes its progress. A worker that dies stops renewing: once the lease has expired, the next
worker's `expire_leases` re-queues the job (or fails it after MAX_ATTEMPTS), so a crash never leaves a job
"running" forever. Handlers keep their own writes all-or-nothing (the importer's single transaction): a failed
or interrupted job leaves nothing half-applied.

Generic infrastructure inside the registry app: layers may import nothing of the domain or the edges, so the
queue lives here and other apps register their kinds with `register` (see docs/jobs.md). This module imports
no other layers module but the models (an import-linter contract keeps it so); the import kind is registered by
layers.jobkinds.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, connections, transaction
from django.utils import timezone

from .models import Job, JobState

log = logging.getLogger(__name__)

# Cost and robustness bounds of the queue (one place; settings may override).
# a silent worker's job is re-queued after its lease (city_gis/settings.py: CITYGIS_JOBS_LEASE_SECONDS)
LEASE_SECONDS = float(settings.CITYGIS_JOBS_LEASE_SECONDS)
HEARTBEAT_SECONDS = LEASE_SECONDS / 4  # how often a running job renews its lease
PROGRESS_SECONDS = 1.0  # how often progress is written (at most)
MAX_ATTEMPTS = int(settings.CITYGIS_JOBS_MAX_ATTEMPTS)  # runs of a job whose worker died, then failed
MAX_ERROR_CHARS = 4000
UPLOAD_GRACE_SECONDS = 3600  # input folders of jobs that never committed (rolled back) are swept after


@dataclass
class Context:
    """What a handler gets besides the job: `progress(percent)` to report, and the job's own folder."""

    job: Job
    progress: Callable[[int], None]
    folder: Path


Handler = Callable[[Context], dict[str, Any]]
_handlers: dict[str, Handler] = {}


class JobFailed(Exception):
    """Raised by a handler for an expected failure: `message` is the job's error, `result` its result (optional)."""

    def __init__(self, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result


def register(kind: str) -> Callable[[Handler], Handler]:
    """Decorator: `handler(ctx) -> result dict` runs the jobs of `kind`."""
    def decorate(handler: Handler) -> Handler:
        _handlers[kind] = handler
        return handler
    return decorate


def handlers() -> dict[str, Handler]:
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("jobkinds")  # every installed app's jobkinds module registers its kinds
    return dict(_handlers)


def jobs_dir() -> Path:
    return Path(settings.VAR_DIR) / "jobs"


def folder_of(job_id: int | str) -> Path:
    return jobs_dir() / str(job_id)


def new_folder() -> Path:
    """A fresh folder for a job's input files (renamed to the job's id by `submit`)."""
    path = jobs_dir() / f"new-{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    return path


def submit(kind: str, params: dict[str, Any], user=None, *, folder: Path | None = None) -> Job:
    """Queue a job of `kind` (its input files, if any, in `folder` from new_folder)."""
    job = Job.objects.create(kind=kind, params=params,
                             created_by=user if getattr(user, "is_authenticated", False) else None)
    if folder is not None:
        target = folder_of(job.pk)
        # The id was just assigned: a folder of that name is left from another database (a recreated test
        # database, a restored dump) and belongs to no job of this one.
        shutil.rmtree(target, ignore_errors=True)
        folder.rename(target)
    return job


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def expire_leases() -> tuple[int, int]:
    """Jobs whose worker stopped renewing the lease: re-queued, or failed after MAX_ATTEMPTS. (requeued, failed)."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE layers_job SET state = %s, finished_at = now(), lease_until = NULL, "
                    "error = %s WHERE state = %s AND lease_until < now() AND attempts >= %s",
                    [JobState.FAILED, f"worker lost {MAX_ATTEMPTS} times (lease expired)", JobState.RUNNING,
                     MAX_ATTEMPTS])
        failed = cur.rowcount
        cur.execute("UPDATE layers_job SET state = %s, worker = '', lease_until = NULL, progress = 0 "
                    "WHERE state = %s AND lease_until < now()", [JobState.QUEUED, JobState.RUNNING])
        return cur.rowcount, failed


def claim(worker: str, kinds: list[str] | None = None) -> Job | None:
    """Take the oldest queued job (of `kinds`, default: every registered kind) for `worker`, or None."""
    kinds = sorted(handlers()) if kinds is None else kinds
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "UPDATE layers_job SET state = %s, worker = %s, started_at = now(), attempts = attempts + 1, "
            "lease_until = now() + make_interval(secs => %s), progress = 0 "
            "WHERE id = (SELECT id FROM layers_job WHERE state = %s AND kind = ANY(%s) "
            "ORDER BY created_at, id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id",
            [JobState.RUNNING, worker, LEASE_SECONDS, JobState.QUEUED, kinds])
        row = cur.fetchone()
    return Job.objects.get(pk=row[0]) if row else None


class _Heartbeat(threading.Thread):
    """Renews the lease and writes progress of one running job over its own connection."""

    def __init__(self, job_id: int, worker: str) -> None:
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id, self.worker = job_id, worker
        self.percent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        written, renewed = -1, time.monotonic()
        try:
            while not self.stop.wait(PROGRESS_SECONDS):
                due = time.monotonic() - renewed >= HEARTBEAT_SECONDS
                if self.percent != written or due:
                    self._write()
                    written, renewed = self.percent, time.monotonic()
        finally:
            connections.close_all()  # this thread's connection

    def _write(self) -> None:
        try:
            with connection.cursor() as cur:
                cur.execute("UPDATE layers_job SET progress = %s, lease_until = now() + make_interval(secs => %s) "
                            "WHERE id = %s AND worker = %s AND state = %s",
                            [self.percent, LEASE_SECONDS, self.job_id, self.worker, JobState.RUNNING])
        except Exception:  # a lost connection: the next beat retries; the lease covers a few misses
            log.exception("job %s: heartbeat failed", self.job_id)
            connections.close_all()


def run(job: Job, worker: str) -> Job:
    """Run a claimed job to its end: succeeded (result) or failed (error); returns it as recorded."""
    handler = handlers().get(job.kind)
    beat = _Heartbeat(job.pk, worker)
    beat.start()

    def progress(percent: int) -> None:
        beat.percent = max(0, min(99, int(percent)))

    state, result, error = JobState.SUCCEEDED, None, ""
    try:
        if handler is None:
            raise JobFailed(f"unknown job kind {job.kind!r}")
        with transaction.atomic():
            result = handler(Context(job, progress, folder_of(job.pk)))
            # Success is recorded in the transaction of the job's own writes: a worker killed between the two
            # would leave the writes done and the job "running", and the retry would apply them a second time.
            done = Job.objects.filter(pk=job.pk, worker=worker, state=JobState.RUNNING).update(
                state=JobState.SUCCEEDED, result=result, error="", finished_at=timezone.now(), lease_until=None,
                progress=100)
            if not done:  # the lease was lost meanwhile (another worker has the job): this run's writes go
                raise JobFailed("the job's lease was lost to another worker; this run was undone")
    except JobFailed as exc:
        state, result, error = JobState.FAILED, exc.result, str(exc)
    except Exception as exc:  # the job fails, the worker lives on
        log.exception("job %s (%s) failed", job.pk, job.kind)
        state, error = JobState.FAILED, f"{type(exc).__name__}: {exc}"
    finally:
        beat.stop.set()
        beat.join()
    if state != JobState.SUCCEEDED:
        Job.objects.filter(pk=job.pk, worker=worker, state=JobState.RUNNING).update(
            state=state, result=result, error=error[:MAX_ERROR_CHARS], finished_at=timezone.now(), lease_until=None,
            progress=beat.percent)
    shutil.rmtree(folder_of(job.pk), ignore_errors=True)  # the inputs are not needed after the job's end
    return Job.objects.get(pk=job.pk)


def sweep_uploads() -> int:
    """Remove input folders nobody will run: of finished or vanished jobs (a request rolled back after saving its
    upload), once older than UPLOAD_GRACE_SECONDS — a folder younger than that may belong to a job whose request
    has not committed yet."""
    root = jobs_dir()
    if not root.is_dir():
        return 0
    removed, cutoff = 0, time.time() - UPLOAD_GRACE_SECONDS
    live = {str(pk) for pk in Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING])
            .values_list("pk", flat=True)}
    for path in root.iterdir():
        if path.name not in live and path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def work(worker: str | None = None, *, once: bool = False, poll: float = 2.0, max_jobs: int | None = None,
         stop: threading.Event | None = None, kinds: list[str] | None = None) -> int:
    """The worker loop: expire leases, claim, run; with `once`, return when no job is waiting. Returns jobs run."""
    worker = worker or worker_name()
    stop = stop or threading.Event()
    done = 0
    sweep_uploads()
    while not stop.is_set() and (max_jobs is None or done < max_jobs):
        try:
            expire_leases()
            job = claim(worker, kinds)
        except (OperationalError, InterfaceError):  # database restarting: wait and reconnect, don't die
            log.warning("jobs: database unavailable, retrying in %ss", poll)
            connections.close_all()
            if once:
                break
            stop.wait(poll)
            continue
        if job is None:
            if once:
                break
            stop.wait(poll)
            continue
        log.info("job %s (%s) claimed by %s", job.pk, job.kind, worker)
        finished = run(job, worker)
        log.info("job %s %s", job.pk, finished.state)
        done += 1
    return done

