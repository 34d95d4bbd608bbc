"""Loading the component/event category trees and the stage time limits from a YAML (or JSON) file.

The file's structure is the JSON Schema data/categories.schema.json; what it cannot say (a small code starts
with its big code, departments exist, codes are unique) is checked here while loading.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from django.db import transaction

from city_gis.accounts.models import Department
from layers.configschema import load_schema, schema_error

from . import deadlines
from .models import Category, CategoryKind, StageLimit

DEFAULT_FILE = deadlines.DEFAULT_FILE
SCHEMA = load_schema(Path(__file__).with_name("data") / "categories.schema.json")


class CategoryFileError(ValueError):
    """The categories file is invalid; the message names the file, the entry and the field."""


def _read(path: Path) -> dict:
    """The decoded file, checked against data/categories.schema.json (errors name the file and the key path)."""
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise CategoryFileError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    error = schema_error(doc, SCHEMA)
    if error:
        raise CategoryFileError(f"{path}: {error[0]}: {error[1]}")
    return doc


def _levels(levels: list[dict]) -> list[dict]:
    return [{"code": lv["code"], "name_zh": lv["name_zh"], "name_en": lv.get("name_en", ""),
             "limit": float(lv["limit"]), "unit": lv["unit"]} for lv in levels]


def load_categories(path: str | Path = DEFAULT_FILE) -> dict[str, int]:
    """Create or update every category and stage limit in the file, in one transaction.

    Categories missing from the file are deactivated (cases keep pointing at them). Returns counts.
    """
    path = Path(path)
    doc = _read(path)
    version = doc["version"]
    departments = {d.code: d for d in Department.objects.all()}
    stats = {"created": 0, "updated": 0, "deactivated": 0, "stage_limits": 0}
    with transaction.atomic():
        for stage, spec in (doc.get("stage_limits") or {}).items():
            StageLimit.objects.update_or_create(stage=stage, defaults={"limit": float(spec["limit"]), "unit": spec["unit"]})
            stats["stage_limits"] += 1
        seen: set[tuple[str, str]] = set()
        for kind, key in ((CategoryKind.COMPONENT, "components"), (CategoryKind.EVENT, "events")):
            for bi, big in enumerate(doc.get(key) or []):
                b = big["big"]
                for si, small in enumerate(big.get("small") or []):
                    where = f"{path}: {key}[{bi}].small[{si}]"
                    code = small["code"]
                    if not code.startswith(b["code"]):
                        raise CategoryFileError(f"{where}.code: {code!r} does not start with its big code {b['code']!r}")
                    dept_code = small.get("department")
                    if dept_code and dept_code not in departments:
                        raise CategoryFileError(f"{where}.department: unknown department {dept_code!r}")
                    if (kind, code) in seen:
                        raise CategoryFileError(f"{where}.code: duplicate code {code}")
                    seen.add((kind, code))
                    _obj, created = Category.objects.update_or_create(
                        kind=kind, code=code,
                        defaults={
                            "big_code": b["code"], "big_name_zh": b["name_zh"], "big_name_en": b.get("name_en", ""),
                            "name_zh": small["name_zh"], "name_en": small.get("name_en", ""), "version": version,
                            "default_department": departments.get(dept_code) if dept_code else None,
                            "register_condition": small.get("register", ""), "close_condition": small.get("close", ""),
                            "urgency_levels": _levels(small["urgency"]), "active": True,
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
