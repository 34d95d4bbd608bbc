"""The workflow engine's documented batch mode (docs/workflow.md, "Batch mode"): the same rules, writes
buffered until flush; outside a batch every action is written at once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from city_gis.cases import workflow
from city_gis.cases.models import Case, CaseHistory
from city_gis.cases.workflow import IllegalTransition, batch, current_batch, perform

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_outside_a_batch_each_action_is_written_at_once(new_case, staff):
    assert current_batch() is None
    case = perform(new_case(at=T0), "accept", staff["operator"], at=T0 + dt.timedelta(minutes=1))
    assert Case.objects.get(pk=case.pk).state == "accepted"
    assert list(case.history.values_list("action", flat=True)) == ["report", "accept"]


def test_in_a_batch_writes_wait_for_flush_and_the_block_flushes_on_exit(new_case, staff):
    with batch() as store:
        assert current_batch() is store
        case = new_case(at=T0)
        case = perform(case, "accept", staff["operator"], at=T0 + dt.timedelta(minutes=1))
        case = perform(case, "register", staff["leader"], at=T0 + dt.timedelta(minutes=2))
        assert Case.objects.get(pk=case.pk).state == "reported"  # not written yet
        assert not CaseHistory.objects.filter(case_id=case.pk).exists()
        store.flush()
        assert Case.objects.get(pk=case.pk).state == "registered"
        case = perform(case, "dispatch", staff["dispatcher"], at=T0 + dt.timedelta(minutes=3))
    assert current_batch() is None
    assert Case.objects.get(pk=case.pk).state == "dispatched"
    assert list(case.history.order_by("seq").values_list("action", flat=True)) == [
        "report", "accept", "register", "dispatch"]


@pytest.mark.parametrize("action, fields, error", [
    ("register", {}, IllegalTransition),                              # wrong state
    ("accept", {"note": "x" * 100_000}, ValidationError),             # field rule
    ("dispatch", {"department": "nobody"}, IllegalTransition),        # wrong state before the field
])
def test_a_batch_applies_the_same_rules_and_writes_nothing_refused(new_case, staff, action, fields, error):
    with batch() as store:
        case = new_case(at=T0)
        user = staff["leader"] if action == "register" else staff["operator"]
        with pytest.raises(error):
            perform(case, action, user, at=T0 + dt.timedelta(minutes=1), **fields)
        assert [h.action for h in store.history] == ["report"]
    assert list(case.history.values_list("action", flat=True)) == ["report"]


def test_the_earlier_names_still_work():
    assert (workflow.backfill, workflow.Backfill, workflow.current_backfill) == (
        workflow.batch, workflow.Batch, workflow.current_batch)
