"""A patrol task (category 0705) on the monitor's /m/ page: the result as three buttons 正常 / 发现变形 / 需撤离,
需撤离 asks first (dismissed: nothing is sent), 正常 completes the task with patrol_result "normal"."""

from __future__ import annotations

import pytest
from django.utils import timezone

from .conftest import require_backend
from .test_console import wait_for
from .test_mobile import PHONE

pytestmark = pytest.mark.browser


@pytest.fixture
def patrol(committed):
    """A yellow alert's patrol task for a demo monitor (the alert, its events and the patrol removed after)."""
    from city_gis.grid.geocode import OutsideManagedArea, geocode
    from city_gis.hazards import patrols
    from city_gis.hazards.models import Alert, MonitoredPoint, Patrol

    for mp in MonitoredPoint.objects.filter(monitor__is_active=True).select_related("hazard_point", "monitor"):
        point = mp.hazard_point
        if Patrol.objects.filter(hazard_point=point, completed_at=None).exists() or \
                Alert.objects.filter(hazard_point=point, rule="rain_1h", closed_at=None).exists():
            continue
        try:
            geocode(point.geom.x, point.geom.y)
        except OutsideManagedArea:
            continue
        break
    else:
        pytest.skip("no free monitored demo hazard point inside the managed area")
    now = timezone.now()
    alert = Alert.objects.create(hazard_point=point, rule="rain_1h", level=2, value=31.0, threshold=30.0,
                                 rules_version="test", opened_at=now, last_exceeded_at=now)
    task = patrols.ensure_patrol(Alert.objects.select_related("hazard_point").get(pk=alert.pk))
    assert task is not None
    yield task
    Alert.objects.filter(pk=alert.pk).delete()  # its events and patrol go with it; the case with `committed`


def test_monitor_reports_a_patrol_with_the_result_buttons(open_as, patrol):
    require_backend("/api/v1/tasks/")
    from city_gis.hazards.models import Patrol

    page, probe = open_as(patrol.monitor.username, "/m/", viewport=PHONE, is_mobile=True, has_touch=True)
    page.click(".cg-m-tabs button[data-tab='tab-tasks']")
    task = page.locator(f".cg-task[data-id='{patrol.case_id}']")
    task.wait_for()
    assert task.locator("select[name='action']").count() == 0, "a patrol offers results, not workflow actions"
    buttons = task.locator("button[name='patrol_result']")
    assert buttons.all_inner_texts() == ["正常", "发现变形", "需撤离"]
    dialogs = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    task.locator("button[value='evacuate']").click()
    page.wait_for_timeout(500)  # (lets Playwright deliver the dialog event)
    assert len(dialogs) == 1, "需撤离 asks for confirmation"
    assert Patrol.objects.get(pk=patrol.pk).completed_at is None, "dismissed: nothing sent"
    probe.screenshot("mobile-patrol")
    task.locator("textarea[name='note']").fill("坡体无异常")
    task.locator("button[value='normal']").click()
    assert wait_for(lambda: Patrol.objects.get(pk=patrol.pk).result == "normal"), "the result reached the database"
    assert patrol.alert.events.filter(kind="patrol", note="normal: 坡体无异常").exists()
    assert not probe.errors, probe.errors
