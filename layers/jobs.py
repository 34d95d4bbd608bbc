"""Background jobs with PostgreSQL as the queue: work that must not run inside an HTTP request (large imports).

A job is a row of layers_job (layers.models.Job). `submit` queues one; `citygis run_jobs` workers `claim` the
oldest queued job with ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers never take the same job, and neither
waits for the other), run its kind's handler and record the result or the error. While a job runs, a heartbeat
thread (its own database connection, so it commits while the handler's transaction is still open) renews the
job's lease and publishes its progress. A worker that dies stops renewing: once the lease has expired, the next
worker's `expire_leases` re-queues the job (or fails it after MAX_ATTEMPTS), so a crash never leaves a job
"running" forever. Handlers keep their own writes all-or-nothing (the importer's single transaction): a failed
or interrupted job leaves nothing half-applied.

Progress (percent, done/total in the handler's units, a message) is published by that heartbeat, so it is seen
while the job's transaction is still open. `cancel` ends a queued job at once and flags a running one: the
handler's next progress point raises Cancelled, its transaction rolls back, and the job ends "cancelled".

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


MAX_MESSAGE_CHARS = 200  # Job.message


class Progress:
    """`progress(percent, done=…, total=…, message=…)`: what a handler calls at its progress points.

    Each call records the figures for the heartbeat thread to publish, and is the handler's cancellation point:
    when the heartbeat has seen a cancel request, the call raises Cancelled, so the handler's transaction rolls
    back entirely. `check()` is a cancellation point that reports nothing.
    """

    def __init__(self) -> None:
        self.percent, self.done, self.total, self.message = 0, None, None, ""
        self.cancelled = threading.Event()  # set by the heartbeat when the job's cancel flag is up

    def __call__(self, percent: float, *, done: int | None = None, total: int | None = None,
                 message: str | None = None) -> None:
        self.percent = max(0, min(99, int(percent)))
        if done is not None:
            self.done, self.total = int(done), None if total is None else int(total)
        if message is not None:
            self.message = str(message)[:MAX_MESSAGE_CHARS]
        self.check()

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled()

    def snapshot(self) -> tuple[int, int | None, int | None, str]:
        return self.percent, self.done, self.total, self.message


@dataclass
class Context:
    """What a handler gets besides the job: `progress(percent, done=, total=, message=)` to report (and to stop at
    when the job is cancelled), and the job's own folder."""

    job: Job
    progress: Progress
    folder: Path


Handler = Callable[[Context], dict[str, Any]]
_handlers: dict[str, Handler] = {}


class Cancelled(BaseException):  # noqa: N818 — it is a request, not an error
    """Raised at a progress point of a job whose cancellation was requested; the job's transaction rolls back.

    A BaseException (like KeyboardInterrupt), not an Exception: handler code and the libraries it calls often
    turn `except Exception` into a failure report or a skipped row; a cancel must unwind to `run` untouched."""


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


def cancel(job_id: int) -> str | None:
    """Cancel a job: a queued one at once ("cancelled"), a running one by raising its cancel flag ("requested":
    it stops at its next progress point, or at its end, with nothing applied). None when the job has ended.

    Who may cancel is decided by the caller (layers.jobs_access). Each UPDATE re-checks the state under the row
    lock, so a worker claiming the job at the same moment leaves it "running" with the flag up, never lost."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE layers_job SET state = %s, cancel_requested_at = now(), finished_at = now(), "
                    "lease_until = NULL WHERE id = %s AND state = %s",
                    [JobState.CANCELLED, job_id, JobState.QUEUED])
        if cur.rowcount:
            outcome = "cancelled"
        else:
            cur.execute("UPDATE layers_job SET cancel_requested_at = coalesce(cancel_requested_at, now()) "
                        "WHERE id = %s AND state = %s", [job_id, JobState.RUNNING])
            outcome = "requested" if cur.rowcount else None
    if outcome == "cancelled":
        shutil.rmtree(folder_of(job_id), ignore_errors=True)
    return outcome


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def expire_leases() -> tuple[int, int]:
    """Jobs whose worker stopped renewing the lease: re-queued, or failed after MAX_ATTEMPTS. (requeued, failed)."""
    with transaction.atomic(), connection.cursor() as cur:
        # a lost job somebody asked to cancel is not run again
        cur.execute("UPDATE layers_job SET state = %s, finished_at = now(), lease_until = NULL "
                    "WHERE state = %s AND lease_until < now() AND cancel_requested_at IS NOT NULL",
                    [JobState.CANCELLED, JobState.RUNNING])
        cur.execute("UPDATE layers_job SET state = %s, finished_at = now(), lease_until = NULL, "
                    "error = %s WHERE state = %s AND lease_until < now() AND attempts >= %s",
                    [JobState.FAILED, f"worker lost {MAX_ATTEMPTS} times (lease expired)", JobState.RUNNING,
                     MAX_ATTEMPTS])
        failed = cur.rowcount
        cur.execute("UPDATE layers_job SET state = %s, worker = '', lease_until = NULL, progress = 0, done = NULL, "
                    "total = NULL, message = '' WHERE state = %s AND lease_until < now()",
                    [JobState.QUEUED, JobState.RUNNING])
        return cur.rowcount, failed


def claim(worker: str, kinds: list[str] | None = None) -> Job | None:
    """Take the oldest queued job (of `kinds`, default: every registered kind) for `worker`, or None."""
    kinds = sorted(handlers()) if kinds is None else kinds
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "UPDATE layers_job SET state = %s, worker = %s, started_at = now(), attempts = attempts + 1, "
            "lease_until = now() + make_interval(secs => %s), progress = 0, done = NULL, total = NULL, message = '' "
            "WHERE id = (SELECT id FROM layers_job WHERE state = %s AND kind = ANY(%s) "
            "ORDER BY created_at, id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id",
            [JobState.RUNNING, worker, LEASE_SECONDS, JobState.QUEUED, kinds])
        row = cur.fetchone()
    return Job.objects.get(pk=row[0]) if row else None


class _Heartbeat(threading.Thread):
    """Renews the lease, publishes the progress of one running job and reads its cancel flag.

    Why a thread with its own connection (autocommit) rather than writes from the handler or pg NOTIFY: the
    handler's writes and its success are one transaction, and nothing it writes is visible before that commits —
    a NOTIFY is even delivered only at commit. Progress must be seen while the transaction is open, so another
    connection writes it, in one short autocommitted UPDATE at most every PROGRESS_SECONDS (a one-row SELECT of
    the flag when nothing changed); the UPDATE returns the cancel flag, so cancelling costs the handler no query.
    """

    def __init__(self, job_id: int, worker: str, progress: Progress) -> None:
        super().__init__(daemon=True, name=f"job-{job_id}-heartbeat")
        self.job_id, self.worker, self.progress = job_id, worker, progress
        self.stop = threading.Event()

    @property
    def percent(self) -> int:
        return self.progress.percent

    def run(self) -> None:
        written, renewed = None, time.monotonic()
        try:
            while not self.stop.wait(PROGRESS_SECONDS):
                due = time.monotonic() - renewed >= HEARTBEAT_SECONDS
                figures = self.progress.snapshot()
                if figures != written or due:
                    if self._write(figures):
                        written, renewed = figures, time.monotonic()
                else:
                    self._poll_cancel()
        finally:
            connections.close_all()  # this thread's connection

    def _write(self, figures: tuple[int, int | None, int | None, str]) -> bool:
        percent, done, total, message = figures
        try:
            with connection.cursor() as cur:
                cur.execute("UPDATE layers_job SET progress = %s, done = %s, total = %s, message = %s, "
                            "lease_until = now() + make_interval(secs => %s) "
                            "WHERE id = %s AND worker = %s AND state = %s RETURNING cancel_requested_at IS NOT NULL",
                            [percent, done, total, message, LEASE_SECONDS, self.job_id, self.worker,
                             JobState.RUNNING])
                row = cur.fetchone()
        except Exception:  # a lost connection: the next beat retries; the lease covers a few misses
            log.exception("job %s: heartbeat failed", self.job_id)
            connections.close_all()
            return False
        if row and row[0]:
            self.progress.cancelled.set()
        return True

    def _poll_cancel(self) -> None:
        try:
            with connection.cursor() as cur:
                cur.execute("SELECT cancel_requested_at IS NOT NULL FROM layers_job WHERE id = %s", [self.job_id])
                row = cur.fetchone()
        except Exception:
            log.exception("job %s: heartbeat failed", self.job_id)
            connections.close_all()
            return
        if row and row[0]:
            self.progress.cancelled.set()


def run(job: Job, worker: str) -> Job:
    """Run a claimed job to its end: succeeded (result) or failed (error); returns it as recorded."""
    handler = handlers().get(job.kind)
    progress = Progress()
    beat = _Heartbeat(job.pk, worker, progress)
    beat.start()

    state, result, error = JobState.SUCCEEDED, None, ""
    try:
        if handler is None:
            raise JobFailed(f"unknown job kind {job.kind!r}")
        with transaction.atomic():
            result = handler(Context(job, progress, folder_of(job.pk)))
            # Success is recorded in the transaction of the job's own writes: a worker killed between the two
            # would leave the writes done and the job "running", and the retry would apply them a second time.
            # A cancel that came after the last progress point still wins: this UPDATE skips a flagged job (and
            # cancel() waits on the row lock it takes, so a cancel after it finds the job succeeded: 409).
            done = Job.objects.filter(pk=job.pk, worker=worker, state=JobState.RUNNING,
                                      cancel_requested_at__isnull=True).update(
                state=JobState.SUCCEEDED, result=result, error="", finished_at=timezone.now(), lease_until=None,
                progress=100, message="")
            if not done:
                if Job.objects.filter(pk=job.pk, worker=worker, cancel_requested_at__isnull=False).exists():
                    raise Cancelled()
                # the lease was lost meanwhile (another worker has the job): this run's writes go
                raise JobFailed("the job's lease was lost to another worker; this run was undone")
    except Cancelled:
        state, result, error = JobState.CANCELLED, None, ""
        log.info("job %s (%s) cancelled; its writes were rolled back", job.pk, job.kind)
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
            progress=progress.percent)
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

