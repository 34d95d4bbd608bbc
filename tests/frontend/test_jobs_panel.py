"""The /map/ jobs panel (frontend/static/frontend/js/jobs.js): the land steward's running job shows a <progress> bar
that moves as a real worker thread reports progress, a queued one shows an empty bar; the cancel buttons cancel the
queued job at once and stop the running one, whose write is rolled back."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from tests.frontend.conftest import require_backend

pytestmark = pytest.mark.browser

RUN, IDLE = "tests.browser_jobs", "tests.browser_jobs_idle"
MARK = "tests-jobs-panel"


def _register() -> None:
    from city_gis.accounts.models import Department
    from layers import jobs

    @jobs.register(RUN)
    def _steps(ctx: jobs.Context) -> dict:
        Department.objects.create(code=f"{MARK}-{ctx.job.pk}", name_zh="任务面板测试")
        total = 600  # 30 s unless cancelled
        for done in range(1, total + 1):
            ctx.progress(100 * done / total, done=done, total=total, message=f"第 {done} 步")
            time.sleep(0.05)
        return {"done": total}


@pytest.fixture
def panel_jobs(site_url, django_db_blocker, monkeypatch):
    """A running job (worked by a worker thread) and a queued one of dept_land, both committed; removed after."""
    from city_gis.accounts.models import Department, User
    from layers import jobs
    from layers.models import Job

    _register()
    monkeypatch.setattr(jobs, "PROGRESS_SECONDS", 0.2)

    def purge() -> None:
        Job.objects.filter(kind__in=[RUN, IDLE]).delete()
        Department.objects.filter(code__startswith=MARK).delete()

    with django_db_blocker.unblock():
        purge()
        user = User.objects.get(username="dept_land")
        running = jobs.submit(RUN, {"layer": "land.parcels"}, user)
        queued = jobs.submit(IDLE, {}, user)  # no worker takes this kind: it stays queued

        def work() -> None:
            try:
                jobs.work("w-browser", once=True, kinds=[RUN], max_jobs=1)
            finally:
                connections.close_all()

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        try:
            yield running, queued, worker
        finally:
            jobs.cancel(running.pk)
            worker.join(timeout=60)
            purge()


def _progress_of(page, job_id: int) -> float:
    return float(page.get_attribute(f'#jobs-list li[data-job="{job_id}"] progress', "value"))


def test_the_jobs_panel_shows_progress_and_cancels(open_as, panel_jobs, django_db_blocker):
    from city_gis.accounts.models import Department
    from layers.models import Job

    require_backend("/api/v1/jobs/", "/api/v1/jobs/1/cancel/")
    running, queued, worker = panel_jobs
    page, probe = open_as("dept_land", "/map/")
    page.on("dialog", lambda dialog: dialog.accept())
    run_row = f'#jobs-list li[data-job="{running.pk}"]'
    idle_row = f'#jobs-list li[data-job="{queued.pk}"]'

    page.wait_for_selector(f'{run_row}[data-state="running"] progress')
    page.wait_for_function(  # the bar moves with the polled progress
        "sel => { const p = document.querySelector(sel); return p && p.value > 0; }", arg=f"{run_row} progress")
    first = _progress_of(page, running.pk)
    assert "/ 600" in page.inner_text(f"{run_row} .cg-job-figures")
    page.wait_for_function("([sel, v]) => { const p = document.querySelector(sel); return p && p.value > v; }",
                           arg=[f"{run_row} progress", first])
    assert page.get_attribute(f'{idle_row}[data-state="queued"] progress', "value") == "0"
    probe.screenshot("jobs-panel-running")

    page.click(f"{idle_row} .cg-job-cancel")
    page.wait_for_selector(f'{idle_row}[data-state="cancelled"]')
    assert page.locator(f"{idle_row} .cg-job-cancel").count() == 0

    page.click(f"{run_row} .cg-job-cancel")
    page.wait_for_selector(f'{run_row}[data-state="cancelled"]', timeout=30_000)
    worker.join(timeout=30)
    assert not worker.is_alive()
    with django_db_blocker.unblock():
        assert Job.objects.get(pk=running.pk).state == "cancelled"
        assert Job.objects.get(pk=queued.pk).state == "cancelled"
        assert not Department.objects.filter(code=f"{MARK}-{running.pk}").exists()  # nothing of the run applied
    assert probe.errors == []
