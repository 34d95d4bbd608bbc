"""What the console's dispatch form shows before sending: the category's default department, its urgency
levels and the disposal deadline each would give if dispatched now (computed by the cases app's calendar)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def dispatch_preview(case_id: int, now: dt.datetime | None = None) -> dict | None:
    """Defaults and deadlines for dispatching case `case_id` now; None when there is no such case."""
    from city_gis.cases.calendar import deadline_and_yellow
    from city_gis.cases.models import Case

    case = Case.objects.select_related("category__default_department").filter(pk=case_id).first()
    if case is None:
        return None
    now = now or timezone.now()
    category = case.category
    levels = []
    for level in category.urgency_levels or []:
        deadline, _yellow = deadline_and_yellow(now, float(level["limit"]), level["unit"])
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
