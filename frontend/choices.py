"""Server-side choice lists for the pages' filters (areas, departments, case states)."""

from __future__ import annotations

from city_gis.accounts.models import Department
from city_gis.cases.models import State
from city_gis.evaluation.indicators import LEVELS
from city_gis.grid.models import Community, District, Street


def case_states() -> list[tuple[str, str]]:
    """(value, label) of every case state, as the cases app defines them."""
    return [(v, str(label)) for v, label in State.choices]


def departments() -> list[dict]:
    """Disposal departments (code, name_zh) for the department filter and the dispatch form."""
    return list(Department.objects.filter(is_disposal_unit=True).values("code", "name_zh", "name_en"))


def areas() -> dict[str, list[dict]]:
    """Districts, streets and communities (code, name, parent code) for the area filters."""
    return {
        "districts": [{"code": c, "name": n, "parent": ""} for c, n in District.objects.values_list("code", "name")],
        "streets": [
            {"code": c, "name": n, "parent": p} for c, n, p in Street.objects.values_list("code", "name", "district__code")
        ],
        "communities": [
            {"code": c, "name": n, "parent": p}
            for c, n, p in Community.objects.values_list("code", "name", "street__code")
        ],
    }


def evaluation_levels() -> dict[str, dict]:
    """Evaluation levels with their indicators ({level: {label, kind, indicators: {name: label}}})."""
    return {
        name: {
            "label": str(level.label),
            "kind": level.unit_kind,
            "indicators": {ind: str(pair[1].label) for ind, pair in level.indicators.items()},
        }
        for name, level in LEVELS.items()
    }
