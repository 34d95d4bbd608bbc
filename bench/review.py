"""Bench: the compliance review, against floors measured in the same run.

1. One review of a 1 km² redline against every control layer (city_gis.review.engine.evaluate: access checks,
   every rule with its features, land-use composition, data versions) vs hand-written overlay SQL summing the
   intersection areas (EPSG:4544) of the same layers, one statement per layer. Median of BENCH_REVIEW_RUNS
   (default 7); target: the review ≤ 1 s.
2. The batch review (city_gis.review.batch.batch_review: every zoning plot against farmland and the eco
   redline, stored and published) of BENCH_REVIEW_PLOTS (default 10,000) scratch plots vs one hand-written
   overlay SELECT of the same pairs and areas (both warmed, then the median of 3 alternating runs);
   target ≤ 1.5×. The scratch plots are rolled back.

Needs the demo city (`citygis load_demo`), read as the demo `admin`.
"""

from __future__ import annotations

import os
import statistics
import time

from bench._report import record
from bench._support import setup_django

RUNS = int(os.environ.get("BENCH_REVIEW_RUNS", 7))
PLOTS = int(os.environ.get("BENCH_REVIEW_PLOTS", 10_000))
SIDE_M = 1000.0


def _redline():
    """A 1 km × 1 km square (EPSG:4544) centred on the first town-edge expansion plot: it crosses the town,
    farmland and the urban boundary, so every rule has work to do."""
    import shapely
    from pyproj import Transformer
    from shapely.geometry import MultiPolygon, box

    from layers.models import thematic as tm

    plot = tm.ZoningPlot.objects.filter(plot_code="ZS-KZ01").first()
    if plot is None:
        return None
    import numpy as np

    def transform(t, geom):
        return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))

    to_m = Transformer.from_crs(4490, 4544, always_xy=True)
    to_ll = Transformer.from_crs(4544, 4490, always_xy=True)
    c = transform(to_m, shapely.from_wkb(bytes(plot.geom.wkb))).centroid
    h = SIDE_M / 2
    return MultiPolygon([transform(to_ll, box(c.x - h, c.y - h, c.x + h, c.y + h))])


def _floor_sql(layers, wkb: bytes) -> None:
    from django.db import connection
    from psycopg2 import sql

    with connection.cursor() as cur:
        for layer in layers:
            cur.execute(sql.SQL("""
                WITH r AS (SELECT ST_SetSRID(ST_GeomFromWKB(%s), 4490) AS g)
                SELECT sum(ST_Area(ST_Transform(ST_Intersection(t.geom, r.g), 4544))) FROM {t} t, r
                WHERE ST_Intersects(t.geom, r.g)""").format(t=sql.Identifier(layer.source_table)), [wkb])
            cur.fetchone()


def _median_ms(fn) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    setup_django()
    import shapely

    from city_gis.accounts.models import User
    from city_gis.review.engine import Proposal, evaluate
    from city_gis.review.redline import area_and_city_check
    from city_gis.review.rules import get_ruleset
    from layers.models import Layer

    redline = _redline()
    ruleset = get_ruleset()
    if redline is None or Layer.objects.filter(name__in=ruleset.layers()).count() < len(ruleset.layers()):
        print("bench review: the demo city's control lines are missing — run `citygis load_demo` first")
        return
    admin = User.objects.get(username="admin")
    proposal = Proposal("R2", 2.0, 50.0)
    area = area_and_city_check(redline, "geometry")
    layers = list(Layer.objects.filter(name__in=ruleset.layers()))
    wkb = shapely.to_wkb(redline)
    evaluate(redline, area, proposal, ruleset, admin)  # warm caches (plans, rule set, table columns)
    review_ms = _median_ms(lambda: (area_and_city_check(redline, "geometry"),
                                    evaluate(redline, area, proposal, ruleset, admin)))
    floor_ms = _median_ms(lambda: _floor_sql(layers, wkb))
    results = evaluate(redline, area, proposal, ruleset, admin)["results"]
    failing = [r["id"] for r in results["rules"] if r["status"] == "fail"]
    record("review", "one 1 km² review (ms; floor: hand-written overlay)", ours=review_ms, floor=floor_ms, unit="ms")
    record("review", "one 1 km² review, absolute (target: ratio to 1000 ms)", ours=review_ms, floor=1000, unit="ms",
           target="<= 1")
    print(f"review 1 km² redline vs {len(layers)} control layers: {review_ms:.0f} ms (target ≤ 1000 ms); "
          f"hand-written overlay SQL {floor_ms:.0f} ms; ratio {review_ms / floor_ms:.2f}; "
          f"area {area / 1e6:.3f} km², conflicts: {', '.join(failing) or 'none'}")
    bench_batch()


HAND_WRITTEN = """
    SELECT count(*), sum(a) FROM (
        SELECT ST_Area(ST_Transform(ST_Intersection(z.geom, f.geom), 4544)) AS a
        FROM layers_zoningplot z JOIN layers_basicfarmland f ON ST_Intersects(z.geom, f.geom)
        UNION ALL
        SELECT ST_Area(ST_Transform(ST_Intersection(z.geom, e.geom), 4544))
        FROM layers_zoningplot z JOIN review_ecoredline e ON ST_Intersects(z.geom, e.geom)
    ) o WHERE a > 1.0
"""


def _scratch_plots(n: int) -> None:
    """`n` 150 m squares on a grid over the town and the farmland around it (EPSG:4544 → 4490)."""
    from django.db import connection

    side = int(n ** 0.5) + 1
    with connection.cursor() as cur:
        cur.execute("""
            WITH c AS (SELECT ST_Transform(ST_SetSRID(ST_Centroid(ST_Extent(geom)::geometry), 4490), 4544) AS p
                       FROM layers_zoningplot WHERE plot_code LIKE 'ZS-KZ%%')
            INSERT INTO layers_zoningplot (name, source, synthetic, updated_at, plot_code, landuse_code, landuse_name,
                far_max, height_max_m, plan_name, area_m2, geom)
            SELECT 'bench', 'bench', TRUE, now(), 'BENCH-' || k, 'R2', '二类居住用地', 2.5, 60, 'bench', 22500,
                   ST_Multi(ST_Transform(ST_MakeEnvelope(ST_X(c.p) + (k %% %(side)s) * 160 - %(half)s,
                                                         ST_Y(c.p) + (k / %(side)s) * 160 - %(half)s,
                                                         ST_X(c.p) + (k %% %(side)s) * 160 - %(half)s + 150,
                                                         ST_Y(c.p) + (k / %(side)s) * 160 - %(half)s + 150, 4544), 4490))
            FROM c, generate_series(0, %(n)s - 1) AS k
        """, {"n": n, "side": side, "half": side * 80})
        cur.execute("ANALYZE layers_zoningplot")


def bench_batch() -> None:
    from django.db import connection, transaction

    from city_gis.review.batch import batch_review

    def floor():
        with connection.cursor() as cur:
            cur.execute(HAND_WRITTEN)
            return cur.fetchone()[0]

    with transaction.atomic():
        _scratch_plots(PLOTS)
        pairs, run = floor(), batch_review()  # warm both (plans, pages), then alternate: the machine is shared
        floor_times, batch_times = [], []
        for _ in range(3):
            start = time.perf_counter()
            floor()
            floor_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            run = batch_review()
            batch_times.append(time.perf_counter() - start)
        floor_s, batch_s = statistics.median(floor_times), statistics.median(batch_times)
        transaction.set_rollback(True)
    record("review", f"batch review of {run.plots} plots", ours=batch_s, floor=floor_s, unit="s", target="<= 1.5")
    print(f"batch review of {run.plots} plots vs farmland + eco redline: {batch_s * 1000:.0f} ms, {run.conflicts} conflicts "
          f"stored and published; hand-written overlay SQL {floor_s * 1000:.0f} ms ({pairs} pairs); "
          f"ratio {batch_s / floor_s:.2f} (target ≤ 1.5)")


if __name__ == "__main__":
    main()
