"""Loading the component/event category trees and the stage time limits from a YAML (or JSON) file."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from django.db import transaction

from city_gis.accounts.models import Department

from . import deadlines
from .calendar import UNITS
from .models import Category, CategoryKind, StageLimit

DEFAULT_FILE = deadlines.DEFAULT_FILE


class CategoryFileError(ValueError):
    """The categories file is invalid; the message names the file, the entry and the field."""


def _read(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CategoryFileError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(doc, dict):
        raise CategoryFileError(f"{path}: expected a mapping at the top level")
    return doc


def _levels(where: str, levels) -> list[dict]:
    if not isinstance(levels, list) or not levels:
        raise CategoryFileError(f"{where}: field 'urgency' needs at least one level")
    out = []
    for i, lv in enumerate(levels):
        for key in ("code", "name_zh", "limit", "unit"):
            if key not in lv:
                raise CategoryFileError(f"{where}: urgency[{i}] lacks field '{key}'")
        if lv["unit"] not in UNITS:
            raise CategoryFileError(f"{where}: urgency[{i}].unit {lv['unit']!r} not one of {', '.join(UNITS)}")
        try:
            limit = float(lv["limit"])
        except (TypeError, ValueError):
            raise CategoryFileError(f"{where}: urgency[{i}].limit is not a number") from None
        if limit <= 0:
            raise CategoryFileError(f"{where}: urgency[{i}].limit must be positive")
        out.append({"code": str(lv["code"]), "name_zh": lv["name_zh"], "name_en": lv.get("name_en", ""),
                    "limit": limit, "unit": lv["unit"]})
    return out


def load_categories(path: str | Path = DEFAULT_FILE) -> dict[str, int]:
    """Create or update every category and stage limit in the file, in one transaction.

    Categories missing from the file are deactivated (cases keep pointing at them). Returns counts.
    """
    path = Path(path)
    doc = _read(path)
    version = str(doc.get("version") or "")
    if not version:
        raise CategoryFileError(f"{path}: field 'version' (code-system version) is required")
    departments = {d.code: d for d in Department.objects.all()}
    stats = {"created": 0, "updated": 0, "deactivated": 0, "stage_limits": 0}
    with transaction.atomic():
        for stage, spec in (doc.get("stage_limits") or {}).items():
            if not isinstance(spec, dict) or spec.get("unit") not in UNITS or "limit" not in spec:
                raise CategoryFileError(f"{path}: stage_limits.{stage}: needs 'limit' and a 'unit' in {', '.join(UNITS)}")
            StageLimit.objects.update_or_create(stage=stage, defaults={"limit": float(spec["limit"]), "unit": spec["unit"]})
            stats["stage_limits"] += 1
        seen: set[tuple[str, str]] = set()
        for kind, key in ((CategoryKind.COMPONENT, "components"), (CategoryKind.EVENT, "events")):
            for bi, big in enumerate(doc.get(key) or []):
                b = big.get("big") or {}
                if not str(b.get("code", "")).isdigit() or len(str(b["code"])) != 2 or not b.get("name_zh"):
                    raise CategoryFileError(f"{path}: {key}[{bi}].big needs a 2-digit 'code' and 'name_zh'")
                for si, small in enumerate(big.get("small") or []):
                    where = f"{path}: {key}[{bi}].small[{si}]"
                    code = str(small.get("code", ""))
                    if len(code) != 4 or not code.isdigit() or not code.startswith(str(b["code"])):
                        raise CategoryFileError(f"{where}: field 'code' must be 4 digits starting with {b['code']}")
                    if not small.get("name_zh"):
                        raise CategoryFileError(f"{where}: field 'name_zh' is required")
                    dept_code = small.get("department")
                    if dept_code and dept_code not in departments:
                        raise CategoryFileError(f"{where}: field 'department': unknown department {dept_code!r}")
                    if (kind, code) in seen:
                        raise CategoryFileError(f"{where}: duplicate code {code}")
                    seen.add((kind, code))
                    _obj, created = Category.objects.update_or_create(
                        kind=kind, code=code,
                        defaults={
                            "big_code": str(b["code"]), "big_name_zh": b["name_zh"], "big_name_en": b.get("name_en", ""),
                            "name_zh": small["name_zh"], "name_en": small.get("name_en", ""), "version": version,
                            "default_department": departments.get(dept_code) if dept_code else None,
                            "register_condition": small.get("register", ""), "close_condition": small.get("close", ""),
                            "urgency_levels": _levels(where, small.get("urgency")), "active": True,
                        },
                    )
                    stats["created" if created else "updated"] += 1
        for cat in Category.objects.filter(active=True):
            if (cat.kind, cat.code) not in seen:
                cat.active = False
                cat.save(update_fields=["active"])
                stats["deactivated"] += 1
    deadlines.clear_cache()
    return stats
