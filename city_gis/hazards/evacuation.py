"""Evacuation plans for orange/red alerts: threatened buildings and people, shelters by road distance (pgRouting).

The threatened area is the union of the registry's hazard zones (layers_hazardzone) intersecting the alert's
hazard point, or, when none does, a circle of EVAC_DEFAULT_RADIUS_M around the point. Threatened buildings are
those intersecting it; their people are an ESTIMATE (the demo's buildings carry floors and a footprint but no
population): ceil(floors (1 when unknown) × footprint m² (EPSG:4544) / EVAC_M2_PER_PERSON), at least 1.

Distances are along the road network: layers_road noded with ST_Node in EPSG:4544 and cut into pieces of at
most EVAC_SEGMENT_M into hazards_road_edge / hazards_road_vertex (rebuilt when the roads change), undirected,
cost = length in metres; a building and a
shelter join the network at their nearest vertex (that straight walk counts in the distance). The cost matrix
is one pgr_dijkstraCost many-to-many call; routes are pgr_dijkstra paths for the pairs used.

Assignment is greedy, documented as such: buildings in order of their nearest reachable shelter, each sending
its people to shelters in increasing road distance, splitting a building when a shelter fills; a shelter never
receives more than its capacity (full capacity per plan: other plans' occupants are not subtracted); people
left over, or in buildings with no road path to any shelter, are stored unassigned (shelter NULL).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from city_gis.accounts.models import Role

from .models import LEVEL_NAMES, Alert, Level

# Cost bounds of one plan (declared here, in docs/hazards.md "Evacuation plans").
EVAC_M2_PER_PERSON = float(getattr(settings, "CITYGIS_EVAC_M2_PER_PERSON", 40.0))
EVAC_DEFAULT_RADIUS_M = float(getattr(settings, "CITYGIS_EVAC_DEFAULT_RADIUS_M", 200.0))
EVAC_MAX_BUILDINGS = int(getattr(settings, "CITYGIS_EVAC_MAX_BUILDINGS", 2000))
EVAC_MAX_SHELTERS = int(getattr(settings, "CITYGIS_EVAC_MAX_SHELTERS", 20))  # nearest by straight line
EVAC_SNAP_MAX_M = float(getattr(settings, "CITYGIS_EVAC_SNAP_MAX_M", 1000.0))  # farther from a road: unreachable
# roads are cut into pieces of at most this length, so a building joins the network near where it stands
EVAC_SEGMENT_M = float(getattr(settings, "CITYGIS_EVAC_SEGMENT_M", 25.0))
EVAC_STATEMENT_TIMEOUT_MS = int(getattr(settings, "CITYGIS_EVAC_STATEMENT_TIMEOUT_MS", 30000))
EVAC_MIN_LEVEL = Level.ORANGE

log = logging.getLogger(__name__)
DROP_TOPOLOGY_TEMP = "DROP TABLE IF EXISTS _evac_noded, _evac_ends, _evac_v"
DROP_ROUTE_TEMP = "DROP TABLE IF EXISTS _evac_legs, _evac_pairs, _evac_lines"

TOPOLOGY_LOCK = (4243, 0)  # pg_advisory_xact_lock: one topology rebuild at a time
EDGES_SQL = "SELECT id, source, target, cost, cost AS reverse_cost FROM hazards_road_edge"  # a constant


def may_plan(user) -> bool:
    """Plans are made on demand by hazard officers (the duty side of city_gis/hazards/access.py)."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.has_role(Role.HAZARD_OFFICER))


class EvacuationError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass
class Threatened:
    building_id: int
    people: int
    vertex: int | None
    snap_m: float
    community_code: str
    community_name: str


def _stamp(cur) -> str:
    cur.execute("SELECT count(*) || ':' || coalesce(sum(id), 0) || ':' || coalesce(max(updated_at)::text, '') "
                "FROM layers_road")
    return cur.fetchone()[0]


def ensure_topology(*, force: bool = False) -> dict:
    """Build the routable network from layers_road when the roads changed since the last build; its figures."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", TOPOLOGY_LOCK)
        stamp = _stamp(cur)
        cur.execute("SELECT stamp, edges, vertices, build_ms FROM hazards_road_topology WHERE id = 1")
        row = cur.fetchone()
        if row and row[0] == stamp and not force:
            return {"rebuilt": False, "edges": row[1], "vertices": row[2], "build_ms": row[3]}
        started = time.perf_counter()
        cur.execute("TRUNCATE hazards_road_edge, hazards_road_vertex")
        cur.execute(DROP_TOPOLOGY_TEMP)
        cur.execute("""
            CREATE TEMP TABLE _evac_noded ON COMMIT DROP AS
            SELECT row_number() OVER () AS id, seg.geom FROM (
                SELECT (ST_Dump(ST_Node(ST_Collect(ST_Force2D(ST_Transform(d.geom, 4544)))))).geom
                FROM (SELECT (ST_Dump(geom)).geom FROM layers_road) d) n
            CROSS JOIN LATERAL ST_DumpSegments(ST_Segmentize(n.geom, %s)) seg
            WHERE ST_Length(seg.geom) > 0""", [EVAC_SEGMENT_M])
        # vertices keyed by their exact coordinates (snapped to 1 cm): a hash join, not the GiST `~=`, whose
        # float4 boxes would merge points ~0.25 m apart at these coordinates
        cur.execute("""
            CREATE TEMP TABLE _evac_ends ON COMMIT DROP AS
            SELECT n.id, round(ST_X(ST_StartPoint(n.geom))::numeric, 2) AS sx,
                   round(ST_Y(ST_StartPoint(n.geom))::numeric, 2) AS sy,
                   round(ST_X(ST_EndPoint(n.geom))::numeric, 2) AS ex, round(ST_Y(ST_EndPoint(n.geom))::numeric, 2) AS ey
            FROM _evac_noded n""")
        cur.execute("""
            CREATE TEMP TABLE _evac_v ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY x, y) AS id, x, y
            FROM (SELECT sx AS x, sy AS y FROM _evac_ends UNION SELECT ex, ey FROM _evac_ends) p""")
        cur.execute("INSERT INTO hazards_road_vertex (id, geom) "
                    "SELECT id, ST_SetSRID(ST_MakePoint(x::float8, y::float8), 4544) FROM _evac_v")
        cur.execute("""
            INSERT INTO hazards_road_edge (id, source, target, cost, geom)
            SELECT n.id, s.id, t.id, ST_Length(n.geom), n.geom
            FROM _evac_noded n JOIN _evac_ends e ON e.id = n.id
            JOIN _evac_v s ON s.x = e.sx AND s.y = e.sy
            JOIN _evac_v t ON t.x = e.ex AND t.y = e.ey""")
        cur.execute("SELECT (SELECT count(*) FROM hazards_road_edge), (SELECT count(*) FROM hazards_road_vertex)")
        edges, vertices = cur.fetchone()
        build_ms = (time.perf_counter() - started) * 1000
        cur.execute("""
            INSERT INTO hazards_road_topology (id, stamp, built_at, edges, vertices, build_ms)
            VALUES (1, %s, now(), %s, %s, %s)
            ON CONFLICT (id) DO UPDATE SET stamp = EXCLUDED.stamp, built_at = EXCLUDED.built_at,
                edges = EXCLUDED.edges, vertices = EXCLUDED.vertices, build_ms = EXCLUDED.build_ms""",
                    [stamp, edges, vertices, build_ms])
        cur.execute(DROP_TOPOLOGY_TEMP)  # ON COMMIT is too late inside an enclosing transaction
        cur.execute("ANALYZE hazards_road_edge")
        cur.execute("ANALYZE hazards_road_vertex")
    return {"rebuilt": True, "edges": edges, "vertices": vertices, "build_ms": build_ms}


def _zone(cur, point_id: int) -> tuple[str, str]:
    """(EWKT of the threatened area in EPSG:4490, 'hazard_zone' or 'radius')."""
    cur.execute("""
        SELECT ST_AsEWKT(ST_Multi(ST_Union(z.geom))) FROM layers_hazardzone z, layers_hazardpoint p
        WHERE p.id = %s AND ST_Intersects(z.geom, p.geom)""", [point_id])
    zone = cur.fetchone()[0]
    if zone:
        return zone, "hazard_zone"
    cur.execute("""
        SELECT ST_AsEWKT(ST_Multi(ST_Transform(ST_Buffer(ST_Transform(geom, 4544), %s, 32), 4490)))
        FROM layers_hazardpoint WHERE id = %s""", [EVAC_DEFAULT_RADIUS_M, point_id])
    return cur.fetchone()[0], "radius"


def _threatened(cur, zone: str) -> list[Threatened]:
    cur.execute("""
        SELECT b.id,
               greatest(1, ceil(coalesce(nullif(b.floors, 0), 1) * ST_Area(ST_Transform(b.geom, 4544)) / %s))::int,
               v.id, v.d, coalesce(c.code, ''), coalesce(c.name, '')
        FROM layers_building b
        LEFT JOIN LATERAL (
            SELECT rv.id, ST_Distance(rv.geom, ST_Transform(ST_PointOnSurface(b.geom), 4544)) AS d
            FROM hazards_road_vertex rv
            ORDER BY rv.geom <-> ST_Transform(ST_PointOnSurface(b.geom), 4544) LIMIT 1) v ON true
        LEFT JOIN LATERAL (
            SELECT gc.code, gc.name FROM grid_community gc WHERE ST_Covers(gc.geom, ST_PointOnSurface(b.geom))
            ORDER BY gc.code LIMIT 1) c ON true
        WHERE ST_Intersects(b.geom, ST_GeomFromEWKT(%s))
        ORDER BY b.id LIMIT %s""", [EVAC_M2_PER_PERSON, zone, EVAC_MAX_BUILDINGS + 1])
    rows = cur.fetchall()
    if len(rows) > EVAC_MAX_BUILDINGS:
        raise EvacuationError("zone", f"more than {EVAC_MAX_BUILDINGS} buildings in the threatened area")
    return [Threatened(r[0], r[1], r[2] if r[3] is not None and r[3] <= EVAC_SNAP_MAX_M else None,
                       r[3] or 0.0, r[4], r[5]) for r in rows]


def _shelters(cur, zone: str) -> list[tuple[int, int, int | None, float]]:
    """(shelter id, capacity, vertex, snap metres) of the shelters nearest the area (straight line)."""
    cur.execute("""
        SELECT s.id, s.capacity, v.id, v.d FROM (
            SELECT id, capacity, geom FROM layers_shelter WHERE capacity > 0
            ORDER BY ST_Transform(geom, 4544) <-> ST_Transform(ST_Centroid(ST_GeomFromEWKT(%s)), 4544), id
            LIMIT %s) s
        LEFT JOIN LATERAL (
            SELECT rv.id, ST_Distance(rv.geom, ST_Transform(s.geom, 4544)) AS d FROM hazards_road_vertex rv
            ORDER BY rv.geom <-> ST_Transform(s.geom, 4544) LIMIT 1) v ON true""", [zone, EVAC_MAX_SHELTERS])
    return [(r[0], r[1], r[2] if r[3] is not None and r[3] <= EVAC_SNAP_MAX_M else None, r[3] or 0.0)
            for r in cur.fetchall()]


def _costs(cur, starts: list[int], ends: list[int]) -> dict[tuple[int, int], float]:
    if not starts or not ends:
        return {}
    cur.execute("SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCost(%s, %s::bigint[], %s::bigint[])",
                [EDGES_SQL, sorted(set(starts)), sorted(set(ends))])
    costs = {(s, e): c for s, e, c in cur.fetchall()}
    for v in set(starts) & set(ends):
        costs[(v, v)] = 0.0  # pgRouting leaves out start = end
    return costs


def assign(buildings: list[Threatened], shelters: list[tuple[int, int, int | None, float]],
           costs: dict[tuple[int, int], float]) -> list[tuple[Threatened, int | None, int, float | None]]:
    """The greedy assignment: (building, shelter or None, people, distance m) rows."""
    left = {s[0]: s[1] for s in shelters}

    def options(b: Threatened) -> list[tuple[float, int]]:
        if b.vertex is None:
            return []
        found = [(b.snap_m + costs[(b.vertex, v)] + snap, sid) for sid, _cap, v, snap in shelters
                 if v is not None and (b.vertex, v) in costs]
        return sorted(found)

    ranked = sorted(((options(b), b) for b in buildings),
                    key=lambda o: (o[0][0][0] if o[0] else float("inf"), o[1].building_id))
    rows = []
    for opts, b in ranked:
        remaining = b.people
        for dist, sid in opts:
            if remaining == 0:
                break
            take = min(remaining, left[sid])
            if take:
                left[sid] -= take
                remaining -= take
                rows.append((b, sid, take, dist))
        if remaining:
            rows.append((b, None, remaining, None))
    return rows


def _store_routes(cur, legs: list[tuple[int, int, int]]) -> None:
    """Route of every assignment (id, building vertex, shelter vertex): building → pgr_dijkstra path → shelter."""
    cur.execute(DROP_ROUTE_TEMP)
    cur.execute("CREATE TEMP TABLE _evac_legs (id bigint, source bigint, target bigint) ON COMMIT DROP")
    cur.executemany("INSERT INTO _evac_legs VALUES (%s, %s, %s)", legs)
    cur.execute("CREATE TEMP TABLE _evac_pairs ON COMMIT DROP AS "
                "SELECT DISTINCT source, target FROM _evac_legs WHERE source <> target")
    # every edge oriented by the path's node sequence (node = the vertex the edge leaves from)
    cur.execute("""
        CREATE TEMP TABLE _evac_lines ON COMMIT DROP AS
        SELECT p.start_vid, p.end_vid,
               ST_MakeLine(CASE WHEN re.source = p.node THEN re.geom ELSE ST_Reverse(re.geom) END
                           ORDER BY p.path_seq) AS g
        FROM (SELECT d.start_vid, d.end_vid, d.path_seq, d.node, d.edge
              FROM pgr_dijkstra(%s, 'SELECT source, target FROM _evac_pairs') d WHERE d.edge > 0) p
        JOIN hazards_road_edge re ON re.id = p.edge
        GROUP BY p.start_vid, p.end_vid""", [EDGES_SQL])
    cur.execute("""
        UPDATE hazards_evacuationassignment a
        SET route = ST_Transform(ST_MakeLine(ARRAY[
                ST_Transform(ST_PointOnSurface(b.geom), 4544),
                coalesce(l.g, (SELECT geom FROM hazards_road_vertex WHERE id = g.source)),
                ST_Transform(s.geom, 4544)]), 4490)
        FROM _evac_legs g
        JOIN hazards_evacuationassignment x ON x.id = g.id
        JOIN layers_building b ON b.id = x.building_id
        JOIN layers_shelter s ON s.id = x.shelter_id
        LEFT JOIN _evac_lines l ON l.start_vid = g.source AND l.end_vid = g.target
        WHERE a.id = g.id""")
    cur.execute(DROP_ROUTE_TEMP)


def build_plan(alert: Alert, *, user=None, auto: bool = False) -> int:
    """Compute and store a plan for the alert (orange or red); the plan's id. All or nothing."""
    if alert.level < EVAC_MIN_LEVEL:
        raise EvacuationError("alert", "evacuation plans are made for orange and red alerts")
    if alert.closed_at is not None:
        raise EvacuationError("alert", "the alert is closed")
    ensure_topology()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SHOW statement_timeout")
        outer_timeout = cur.fetchone()[0]
        cur.execute("SET LOCAL statement_timeout = %s", [EVAC_STATEMENT_TIMEOUT_MS])
        zone, zone_source = _zone(cur, alert.hazard_point_id)
        buildings = _threatened(cur, zone)
        shelters = _shelters(cur, zone)
        costs = _costs(cur, [b.vertex for b in buildings if b.vertex is not None],
                       [s[2] for s in shelters if s[2] is not None])
        rows = assign(buildings, shelters, costs)
        vertex_of = {s[0]: s[2] for s in shelters}
        total = sum(b.people for b in buildings)
        assigned = sum(r[2] for r in rows if r[1] is not None)
        cur.execute("""
            INSERT INTO hazards_evacuationplan (alert_id, alert_level, created_at, created_by_id, auto, zone_source,
                zone, buildings, people_total, people_assigned, people_unassigned, shelters_used, build_ms)
            VALUES (%s, %s, %s, %s, %s, %s, ST_GeomFromEWKT(%s), %s, %s, %s, %s, %s, 0) RETURNING id""",
                    [alert.pk, alert.level, timezone.now(), getattr(user, "pk", None), auto, zone_source, zone,
                     len(buildings), total, assigned, total - assigned, len({r[1] for r in rows if r[1]})])
        plan_id = cur.fetchone()[0]
        legs = []
        for b, sid, people, dist in rows:
            cur.execute("""
                INSERT INTO hazards_evacuationassignment (plan_id, building_id, community_code, community_name,
                    people, shelter_id, distance_m) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
                        [plan_id, b.building_id, b.community_code, b.community_name, people, sid, dist])
            aid = cur.fetchone()[0]
            if sid is not None:
                legs.append((aid, b.vertex, vertex_of[sid]))
        if legs:
            _store_routes(cur, legs)
        cur.execute("UPDATE hazards_evacuationplan SET build_ms = %s WHERE id = %s",
                    [(time.perf_counter() - started) * 1000, plan_id])
        # SET LOCAL outlives the savepoint: give an enclosing transaction (ingest) its own timeout back
        cur.execute("SELECT set_config('statement_timeout', %s, true)", [outer_timeout])
    return plan_id


def on_alert_changes(changes) -> None:
    """CHANGE_HOOKS entry: a plan when an alert is created at or escalated to orange/red (once per level)."""
    wanted = [c for c in changes if c.kind in ("created", "escalated") and c.level >= EVAC_MIN_LEVEL]
    if not wanted:
        return
    with connection.cursor() as cur:
        for c in wanted:
            cur.execute("SELECT 1 FROM hazards_evacuationplan WHERE alert_id = %s AND alert_level >= %s",
                        [c.alert_id, c.level])
            if cur.fetchone():
                continue
            alert = Alert.objects.get(pk=c.alert_id)
            try:
                build_plan(alert, auto=True)
            except EvacuationError as exc:
                log.warning("no evacuation plan for alert %s: %s", alert.pk, exc.message)
            except DatabaseError:
                # the plan's savepoint is rolled back; the readings and the alert must not be lost for it
                log.exception("evacuation plan for alert %s failed", alert.pk)


def latest_plan_id(alert: Alert) -> int | None:
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM hazards_evacuationplan WHERE alert_id = %s ORDER BY created_at DESC, id DESC "
                    "LIMIT 1", [alert.pk])
        row = cur.fetchone()
    return row[0] if row else None


def plan_data(plan_id: int) -> dict:
    """The plan as JSON: totals, audit, shelters with their load, assignments with GeoJSON routes, communities."""
    import json

    with connection.cursor() as cur:
        cur.execute("""
            SELECT p.id, p.alert_id, p.alert_level, p.created_at, u.username, p.auto, p.zone_source,
                   ST_AsGeoJSON(p.zone, 7), p.buildings, p.people_total, p.people_assigned, p.people_unassigned,
                   p.shelters_used, p.build_ms
            FROM hazards_evacuationplan p LEFT JOIN accounts_user u ON u.id = p.created_by_id WHERE p.id = %s""",
                    [plan_id])
        p = cur.fetchone()
        cur.execute("""
            SELECT a.building_id, a.community_code, a.community_name, a.people, a.shelter_id, s.name,
                   a.distance_m, ST_AsGeoJSON(a.route, 7)
            FROM hazards_evacuationassignment a LEFT JOIN layers_shelter s ON s.id = a.shelter_id
            WHERE a.plan_id = %s ORDER BY a.community_code, a.building_id, a.distance_m NULLS LAST""", [plan_id])
        rows = cur.fetchall()
        cur.execute("""
            SELECT s.id, s.name, s.capacity, sum(a.people)::int, ST_X(s.geom), ST_Y(s.geom)
            FROM hazards_evacuationassignment a JOIN layers_shelter s ON s.id = a.shelter_id
            WHERE a.plan_id = %s GROUP BY s.id ORDER BY s.id""", [plan_id])
        shelters = cur.fetchall()
    return {
        "id": p[0], "alert": p[1], "alert_level": LEVEL_NAMES[p[2]], "created_at": p[3].isoformat(),
        "created_by": p[4], "auto": p[5], "zone_source": p[6], "zone": json.loads(p[7]),
        "buildings": p[8], "people_total": p[9], "people_assigned": p[10], "people_unassigned": p[11],
        "shelters_used": p[12], "build_ms": round(p[13], 1),
        "shelters": [{"id": s[0], "name": s[1], "capacity": s[2], "assigned": s[3], "lon": s[4], "lat": s[5]}
                     for s in shelters],
        "assignments": [{"building": r[0], "community_code": r[1], "community_name": r[2], "people": r[3],
                         "shelter": r[4], "shelter_name": r[5],
                         "distance_m": None if r[6] is None else round(r[6], 1),
                         "route": json.loads(r[7]) if r[7] else None} for r in rows],
    }


def community_list(plan: dict) -> list[dict]:
    """The plan's assignments grouped by community (社区) for the printable list: per community its rows
    (building, people, shelter, distance) and people total; communities by code, unknown ('') last."""
    groups: dict[str, dict] = {}
    for a in plan["assignments"]:
        group = groups.setdefault(a["community_code"], {"code": a["community_code"], "name": a["community_name"],
                                                        "people": 0, "rows": []})
        group["people"] += a["people"]
        group["rows"].append(a)
    return sorted(groups.values(), key=lambda g: (g["code"] == "", g["code"]))
