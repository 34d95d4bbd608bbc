"""Indicator definitions and the SQL generated from them — the single source for figures and drill-downs.

Every indicator is a pair of SQL boolean expressions (numerator, denominator) over the rows of a *fact set*:
one row per counted item (a case, or one transition of a case) with its evaluated unit. The aggregate
statement counts `den` and `num AND den` per unit; the drill-down statement lists the rows of one unit where
`den` holds, flagging `num`. Both are generated from the same definitions, so a figure and the cases behind
it cannot disagree. docs/evaluation.md defines every term in words.

All statements read the case history as of the period end (rows with `at < end`), so a period recomputed
later gives the same numbers. Only table/column names from this module are formatted into SQL; values are
always parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.utils.translation import gettext_lazy as _

from city_gis.accounts.models import Role

from .periods import Period

# ---------------------------------------------------------------------------------------------------------
# Base CTEs for the case-level facts (areas, departments). PostgreSQL skips CTEs a statement never reads, so
# levels whose facts are single transitions (inspector, dispatcher, leader) do not pay for them.
#   rel — cases with a transition in the period, or whose disposal deadline falls in it (nothing else can
#         contribute to a case-level figure of the period; keeps the scan proportional to the period)
#   cs  — one row per such case from its history up to the period end: its state at the end and the facts
#         the indicators use
#   due — cs with the two ways a disposal becomes due in the period
# ---------------------------------------------------------------------------------------------------------
BASE_CTES = """
rel AS (
    SELECT case_id FROM cases_casehistory WHERE at >= %(start)s AND at < %(end)s
    UNION
    SELECT case_id FROM cases_casehistory
    WHERE disposal_deadline >= %(start)s AND disposal_deadline < %(end)s AND at < %(end)s
),
cs AS MATERIALIZED (
    SELECT h.case_id,
        (array_agg(h.to_state ORDER BY h.seq DESC))[1] AS state_at_end,
        (array_agg(h.disposal_deadline ORDER BY h.seq DESC))[1] AS disposal_deadline,
        (array_agg(h.department_id ORDER BY h.seq DESC) FILTER (WHERE h.to_state = 'dispatched'))[1]
            AS department_id,
        min(h.at) FILTER (WHERE h.from_state = 'accepted' AND h.to_state = 'registered') AS registered_at,
        max(h.at) FILTER (WHERE h.from_state = 'dispatched' AND h.to_state = 'disposed') AS disposed_at,
        (array_agg(h.on_time ORDER BY h.seq DESC)
            FILTER (WHERE h.from_state = 'dispatched' AND h.to_state = 'disposed'))[1] AS disposed_on_time,
        bool_or(h.seq = 1 AND h.to_state = 'reported') AS inspector_reported,
        bool_or(h.to_state = 'closed') AS closed,
        bool_or(h.from_state = 'disposed' AND h.to_state = 'dispatched') AS reworked
    FROM cases_casehistory h JOIN rel ON rel.case_id = h.case_id
    WHERE h.at < %(end)s
    GROUP BY h.case_id
),
due AS (
    SELECT cs.*,
        (cs.registered_at >= %(start)s) AS registered_in_period,
        -- a disposal is due in the period when it was disposed in the period, or is still undisposed
        -- (state dispatched at the end) with its disposal deadline in the period (overdue at the end)
        (cs.disposed_at >= %(start)s) AS disposed_in_period,
        (cs.state_at_end = 'dispatched' AND cs.disposal_deadline >= %(start)s
            AND cs.disposal_deadline < %(end)s) AS overdue_open
    FROM cs
)
"""

IS_DUE = "(disposed_in_period OR overdue_open)"
ON_TIME_DISPOSAL = "(disposed_in_period AND disposed_on_time IS NOT FALSE AND NOT overdue_open)"
# A transition of the period, read straight from the history table: its own time bounds it.
TRANSITION = "cases_casehistory h WHERE h.at >= %(start)s AND h.at < %(end)s AND h.actor_id IS NOT NULL AND "
LATER = "SELECT 1 FROM cases_casehistory x WHERE x.case_id = h.case_id AND x.at < %(end)s AND "


@dataclass(frozen=True)
class Indicator:
    """A rate num/den (or, with kind="count", just the size of `den`)."""

    name: str
    label: str
    numerator: str = "TRUE"
    denominator: str = "TRUE"
    kind: str = "rate"


@dataclass(frozen=True)
class FactSet:
    """Rows `unit, case_id, at, <flags>` (SQL may use the base CTEs and {unit}); one row per counted item."""

    name: str
    sql: str
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class Level:
    name: str
    label: str
    unit_kind: str  # area | department | user
    weight_key: str
    fact_sets: tuple[FactSet, ...]
    volume: str | None = None  # count indicator feeding the volume score
    unit_column: str = ""  # for area levels: the cases_case column holding the unit code
    role: str = ""  # for user levels: the role a user must hold to be ranked (an operator is no inspector)

    @cached_property
    def indicators(self) -> dict[str, tuple[FactSet, Indicator]]:
        return {i.name: (fs, i) for fs in self.fact_sets for i in fs.indicators}

    def fact_sql(self, fs: FactSet) -> str:
        return fs.sql.format(unit=f"c.{self.unit_column}" if self.unit_column else "")


AREA_FACTS = (
    FactSet(
        "cases",
        """SELECT {unit} AS unit, due.case_id, COALESCE(due.registered_at, due.disposed_at, due.disposal_deadline) AS at,
                  registered_in_period, inspector_reported, closed, """ + IS_DUE + " AS is_due, "
        + ON_TIME_DISPOSAL + """ AS on_time
           FROM due JOIN cases_case c ON c.id = due.case_id
           WHERE registered_in_period OR """ + IS_DUE,
        (
            Indicator("registered", _("立案数"), denominator="registered_in_period", kind="count"),
            Indicator("report_rate", _("上报率"), numerator="inspector_reported", denominator="registered_in_period"),
            Indicator("due", _("应结案数"), denominator="is_due", kind="count"),
            Indicator("closing_rate", _("结案率"), numerator="closed", denominator="is_due"),
            Indicator("on_time_closing_rate", _("按期结案率"), numerator="closed AND on_time", denominator="is_due"),
        ),
    ),
)

DEPARTMENT_FACTS = (
    FactSet(
        "due",
        """SELECT due.department_id AS unit, due.case_id, COALESCE(due.disposed_at, due.disposal_deadline) AS at,
                  due.closed, due.reworked, """ + ON_TIME_DISPOSAL + """ AS on_time
           FROM due WHERE due.department_id IS NOT NULL AND """ + IS_DUE,
        (
            Indicator("due", _("应处置数"), kind="count"),
            Indicator("closing_rate", _("结案率"), numerator="closed"),
            Indicator("on_time_disposal_rate", _("按期处置率"), numerator="on_time"),
            Indicator("rework_rate", _("返工率"), numerator="reworked"),
            Indicator("overdue_rate", _("超期率"), numerator="NOT on_time"),
        ),
    ),
)


def _on_time_transitions(name: str, where: str, indicator: Indicator, *extra: Indicator, flags: str = "") -> FactSet:
    """Fact set of the period's transitions matching `where`, one row each, unit = the actor."""
    return FactSet(
        name,
        f"SELECT h.actor_id AS unit, h.case_id, h.at, (h.on_time IS NOT FALSE) AS on_time{flags} "
        f"FROM {TRANSITION}{where}",
        (indicator, *extra),
    )


INSPECTOR_FACTS = (
    FactSet(
        "reports",
        f"""SELECT h.actor_id AS unit, h.case_id, h.at,
                   EXISTS ({LATER}x.to_state IN ('accepted', 'closed')) AS effective
            FROM {TRANSITION}h.seq = 1 AND h.to_state IN ('reported', 'self_handled')""",
        (
            Indicator("reports", _("上报数"), kind="count"),
            Indicator("effective_report_rate", _("有效上报率"), numerator="effective"),
        ),
    ),
    _on_time_transitions("verifies", "h.from_state = 'pending_verification'",
                         Indicator("on_time_verify_rate", _("按时核实率"), numerator="on_time")),
    _on_time_transitions("checks", "h.from_state = 'disposed' AND h.to_state IN ('checked', 'dispatched')",
                         Indicator("on_time_check_rate", _("按时核查率"), numerator="on_time")),
    FactSet(
        "cell_cases",
        """SELECT DISTINCT ra.inspector_id AS unit, h.case_id, h.at,
                  (h.actor_id IS DISTINCT FROM ra.inspector_id) AS missed
           FROM cases_casehistory h JOIN cases_case c ON c.id = h.case_id
           JOIN grid_responsibilityarea_cells rc ON rc.cell_id = c.cell_id
           JOIN grid_responsibilityarea ra ON ra.id = rc.responsibilityarea_id
           WHERE h.seq = 1 AND h.at >= %(start)s AND h.at < %(end)s""",
        (Indicator("miss_rate", _("漏报率"), numerator="missed"),),
    ),
)

DISPATCHER_FACTS = (
    _on_time_transitions(
        "dispatches", "h.from_state = 'registered' AND h.to_state = 'dispatched'",
        Indicator("dispatched", _("派遣数"), kind="count"),
        Indicator("on_time_dispatch_rate", _("按时派遣率"), numerator="on_time"),
        Indicator("accurate_dispatch_rate", _("准确派遣率"), numerator="NOT returned"),
        # the first later entry into `registered` can only be this dispatch's return
        flags=f", EXISTS ({LATER}x.seq > h.seq AND x.to_state = 'registered') AS returned",
    ),
)

LEADER_FACTS = (
    _on_time_transitions(
        "registers", "h.from_state = 'accepted' AND h.to_state = 'registered'",
        Indicator("registered", _("立案数"), kind="count"),
        Indicator("on_time_register_rate", _("按时立案率"), numerator="on_time"),
        Indicator("accurate_register_rate", _("准确立案率"), numerator="NOT in_error"),
        flags=f""", EXISTS ({LATER}(x.to_state = 'voided'
                   OR (x.to_state = 'closed' AND x.data->>'close_type' = ANY(%(error_close_kinds)s)))) AS in_error""",
    ),
    _on_time_transitions("closes", "h.from_state = 'checked' AND h.to_state = 'closed'",
                         Indicator("on_time_close_rate", _("按时结案率"), numerator="on_time")),
)

AREA_LEVELS = {"cell": "cell_code", "community": "community_code", "street": "street_code", "district": "district_code"}
AREA_LABELS = {"cell": _("单元网格"), "community": _("社区"), "street": _("街道"), "district": _("区县")}

LEVELS: dict[str, Level] = {
    **{
        name: Level(name, AREA_LABELS[name], "area", "area", AREA_FACTS, volume="registered", unit_column=col)
        for name, col in AREA_LEVELS.items()
    },
    "department": Level("department", _("专业部门"), "department", "department", DEPARTMENT_FACTS, volume="due"),
    "inspector": Level("inspector", _("监督员"), "user", "inspector", INSPECTOR_FACTS, role=Role.INSPECTOR),
    "dispatcher": Level("dispatcher", _("派遣员"), "user", "dispatcher", DISPATCHER_FACTS, volume="dispatched",
                        role=Role.DISPATCHER),
    "leader": Level("leader", _("值班长"), "user", "leader", LEADER_FACTS, role=Role.LEADER),
}


def params(period: Period, error_close_kinds: tuple[str, ...]) -> dict:
    return {"start": period.start_at, "end": period.end_at, "error_close_kinds": list(error_close_kinds)}


def aggregate_sql(level: Level) -> tuple[str, list[tuple[str, str]]]:
    """One statement: per fact set, per unit, the counts of every indicator. Returns (sql, columns) where
    columns are (indicator, "num"|"den") in the order of the `counts` array of each result row."""
    ctes = [BASE_CTES.strip()]
    selects = []
    columns: list[tuple[str, str]] = []
    for fs in level.fact_sets:
        ctes.append(f"fs_{fs.name} AS ({level.fact_sql(fs)})")
    # every fact set yields the same array shape: zeros for the indicators of other fact sets
    for fs in level.fact_sets:
        exprs = []
        for other in level.fact_sets:
            for ind in other.indicators:
                if other is fs:
                    exprs.append(f"count(*) FILTER (WHERE {ind.denominator})")
                    exprs.append(f"count(*) FILTER (WHERE ({ind.denominator}) AND ({ind.numerator}))")
                else:
                    exprs += ["0", "0"]
        selects.append(f"SELECT unit::text AS unit, ARRAY[{', '.join(exprs)}]::bigint[] AS counts "
                       f"FROM fs_{fs.name} GROUP BY unit")
    for fs in level.fact_sets:
        for ind in fs.indicators:
            columns += [(ind.name, "den"), (ind.name, "num")]
    sql = ("WITH " + ",\n".join(ctes) + "\nSELECT unit, counts FROM (\n" + "\nUNION ALL\n".join(selects)
           + "\n) per_fact_set WHERE unit IS NOT NULL")
    return sql, columns


def drilldown_sql(level: Level, indicator: str) -> str:
    """The rows behind one indicator of one unit (`%(unit)s`): case, time, in_numerator; ordered by time."""
    fs, ind = level.indicators[indicator]
    return (
        "WITH " + BASE_CTES.strip() + f",\nfs AS ({level.fact_sql(fs)})\n"
        f"SELECT case_id, at, ({ind.numerator}) AS in_numerator FROM fs "
        f"WHERE unit::text = %(unit)s AND ({ind.denominator}) ORDER BY at, case_id"
    )
