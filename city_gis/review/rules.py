"""The rule set and the use-class table: configuration as data, validated against their schema on load.

The defaults live in data/ruleset.yaml (format: data/ruleset.schema.json) and data/use_classes.yaml;
`CITYGIS_REVIEW_RULESET` points at a replacement rule set. A review stores the document it ran, so a re-run
uses the same rules even after the file changed. What a schema cannot say (unique rule ids, a zoning rule's
FAR/height columns) is checked here after it; layers and columns are checked against the registry when a
review runs (a rule naming a missing layer fails loudly, never silently passes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from layers.configschema import file_stamp, load_schema, read_yaml, schema_error

DATA = Path(__file__).with_name("data")
DEFAULT_RULESET = DATA / "ruleset.yaml"
SCHEMA = load_schema(DATA / "ruleset.schema.json")
USE_CLASSES_PATH = DATA / "use_classes.yaml"


class RulesetError(ValueError):
    """The rule set document is invalid (message names the file and the key)."""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    kind: str  # overlap | outside | zoning
    layer: str
    severity: str  # blocking | warning
    tolerance_m2: float = 1.0
    tolerance_pct: float = 1.0
    urban_only: bool = False
    advice: str = ""
    where: dict[str, Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    compatible: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Ruleset:
    version: str
    title: str
    sliver_m2: float
    composition: dict[str, str]
    rules: tuple[Rule, ...]
    document: dict[str, Any]  # what was parsed: stored with every review
    batch_rules: tuple[str, ...] = ()

    def layers(self) -> list[str]:
        """Every layer the rule set reads, in rule order (the composition layer first)."""
        return list(dict.fromkeys([self.composition["layer"], *(r.layer for r in self.rules)]))


def parse_ruleset(doc: Any, path: str = "<ruleset>") -> Ruleset:
    """Validate a decoded rule set (schema first, then what a schema cannot say) and build it."""
    error = schema_error(doc, SCHEMA)
    if error:
        raise RulesetError(f"{path}: {error[0]}: {error[1]}")
    rules = []
    for i, raw in enumerate(doc["rules"]):
        if raw["id"] in {r.id for r in rules}:
            raise RulesetError(f"{path}: rules[{i}].id: duplicate rule id {raw['id']!r}")
        if raw["kind"] == "zoning" and not {"far_max", "height_max", "class"} <= set(raw.get("fields", {})):
            raise RulesetError(f"{path}: rules[{i}].fields: a zoning rule names its class, far_max and height_max columns")
        rules.append(Rule(
            id=raw["id"], title=raw["title"], kind=raw["kind"], layer=raw["layer"], severity=raw["severity"],
            tolerance_m2=float(raw.get("tolerance_m2", 1.0)), tolerance_pct=float(raw.get("tolerance_pct", 1.0)),
            urban_only=bool(raw.get("urban_only", False)), advice=raw.get("advice", ""), where=raw.get("where"),
            fields=dict(raw.get("fields", {})),
            compatible={k: tuple(v) for k, v in (raw.get("compatible") or {}).items()},
        ))
    by_id = {r.id: r for r in rules}
    for i, rule_id in enumerate(doc.get("batch_rules", [])):
        if rule_id not in by_id or by_id[rule_id].kind != "overlap":
            raise RulesetError(f"{path}: batch_rules[{i}]: {rule_id!r} is not an overlap rule of this rule set")
    return Ruleset(version=doc["ruleset"], title=doc.get("title", ""), sliver_m2=float(doc.get("sliver_m2", 1.0)),
                   composition=dict(doc["composition"]), rules=tuple(rules), document=doc,
                   batch_rules=tuple(doc.get("batch_rules", [])))


def ruleset_path() -> Path:
    value = settings.CITYGIS_REVIEW_RULESET
    return Path(value) if value else DEFAULT_RULESET


def load_ruleset(path: Path | str | None = None) -> Ruleset:
    """Read and validate a rule set file (default: the one in force)."""
    path = Path(path) if path else ruleset_path()
    return parse_ruleset(read_yaml(path, RulesetError), str(path))


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> Ruleset:
    return load_ruleset(path)


def get_ruleset() -> Ruleset:
    """The rule set in force, re-read when its file changes."""
    return _cached(*file_stamp(ruleset_path()))


@dataclass(frozen=True)
class UseClass:
    code: str
    name: str
    urban: bool


@lru_cache(maxsize=1)
def use_classes() -> dict[str, UseClass]:
    """The GB 50137 use-class table {code: UseClass}."""
    doc = yaml.safe_load(USE_CLASSES_PATH.read_text(encoding="utf-8"))
    return {c["code"]: UseClass(c["code"], c["name"], bool(c["urban"])) for c in doc["classes"]}


def use_compatible(proposed: str, plot: str, extra: dict[str, tuple[str, ...]]) -> bool:
    """A proposed class fits a plot's class when it is the same class or one of its subclasses (R21 on an R2
    plot), a parent the plot refines (R on an R2 plot is not specific enough: refused), or declared compatible."""
    return proposed.startswith(plot) or proposed in extra.get(plot, ())
