"""Bench: every evaluation level for one month over 1,000,000 cases of history, against hand-written SQL.

Works in a scratch database `citygis_bench` (created with PostGIS and migrated on first use; never the demo
database). Generates, by bulk SQL (generate_series), a synthetic city — 5,000 cells in 100 communities,
100 inspectors each responsible for one community, 15 departments — and N cases over the year 2030 with their
full history (inspector and public reports, rejects, returns, reworks, open cases; ~7 transitions per case).
Then times, for June 2030, (a) our evaluation of all eight levels (`evaluate()`: the generated SQL plus
scoring) and (b) hand-written SQL computing the same counts per level; prints both and the ratio (target
≤ 1.5×), and checks that the counts agree. Data are reused between runs when N is unchanged.

BENCH_EVAL_CASES overrides N (default 1,000,000); BENCH_EVAL_DB the scratch database name.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

from bench._report import record

N_DEFAULT = 1_000_000
PERIOD = "2030-06"
ROUNDS = 2

# path kind → steps (action, from, to, actor kind, minutes after the report)
_REGISTERED = [("report", "", "reported", "inspector", 0), ("accept", "reported", "accepted", "operator", 5),
               ("register", "accepted", "registered", "leader", 10)]
_DISPATCHED = [*_REGISTERED, ("dispatch", "registered", "dispatched", "dispatcher", 15)]


def _finish(dispose: int) -> list[tuple]:
    """Dispose `dispose` minutes after the report, then check and close."""
    return [("dispose", "dispatched", "disposed", "handler", dispose),
            ("check_passed", "disposed", "checked", "inspector", dispose + 30),
            ("close", "checked", "closed", "leader", dispose + 40)]


PATHS = {
    "normal": [*_DISPATCHED, *_finish(1440)],
    "public": [("report", "", "pending_verification", "none", 0),
               ("verify_confirmed", "pending_verification", "reported", "inspector", 25),
               ("accept", "reported", "accepted", "operator", 30),
               ("register", "accepted", "registered", "leader", 35),
               ("dispatch", "registered", "dispatched", "dispatcher", 40), *_finish(2000)],
    "reject": [("report", "", "reported", "inspector", 0), ("reject", "reported", "rejected", "operator", 8)],
    "rework": [*_DISPATCHED, ("dispose", "dispatched", "disposed", "handler", 1440),
               ("check_failed", "disposed", "dispatched", "inspector", 1470), *_finish(4000)],
    "return": [*_DISPATCHED, ("return", "dispatched", "registered", "handler", 120),
               ("dispatch", "registered", "dispatched", "dispatcher", 130), *_finish(2500)],
    "open": _DISPATCHED,
}
# share of cases per path, in percent (bucket = id % 100)
MIX = [("normal", 70), ("public", 10), ("reject", 5), ("rework", 5), ("return", 5), ("open", 5)]


def main() -> None:
    """Run the bench in a child process bound to the scratch database (other benches use the default one)."""
    db = os.environ.get("BENCH_EVAL_DB", "citygis_bench")
    exists = subprocess.run(["psql", "-Atqc", f"SELECT 1 FROM pg_database WHERE datname = '{db}'", "postgres"],
                            capture_output=True, text=True, check=True).stdout.strip()
    if not exists:
        subprocess.run(["createdb", db], check=True)
        subprocess.run(["psql", "-qc", "CREATE EXTENSION IF NOT EXISTS postgis", db], check=True)
    env = {**os.environ, "DATABASE_URL": f"postgis:///{db}", "DJANGO_SETTINGS_MODULE": "city_gis.settings"}
    subprocess.run([sys.executable, "-m", "bench.evaluation_1m", "--child"], env=env, check=True)


# ------------------------------------------------------------------------------------------------ child
def _setup() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _scalar(sql: str, params=None):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()[0]


def _exec(sql: str, params=None) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)


def generate(n: int) -> None:
    """Reference data and n cases with history, all by set-based SQL (idempotent: skips when present)."""
    from django.db import transaction
    from tqdm import tqdm

    if _scalar("SELECT count(*) FROM cases_case WHERE number LIKE 'B%%'") == n:
        print(f"evaluation_1m: reusing {n:,} generated cases", flush=True)
        return
    steps = tqdm(total=6, desc="evaluation_1m: generating", unit="step")
    with transaction.atomic():
        _exec("SET LOCAL citygis.allow_history_purge = 'on'")
        _exec("SET CONSTRAINTS ALL IMMEDIATE")  # deferred FK checks would block rebuilding indexes
        _exec("TRUNCATE cases_casehistory, cases_caseattachment, cases_duplicatelink, cases_case, "
              "grid_responsibilityarea_cells, grid_responsibilityarea, evaluation_areascore CASCADE")
        _exec("DELETE FROM grid_cell WHERE code LIKE '5299%%'")
        _exec("DELETE FROM grid_community WHERE code LIKE '5299%%'")
        _exec("DELETE FROM grid_street WHERE code LIKE '5299%%'")
        _exec("DELETE FROM grid_district WHERE code LIKE '5299%%'")
        _exec("DELETE FROM accounts_user WHERE username LIKE 'bench_%%'")
        _exec("DELETE FROM cases_category WHERE code = '9999'")
        _exec("DELETE FROM accounts_department WHERE code LIKE 'bench_%%'")
        _reference_data()
        # the year's monthly partitions of the history exist before its rows arrive (city_gis/cases/partitions.py)
        from city_gis.cases.partitions import ensure_partitions

        ensure_partitions(dt.date(2030, 1, 1), dt.date(2030, 12, 31))
        # bulk load without secondary indexes, then rebuild them (constraints stay)
        indexes = _drop_indexes("cases_case") + _drop_indexes("cases_casehistory")
        steps.update()
        _exec(
            """
            INSERT INTO cases_case (number, source, category_id, category_version, location, cell_id, cell_code,
                community_code, street_code, district_code, address, description, urgency, contact, observed_at,
                created_at, state, supervised, rework_count, return_count, close_type, pending_request,
                pending_request_data, updated_at, reporter_id)
            SELECT 'B' || lpad(i::text, 9, '0'), CASE WHEN i %% 100 BETWEEN 70 AND 79 THEN 'public' ELSE 'inspector' END,
                (SELECT id FROM cases_category WHERE code = '9999'), 'bench', ST_Centroid(c.geom), c.id, c.code,
                left(c.code, 12), left(c.code, 9), left(c.code, 6), '', 'bench', 'normal', '{}',
                t, t, 'reported', false, 0, 0, '', '', '{}', t,
                CASE WHEN i %% 100 BETWEEN 70 AND 79 THEN NULL ELSE ra.inspector_id END
            FROM generate_series(1, %(n)s) AS i
            CROSS JOIN LATERAL (SELECT timestamptz '2030-01-01 08:00+08'
                                       + (i::float8 / %(n)s) * interval '365 days' AS t) tt
            JOIN bench_cells c ON c.idx = (i::bigint * 7919) %% 5000
            JOIN grid_responsibilityarea_cells rc ON rc.cell_id = c.id
            JOIN grid_responsibilityarea ra ON ra.id = rc.responsibilityarea_id
            """,
            {"n": n},
        )
        steps.update()
        _paths_table()
        steps.update()
        _exec(
            """
            INSERT INTO cases_casehistory (case_id, seq, action, from_state, to_state, actor_id, actor_role,
                at, note, department_id, due_at, on_time, deadline, disposal_deadline, data)
            SELECT c.id, p.seq, p.action, p.from_state, p.to_state,
                CASE p.actor_kind
                    WHEN 'inspector' THEN ra.inspector_id
                    WHEN 'operator' THEN pp.operator[1 + c.id %% 5]
                    WHEN 'leader' THEN pp.leader[1 + c.id %% 5]
                    WHEN 'dispatcher' THEN pp.dispatcher[1 + c.id %% 5]
                    WHEN 'handler' THEN h.handler_id
                END, p.actor_kind,
                c.created_at + p.minutes * interval '1 minute', '',
                CASE WHEN p.seq >= p.first_dispatch AND NOT (p.action = 'return')
                     THEN (CASE WHEN p.seq > p.first_dispatch + 1 AND p.path = 'return' THEN d2.id ELSE d1.id END) END,
                NULL,
                CASE WHEN p.action = 'report' THEN NULL
                     WHEN p.action = 'dispose' THEN (c.id * 31 + p.seq) %% 10 <> 0
                     ELSE (c.id * 17 + p.seq) %% 20 <> 0 END,
                NULL,
                CASE WHEN p.seq >= p.first_dispatch THEN c.created_at + interval '2 days' END,
                CASE WHEN p.action = 'close' THEN
                     jsonb_build_object('close_type', CASE WHEN c.id %% 50 = 0 THEN 'error' ELSE 'normal' END)
                     ELSE '{}'::jsonb END
            FROM cases_case c
            JOIN bench_paths p ON p.bucket = c.id %% 100
            JOIN grid_responsibilityarea_cells rc ON rc.cell_id = c.cell_id
            JOIN grid_responsibilityarea ra ON ra.id = rc.responsibilityarea_id
            JOIN bench_depts d1 ON d1.idx = c.id %% 15
            JOIN bench_depts d2 ON d2.idx = (c.id + 1) %% 15
            JOIN bench_handlers h ON h.department_id = CASE WHEN p.path = 'return' AND p.seq > p.first_dispatch + 1
                                                            THEN d2.id ELSE d1.id END
            CROSS JOIN (SELECT max(ids) FILTER (WHERE kind = 'operator') AS operator,
                               max(ids) FILTER (WHERE kind = 'leader') AS leader,
                               max(ids) FILTER (WHERE kind = 'dispatcher') AS dispatcher FROM bench_people) pp
            WHERE c.number LIKE 'B%%'
            """,
            {},
        )
        steps.update()
        for indexdef in indexes:
            _exec(indexdef)
        _exec("""UPDATE cases_case c SET state = last.to_state FROM (
                     SELECT DISTINCT ON (case_id) case_id, to_state FROM cases_casehistory
                     ORDER BY case_id, seq DESC) last WHERE last.case_id = c.id""")
        steps.update()
    _exec("ANALYZE")
    steps.update()
    steps.close()


def _drop_indexes(table: str) -> list[str]:
    """Drop `table`'s indexes that back no constraint; return their definitions for re-creation."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN (
                           SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)""", [table, table])
        found = cur.fetchall()
        for name, _def in found:
            cur.execute(f'DROP INDEX "{name}"')
    return [d for _n, d in found]


def _reference_data() -> None:
    _exec("""
        INSERT INTO accounts_department (code, name_zh, name_en, is_disposal_unit, phone)
        SELECT 'bench_' || d, '测试部门' || d, '', true, '' FROM generate_series(0, 14) d;
        INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
            is_active, date_joined, roles, display_name, phone, department_id)
        SELECT '!', false, 'bench_' || k || '_' || i, '', '', '', false, true, now(), ARRAY[k], '', '',
               (SELECT id FROM accounts_department WHERE code = 'bench_0')
        FROM (VALUES ('operator', 5), ('leader', 5), ('dispatcher', 5), ('inspector', 100)) v(k, cnt),
             generate_series(0, v.cnt - 1) i;
        INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,
            is_active, date_joined, roles, display_name, phone, department_id)
        SELECT '!', false, 'bench_handler_' || d.code, '', '', '', false, true, now(), ARRAY['handler'], '', '', d.id
        FROM accounts_department d WHERE d.code LIKE 'bench_%%';
        INSERT INTO cases_category (kind, code, big_code, big_name_zh, big_name_en, name_zh, name_en, version,
            register_condition, close_condition, urgency_levels, active)
        VALUES ('event', '9999', '99', '测试', '', '测试事件', '', 'bench', '', '', '[]', true);
        INSERT INTO grid_district (code, name, synthetic, area_m2, geom)
        VALUES ('529901', '测试区', true, 5e7, ST_Multi(ST_MakeEnvelope(104.0, 25.0, 104.5, 25.1, 4490)));
        INSERT INTO grid_street (code, name, synthetic, area_m2, geom, district_id)
        SELECT '529901' || lpad(s::text, 3, '0'), '测试街道' || s, true, 5e6,
               ST_Multi(ST_MakeEnvelope(104.0 + s * 0.05, 25.0, 104.05 + s * 0.05, 25.1, 4490)),
               (SELECT id FROM grid_district WHERE code = '529901')
        FROM generate_series(0, 9) s;
        INSERT INTO grid_community (code, name, synthetic, area_m2, geom, street_id)
        SELECT st.code || lpad(k::text, 3, '0'), '测试社区' || st.code || k, true, 5e5,
               ST_Multi(ST_MakeEnvelope(ST_XMin(st.geom), 25.0 + k * 0.01, ST_XMax(st.geom), 25.01 + k * 0.01, 4490)),
               st.id
        FROM grid_street st, generate_series(0, 9) k WHERE st.code LIKE '5299%%';
        INSERT INTO grid_cell (code, area_m2, valid_from, geom, community_id)
        SELECT cm.code || lpad(j::text, 2, '0'), 10000, '2029-01-01',
               ST_MakeEnvelope(ST_XMin(cm.geom) + j * 0.001, ST_YMin(cm.geom),
                               ST_XMin(cm.geom) + (j + 1) * 0.001, ST_YMax(cm.geom), 4490), cm.id
        FROM grid_community cm, generate_series(0, 49) j WHERE cm.code LIKE '5299%%';
        INSERT INTO grid_responsibilityarea (name, inspector_id)
        SELECT cm.code, u.id FROM
            (SELECT code, row_number() OVER (ORDER BY code) AS r FROM grid_community WHERE code LIKE '5299%%') cm
            JOIN (SELECT id, row_number() OVER (ORDER BY id) AS r FROM accounts_user
                  WHERE username LIKE 'bench_inspector_%%') u ON u.r = cm.r;
        INSERT INTO grid_responsibilityarea_cells (responsibilityarea_id, cell_id)
        SELECT ra.id, c.id FROM grid_responsibilityarea ra
        JOIN grid_community cm ON cm.code = ra.name JOIN grid_cell c ON c.community_id = cm.id;
        CREATE TEMP TABLE bench_cells AS
            SELECT id, code, geom, (row_number() OVER (ORDER BY code) - 1)::int AS idx
            FROM grid_cell WHERE code LIKE '5299%%';
        CREATE TEMP TABLE bench_depts AS
            SELECT id, (row_number() OVER (ORDER BY code) - 1)::int AS idx FROM accounts_department
            WHERE code LIKE 'bench_%%';
        CREATE TEMP TABLE bench_handlers AS
            SELECT department_id, min(id) AS handler_id FROM accounts_user
            WHERE username LIKE 'bench_handler_%%' GROUP BY department_id;
        CREATE TEMP TABLE bench_people AS
            SELECT roles[1] AS kind, array_agg(id ORDER BY id) AS ids FROM accounts_user
            WHERE username LIKE 'bench_%%' GROUP BY roles[1];
    """)


def _paths_table() -> None:
    rows = []
    bucket = 0
    for path, share in MIX:
        steps = PATHS[path]
        first_dispatch = next((i for i, s in enumerate(steps, 1) if s[0] == "dispatch"), 99)
        for b in range(bucket, bucket + share):
            for seq, (action, frm, to, kind, minutes) in enumerate(steps, 1):
                rows.append((b, path, seq, action, frm, to, kind, minutes, first_dispatch))
        bucket += share
    _exec("CREATE TEMP TABLE bench_paths (bucket int, path text, seq int, action text, from_state text, "
          "to_state text, actor_kind text, minutes int, first_dispatch int)")
    from django.db import connection

    with connection.cursor() as cur:
        cur.executemany("INSERT INTO bench_paths VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)


# Hand-written SQL: the floor. The same counts, written directly for each level without the generic
# fact-set machinery (per-case facts of the month's cases, then one GROUP BY).
HAND_CASES = """
WITH rel AS (
    SELECT case_id FROM cases_casehistory WHERE at >= %(start)s AND at < %(end)s
    UNION SELECT case_id FROM cases_casehistory
    WHERE disposal_deadline >= %(start)s AND disposal_deadline < %(end)s AND at < %(end)s
), f AS (
    SELECT h.case_id,
        (array_agg(h.to_state ORDER BY h.seq DESC))[1] AS st,
        (array_agg(h.disposal_deadline ORDER BY h.seq DESC))[1] AS dl,
        (array_agg(h.department_id ORDER BY h.seq DESC) FILTER (WHERE h.to_state = 'dispatched'))[1] AS dept,
        min(h.at) FILTER (WHERE h.to_state = 'registered' AND h.from_state = 'accepted') AS reg_at,
        max(h.at) FILTER (WHERE h.to_state = 'disposed') AS disp_at,
        (array_agg(h.on_time ORDER BY h.seq DESC) FILTER (WHERE h.to_state = 'disposed'))[1] AS disp_ok,
        bool_or(h.seq = 1 AND h.to_state = 'reported') AS insp,
        bool_or(h.to_state = 'closed') AS closed,
        bool_or(h.from_state = 'disposed' AND h.to_state = 'dispatched') AS rework
    FROM cases_casehistory h JOIN rel USING (case_id) WHERE h.at < %(end)s GROUP BY h.case_id
), g AS (
    SELECT f.*, (disp_at >= %(start)s) AS d_in, (st = 'dispatched' AND dl >= %(start)s AND dl < %(end)s) AS od
    FROM f
)
"""
HAND = {
    "area": HAND_CASES + """
        SELECT c.{col}, count(*) FILTER (WHERE reg_at >= %(start)s),
               count(*) FILTER (WHERE reg_at >= %(start)s AND insp),
               count(*) FILTER (WHERE d_in OR od), count(*) FILTER (WHERE (d_in OR od) AND closed),
               count(*) FILTER (WHERE (d_in OR od) AND closed AND d_in AND disp_ok IS NOT FALSE AND NOT od)
        FROM g JOIN cases_case c ON c.id = g.case_id GROUP BY 1""",
    "department": HAND_CASES + """
        SELECT dept, count(*), count(*) FILTER (WHERE closed),
               count(*) FILTER (WHERE d_in AND disp_ok IS NOT FALSE AND NOT od), count(*) FILTER (WHERE rework)
        FROM g WHERE (d_in OR od) AND dept IS NOT NULL GROUP BY 1""",
    "inspector": """
        SELECT actor_id, 'r', count(*), count(*) FILTER (WHERE EXISTS (
                   SELECT 1 FROM cases_casehistory a WHERE a.case_id = h.case_id AND a.at < %(end)s
                   AND a.to_state IN ('accepted', 'closed')))
        FROM cases_casehistory h WHERE seq = 1 AND to_state IN ('reported', 'self_handled')
          AND at >= %(start)s AND at < %(end)s AND actor_id IS NOT NULL GROUP BY 1
        UNION ALL
        SELECT actor_id, from_state, count(*), count(*) FILTER (WHERE on_time IS NOT FALSE)
        FROM cases_casehistory WHERE from_state IN ('pending_verification', 'disposed')
          AND to_state IN ('reported', 'rejected', 'checked', 'dispatched')
          AND at >= %(start)s AND at < %(end)s AND actor_id IS NOT NULL GROUP BY 1, 2
        UNION ALL
        SELECT ra.inspector_id, 'm', count(*), count(*) FILTER (WHERE h.actor_id IS DISTINCT FROM ra.inspector_id)
        FROM cases_casehistory h JOIN cases_case c ON c.id = h.case_id
        JOIN grid_responsibilityarea_cells rc ON rc.cell_id = c.cell_id
        JOIN grid_responsibilityarea ra ON ra.id = rc.responsibilityarea_id
        WHERE h.seq = 1 AND h.at >= %(start)s AND h.at < %(end)s GROUP BY 1""",
    "dispatcher": """
        SELECT actor_id, count(*), count(*) FILTER (WHERE on_time IS NOT FALSE),
               count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM cases_casehistory r WHERE r.case_id = h.case_id
                                AND r.seq > h.seq AND r.to_state = 'registered' AND r.at < %(end)s))
        FROM cases_casehistory h WHERE from_state = 'registered' AND to_state = 'dispatched'
          AND at >= %(start)s AND at < %(end)s AND actor_id IS NOT NULL GROUP BY 1""",
    "leader": """
        SELECT actor_id, to_state, count(*), count(*) FILTER (WHERE on_time IS NOT FALSE),
               count(*) FILTER (WHERE to_state = 'registered' AND NOT EXISTS (
                   SELECT 1 FROM cases_casehistory e WHERE e.case_id = h.case_id AND e.at < %(end)s
                   AND (e.to_state = 'voided' OR (e.to_state = 'closed' AND e.data->>'close_type' = 'error'))))
        FROM cases_casehistory h WHERE ((from_state = 'accepted' AND to_state = 'registered')
                                        OR (from_state = 'checked' AND to_state = 'closed'))
          AND at >= %(start)s AND at < %(end)s AND actor_id IS NOT NULL GROUP BY 1, 2""",
}
HAND_LEVELS = {"cell": ("area", "cell_code"), "community": ("area", "community_code"),
               "street": ("area", "street_code"), "district": ("area", "district_code"),
               "department": ("department", None), "inspector": ("inspector", None),
               "dispatcher": ("dispatcher", None), "leader": ("leader", None)}


def _hand(level: str, period) -> list:
    from django.db import connection, transaction

    kind, col = HAND_LEVELS[level]
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL jit = off")  # as our engine runs (evaluation.engine.no_jit): the floor at its best
        cur.execute(HAND[kind].format(col=col), {"start": period.start_at, "end": period.end_at})
        return cur.fetchall()


def _best(fn, rounds: int = ROUNDS) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def child() -> None:
    _setup()
    from city_gis.evaluation.engine import evaluate
    from city_gis.evaluation.indicators import LEVELS
    from city_gis.evaluation.periods import parse_period

    n = int(os.environ.get("BENCH_EVAL_CASES", N_DEFAULT))
    t0 = time.perf_counter()
    generate(n)
    history = _scalar("SELECT count(*) FROM cases_casehistory")
    print(f"evaluation_1m: {n:,} cases, {history:,} history rows ready in {time.perf_counter() - t0:.1f} s",
          flush=True)
    period = parse_period(PERIOD)
    ours_total = hand_total = 0.0
    for level in LEVELS:
        ours, results = _best(lambda lv=level: evaluate(lv, period))
        hand, rows = _best(lambda lv=level: _hand(lv, period))
        ours_total += ours
        hand_total += hand
        agree = _agrees(level, results, rows)
        record("evaluation_1m", f"{level} level", ours=ours, floor=hand, unit="s", target="<= 1.1")
        print(f"evaluation_1m: {level:<10} ours {ours:7.3f} s  hand-written SQL {hand:7.3f} s  "
              f"ratio {ours / hand:5.2f}×  units {len(results):>5}  counts {'agree' if agree else 'DIFFER'}",
              flush=True)
    record("evaluation_1m", "all levels", ours=ours_total, floor=hand_total, unit="s", target="<= 1.5")
    print(f"evaluation_1m: all levels, {PERIOD}: ours {ours_total:.3f} s / hand-written {hand_total:.3f} s "
          f"= {ours_total / hand_total:.2f}× (target ≤ 1.5×)", flush=True)


def _agrees(level: str, results, rows) -> bool:
    """Spot-check: the denominators the hand-written SQL found equal ours (per unit)."""
    kind, _col = HAND_LEVELS[level]
    if kind == "area":
        hand = {str(r[0]): (r[1], r[3]) for r in rows if r[1] or r[3]}
        ours = {r.unit: (r.counts["registered"][1], r.counts["due"][1]) for r in results}
    elif kind == "department":
        from city_gis.accounts.models import Department

        codes = dict(Department.objects.values_list("id", "code"))
        hand = {codes[r[0]]: (r[1], r[2], r[3], r[4]) for r in rows}
        ours = {r.unit: (r.counts["due"][1], r.counts["closing_rate"][0], r.counts["on_time_disposal_rate"][0],
                         r.counts["rework_rate"][0]) for r in results}
    elif kind == "dispatcher":
        from city_gis.accounts.models import User

        names = dict(User.objects.values_list("id", "username"))
        hand = {names[r[0]]: tuple(r[1:]) for r in rows}
        ours = {r.unit: (r.counts["dispatched"][1], r.counts["on_time_dispatch_rate"][0],
                         r.counts["accurate_dispatch_rate"][0]) for r in results}
    elif kind == "leader":  # registers + closes counted
        return sum(r[2] for r in rows) == sum(
            r.counts["registered"][1] + r.counts["on_time_close_rate"][1] for r in results)
    else:  # inspector: reports + verifies + checks + cases in their cells
        return sum(r[2] for r in rows) == sum(den for r in results for name, (_n, den) in r.counts.items()
                                              if name in r.rates)
    return hand == ours


if __name__ == "__main__":
    if "--child" in sys.argv:
        child()
    else:
        main()
