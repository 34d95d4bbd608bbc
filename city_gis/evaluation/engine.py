"""Computing a level's figures for a period, and drilling down to the cases behind one figure."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection, transaction
from psycopg2.sql import SQL, Identifier

from city_gis.grid.areas import area_level

from .config import EvaluationConfig, get_config
from .indicators import LEVELS, Level, aggregate_sql, drilldown_sql, params
from .periods import Period
from .scoring import composite_score, rate


class UnknownLevel(ValueError):
    pass


class UnknownUnit(ValueError):
    pass


class UnknownIndicator(ValueError):
    pass


@dataclass
class UnitResult:
    """All figures of one unit: counts (num, den) per indicator, rates, volume score, score and grade."""

    level: str
    unit: str  # stable key: area code, department code or username
    name: str
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    rates: dict[str, float | None] = field(default_factory=dict)
    case_density: float | None = None
    volume_score: float | None = None
    score: float = 0.0
    grade: str = "E"

    def as_dict(self) -> dict:
        return {
            "level": self.level, "unit": self.unit, "name": self.name,
            "counts": {k: {"numerator": n, "denominator": d} for k, (n, d) in self.counts.items()},
            "rates": self.rates, "case_density": self.case_density, "volume_score": self.volume_score,
            "score": self.score, "grade": self.grade,
        }


def get_level(name: str) -> Level:
    try:
        return LEVELS[name]
    except KeyError:
        raise UnknownLevel(f"unknown level {name!r}; one of: {', '.join(LEVELS)}") from None


def _units(level: Level, keys: list[str] | None) -> dict[str, tuple[str, str, float | None]]:
    """SQL unit value → (public key, display name, area km² for areas), for `keys` (SQL values) or all."""
    with connection.cursor() as cur:
        if level.unit_kind == "area":
            source = area_level(level.name)
            query = SQL("SELECT code, {label}, COALESCE(area_m2, ST_Area(ST_Transform(geom, 4544))) / 1e6 "
                        "FROM {table} WHERE (%(all)s OR code = ANY(%(keys)s)) AND {current}").format(
                label=Identifier(source.name_column or "code"), table=source.table, current=source.current())
            cur.execute(query, {"all": keys is None, "keys": keys or []})
            return {code: (code, name, km2) for code, name, km2 in cur.fetchall()}
        if level.unit_kind == "department":
            cur.execute("SELECT id::text, code, name_zh FROM accounts_department "
                        "WHERE %(all)s OR id::text = ANY(%(keys)s)", {"all": keys is None, "keys": keys or []})
            return {i: (code, name, None) for i, code, name in cur.fetchall()}
        cur.execute("SELECT id::text, username, COALESCE(NULLIF(display_name, ''), username) FROM accounts_user "
                    "WHERE %(all)s OR id::text = ANY(%(keys)s)", {"all": keys is None, "keys": keys or []})
        return {i: (u, name, None) for i, u, name in cur.fetchall()}


def role_holders(role: str) -> frozenset[str]:
    """Usernames of the users holding `role` (by User.has_role, the platform's one role rule)."""
    from city_gis.accounts.models import User

    return frozenset(u.username for u in User.objects.only("username", "roles", "is_active", "is_superuser")
                     if u.has_role(role))


def unit_sql_value(level: Level, key: str) -> str:
    """The SQL unit value of a public key (department code → id, username → id); UnknownUnit if none."""
    with connection.cursor() as cur:
        if level.unit_kind == "area":
            return key
        if level.unit_kind == "department":
            cur.execute("SELECT id::text FROM accounts_department WHERE code = %s", [key])
        else:
            cur.execute("SELECT id::text FROM accounts_user WHERE username = %s", [key])
        row = cur.fetchone()
    if not row:
        raise UnknownUnit(f"unknown {level.name} {key!r}")
    return row[0]


def no_jit(cur) -> None:
    """JIT off for this transaction's evaluation statements. Over the month-partitioned history their plans reach
    every partition, the cost estimate triggers JIT, and compiling ~500 functions took 12.8 s of a 15.8 s
    dispatcher-level statement over 1M cases (bench/evaluation_1m; 2.8 s without)."""
    cur.execute("SET LOCAL jit = off")


def raw_counts(level: Level, period: Period, config: EvaluationConfig) -> dict[str, dict[str, list[int]]]:
    """SQL unit value → indicator → [numerator, denominator], by the level's one aggregate statement."""
    sql, columns = aggregate_sql(level)
    out: dict[str, dict[str, list[int]]] = {}
    with transaction.atomic(), connection.cursor() as cur:
        no_jit(cur)
        cur.execute(sql, params(period, config.error_close_kinds))
        for unit, counts in cur.fetchall():
            slot = out.setdefault(unit, {})
            for (name, part), value in zip(columns, counts, strict=True):
                pair = slot.setdefault(name, [0, 0])
                pair[0 if part == "num" else 1] += value
    return out


def score_unit(level: Level, unit: str, name: str, counts: dict[str, list[int]], config: EvaluationConfig,
               km2: float | None = None) -> UnitResult:
    result = UnitResult(level.name, unit, name)
    for ind_name, (_fs, ind) in level.indicators.items():
        num, den = counts.get(ind_name, [0, 0])
        result.counts[ind_name] = (num, den)
        if ind.kind == "rate":
            result.rates[ind_name] = rate(num, den)
    if level.unit_kind == "area":
        registered = result.counts["registered"][1]
        result.case_density = round(registered / km2, 3) if km2 else None
    if level.volume:
        result.volume_score = config.volume_score(level.weight_key, result.counts[level.volume][1])
    result.score = composite_score(config, level.weight_key, result.rates, result.volume_score)
    result.grade = config.grade_for(result.score)
    return result


def evaluate(level_name: str, period: Period, *, config: EvaluationConfig | None = None,
             all_units: bool = False) -> list[UnitResult]:
    """Figures of every unit of `level_name` with activity in `period` (every unit with `all_units`),
    sorted by score (best first), then unit."""
    config = config or get_config()
    level = get_level(level_name)
    counts = raw_counts(level, period, config)
    units = _units(level, None if all_units else list(counts))
    results = []
    for sql_unit, (key, name, km2) in units.items():
        results.append(score_unit(level, key, name, counts.get(sql_unit, {}), config, km2))
    # units found in the history but missing from the reference tables (e.g. a retired cell) still count
    for sql_unit in counts.keys() - units.keys():
        results.append(score_unit(level, sql_unit, sql_unit, counts[sql_unit], config))
    if level.role:
        # a user level ranks the holders of its role only: an operator's first reports are no inspector's work
        holders = role_holders(level.role)
        results = [r for r in results if r.unit in holders]
    results.sort(key=lambda r: (-r.score, r.unit))
    return results


@dataclass
class DrillRow:
    case_id: int
    number: str
    at: object
    in_numerator: bool


def drilldown(level_name: str, unit: str, indicator: str, period: Period, *,
              config: EvaluationConfig | None = None) -> list[DrillRow]:
    """The counted items behind `indicator` of `unit`: every denominator row, flagged when in the numerator."""
    config = config or get_config()
    level = get_level(level_name)
    if indicator not in level.indicators:
        raise UnknownIndicator(f"unknown indicator {indicator!r} for level {level_name}; one of: "
                               f"{', '.join(level.indicators)}")
    sql_unit = unit_sql_value(level, unit)
    with transaction.atomic(), connection.cursor() as cur:
        no_jit(cur)
        cur.execute(drilldown_sql(level, indicator), {**params(period, config.error_close_kinds), "unit": sql_unit})
        rows = cur.fetchall()
        ids = sorted({r[0] for r in rows})
        cur.execute("SELECT id, number FROM cases_case WHERE id = ANY(%s)", [ids])
        numbers = dict(cur.fetchall())
    return [DrillRow(case_id, numbers.get(case_id, ""), at, bool(num)) for case_id, at, num in rows]
