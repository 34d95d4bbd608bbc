"""What the console's dispatch form shows before sending: the category's default department, its urgency
levels and the disposal deadline each would give if dispatched now.

The deadline is not computed here: an unsaved copy of the case is put through `deadlines.start_stage`, the
step `workflow.perform("dispatch")` runs, so the preview cannot disagree with the real dispatch."""

from __future__ import annotations

import copy
import datetime as dt

from django.utils import timezone


def disposal_deadline_if_dispatched(case, urgency: str, at: dt.datetime) -> dt.datetime:
    """The disposal deadline a dispatch of `case` with `urgency` at `at` would set (nothing is saved)."""
    from city_gis.cases import deadlines
    from city_gis.cases.models import State

    trial = copy.copy(case)  # start_stage only sets attributes; the copy keeps the real case untouched
    trial.state, trial.urgency = State.DISPATCHED, urgency
    deadlines.start_stage(trial, at)
    return trial.disposal_deadline


def dispatch_preview(case_id: int, user, now: dt.datetime | None = None) -> dict | None:
    """Defaults and deadlines for dispatching case `case_id` now; None when there is no such case or `user`
    may not see it (the cases app's visible_cases decides, as for /api/v1/cases/)."""
    from city_gis.cases.access import visible_cases
    from city_gis.cases.models import Case

    cases = visible_cases(user, Case.objects.select_related("category__default_department"))
    case = cases.filter(pk=case_id).first()
    if case is None:
        return None
    now = now or timezone.now()
    category = case.category
    levels = []
    for level in category.urgency_levels or []:
        deadline = disposal_deadline_if_dispatched(case, level["code"], now)
        levels.append({
            "code": level["code"], "name_zh": level.get("name_zh", level["code"]), "name_en": level.get("name_en", ""),
            "limit": level["limit"], "unit": level["unit"], "deadline": deadline.isoformat(),
        })
    current = case.urgency or (levels[0]["code"] if levels else "")
    dept = category.default_department
    return {
        "case": case.pk,
        "category": {"code": category.code, "name_zh": category.name_zh},
        "default_department": dept.code if dept else None,
        "default_department_name": dept.name_zh if dept else None,
        "urgency": current,
        "urgency_levels": levels,
    }
