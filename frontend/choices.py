"""Server-side choice lists for the pages' filters (areas, departments, case states)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from city_gis.accounts.models import Department
from city_gis.grid.models import Community, District, Street

# Case states of the workflow (DOMAIN.md); labels for the console's state filter and panel.
CASE_STATES: tuple[tuple[str, str], ...] = (
    ("pending_verification", _("待核实")),
    ("reported", _("已上报")),
    ("accepted", _("已受理")),
    ("registered", _("已立案")),
    ("dispatched", _("已派遣")),
    ("suspended", _("挂账")),
    ("disposed", _("已处置")),
    ("checked", _("已核查")),
    ("closed", _("已结案")),
    ("rejected", _("不予受理")),
    ("voided", _("已作废")),
)


def case_states() -> list[tuple[str, str]]:
    """(value, label) of every case state, preferring the cases app's own choices when it defines them."""
    try:
        from city_gis.cases import models as case_models

        choices = getattr(case_models, "CaseState", None) or getattr(case_models, "State", None)
        if choices is not None and hasattr(choices, "choices"):
            return [(v, str(label)) for v, label in choices.choices]
    except ImportError:
        pass
    return [(v, str(label)) for v, label in CASE_STATES]


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
    try:
        from city_gis.evaluation.indicators import LEVELS
    except ImportError:
        return {}
    return {
        name: {
            "label": str(level.label),
            "kind": level.unit_kind,
            "indicators": {ind: str(pair[1].label) for ind, pair in level.indicators.items()},
        }
        for name, level in LEVELS.items()
    }
