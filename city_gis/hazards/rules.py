"""Alert rules as configuration: loaded from JSON, checked against data/alert_rules.schema.json, then in code.

The defaults live in data/alert_rules.json; CITYGIS_HAZARD_RULES names a replacement file. Each rule applies to
one device type and one quantity with four thresholds (blue, yellow, orange, red); a hazard point may override
thresholds and its calm period under `points` (keyed by hazard point code); `all_clear_requires_patrol` makes
the all-clear of an alert with a patrol task wait for a `normal` result (absent: false, the calm period alone). What a schema cannot say is checked
here: strictly increasing thresholds, a quantity the device type measures, an antecedent naming `sum` rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from layers.configschema import load_schema, schema_error

from .models import LEVEL_BY_NAME
from .validation import TYPE_QUANTITIES

DEFAULT_PATH = Path(__file__).with_name("data") / "alert_rules.json"
SCHEMA = load_schema(Path(__file__).with_name("data") / "alert_rules.schema.json")
OFFLINE_RULE = "offline"


class RulesError(ValueError):
    """The alert rules file is invalid (the message names the file and the key)."""


@dataclass(frozen=True)
class Rule:
    name: str
    device_type: str
    quantity: str
    method: str  # sum | rate | change | last
    window_hours: float
    thresholds: tuple[float, float, float, float]
    min_span_hours: float = 0.0
    label: str = ""


@dataclass(frozen=True)
class Antecedent:
    window_hours: float
    rain_mm: float
    factor: float
    applies_to: frozenset[str]


@dataclass(frozen=True)
class RuleSet:
    version: str
    calm_hours: float
    rules: dict[str, Rule]
    offline_level: int
    offline_after_minutes: dict[str, float]
    antecedent: Antecedent | None = None
    point_thresholds: dict[str, dict[str, tuple[float, ...]]] = field(default_factory=dict)
    point_calm_hours: dict[str, float] = field(default_factory=dict)
    source: str = ""
    # all-clear also waits for the alert's newest patrol to report "normal" (alerts.patrol_holds)
    all_clear_requires_patrol: bool = False

    def for_type(self, device_type: str) -> list[Rule]:
        return [r for r in self.rules.values() if r.device_type == device_type]

    def thresholds(self, rule: Rule, point_code: str, *, antecedent_wet: bool = False) -> tuple[float, ...]:
        """The point's thresholds of `rule` (its override or the rule's), lowered after antecedent rain."""
        values = self.point_thresholds.get(point_code, {}).get(rule.name, rule.thresholds)
        if antecedent_wet and self.antecedent and rule.name in self.antecedent.applies_to:
            values = tuple(v * self.antecedent.factor for v in values)
        return tuple(values)

    def calm_for(self, point_code: str) -> float:
        return self.point_calm_hours.get(point_code, self.calm_hours)


def level_of(value: float | None, thresholds: tuple[float, ...]) -> int:
    """0 below blue, else 1–4: the highest level whose threshold `value` reaches."""
    if value is None:
        return 0
    level = 0
    for i, threshold in enumerate(thresholds, start=1):
        if value >= threshold:
            level = i
    return level


def parse(doc: object, source: str = "<rules>") -> RuleSet:
    """A validated RuleSet from a decoded document; RulesError naming source and key otherwise."""
    problem = schema_error(doc, SCHEMA)
    if problem:
        raise RulesError(f"{source}: {problem[0]}: {problem[1]}")
    assert isinstance(doc, dict)

    def increasing(values: list[float], where: str) -> tuple[float, ...]:
        if any(b <= a for a, b in zip(values, values[1:], strict=False)):
            raise RulesError(f"{source}: {where}: thresholds must increase strictly (blue < yellow < orange < red)")
        return tuple(float(v) for v in values)

    rules = {}
    for name, spec in doc["rules"].items():
        if spec["quantity"] not in TYPE_QUANTITIES[spec["device_type"]]:
            raise RulesError(f"{source}: rules.{name}.quantity: a {spec['device_type']} device does not measure "
                             f"{spec['quantity']}")
        rules[name] = Rule(name, spec["device_type"], spec["quantity"], spec["method"], float(spec["window_hours"]),
                           increasing(spec["thresholds"], f"rules.{name}.thresholds"),  # type: ignore[arg-type]
                           float(spec.get("min_span_hours", 0)), spec.get("label", ""))
    antecedent = None
    if "antecedent" in doc:
        a = doc["antecedent"]
        for name in a["applies_to"]:
            if name not in rules or rules[name].method != "sum":
                raise RulesError(f"{source}: antecedent.applies_to: {name!r} is not a 'sum' rule")
        antecedent = Antecedent(float(a["window_hours"]), float(a["rain_mm"]), float(a["factor"]),
                                frozenset(a["applies_to"]))
    point_thresholds, point_calm = {}, {}
    for code, spec in doc.get("points", {}).items():
        for name, values in spec.get("thresholds", {}).items():
            if name not in rules:
                raise RulesError(f"{source}: points.{code}.thresholds.{name}: unknown rule")
            point_thresholds.setdefault(code, {})[name] = increasing(values, f"points.{code}.thresholds.{name}")
        if "calm_hours" in spec:
            point_calm[code] = float(spec["calm_hours"])
    offline = doc["offline"]
    return RuleSet(doc["rules_version"], float(doc["calm_hours"]), rules, LEVEL_BY_NAME[offline["level"]],
                   {k: float(v) for k, v in offline["after_minutes"].items()}, antecedent, point_thresholds,
                   point_calm, source, bool(doc.get("all_clear_requires_patrol", False)))


def load(path: str | Path) -> RuleSet:
    """Read and validate a rules file."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RulesError(f"{path}: {exc}") from None
    return parse(doc, str(path))


@lru_cache(maxsize=4)
def _cached(path: str) -> RuleSet:
    return load(path)


def current() -> RuleSet:
    """The rule set in force: CITYGIS_HAZARD_RULES or the packaged defaults (read once per path)."""
    return _cached(str(getattr(settings, "CITYGIS_HAZARD_RULES", "") or DEFAULT_PATH))
