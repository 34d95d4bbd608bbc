"""Bench: points geocoded per second through `city_gis.grid.geocode.geocode()` (cell + community + street +
district + nearest road, one query) vs the raw `ST_Contains` lookup of the cell code alone, on the same cells
and the same points, same run. Prints both rates and the ratio ours / raw (≤ 1; the price of the full answer).

Reads the current cells of the `citygis` database (or DATABASE_URL); needs the demo grid (`citygis load_demo`).
BENCH_GEOCODE_POINTS overrides the number of points (default 3,000).
"""

from __future__ import annotations

import os
import random
import time

from bench._report import record
from bench._support import setup_django

POINTS = int(os.environ.get("BENCH_GEOCODE_POINTS", 3000))
RAW_SQL = "SELECT code FROM grid_cell WHERE valid_to IS NULL AND ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4490))"


def main() -> None:
    setup_django()
    from django.contrib.gis.db.models import Extent
    from django.db import connection

    from city_gis.grid.geocode import OutsideManagedArea, geocode
    from city_gis.grid.models import Cell

    cells = Cell.objects.filter(valid_to__isnull=True)
    extent = cells.aggregate(e=Extent("geom"))["e"]
    if not extent:
        print("geocode: no grid cells in the database (run `citygis load_demo`) — skipped")
        return
    rng = random.Random(20261125)
    xmin, ymin, xmax, ymax = extent
    points = [(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax)) for _ in range(POINTS)]

    def ours() -> int:
        found = 0
        for lon, lat in points:
            try:
                geocode(lon, lat)
                found += 1
            except OutsideManagedArea:
                pass
        return found

    def raw() -> int:
        found = 0
        with connection.cursor() as cur:
            for lon, lat in points:
                cur.execute(RAW_SQL, [lon, lat])
                found += cur.fetchone() is not None
        return found

    ours(), raw()  # warm caches and plans
    timings = {}
    for name, fn in (("raw", raw), ("ours", ours)):
        best = None
        for _ in range(3):
            t = time.perf_counter()
            found = fn()
            elapsed = time.perf_counter() - t
            best = elapsed if best is None else min(best, elapsed)
        timings[name] = (best, found)
    (t_raw, n_raw), (t_ours, n_ours) = timings["raw"], timings["ours"]
    assert n_raw == n_ours, "geocode() and the raw query disagree on which points are inside"
    rate_raw, rate_ours = POINTS / t_raw, POINTS / t_ours
    record("geocode", "geocode() vs raw ST_Contains", ours=rate_ours, floor=rate_raw, unit="points/s", target=">= 0.8")
    print(f"geocode: {POINTS} points ({n_ours} inside {cells.count()} cells): raw ST_Contains {rate_raw:,.0f} points/s, "
          f"geocode() {rate_ours:,.0f} points/s, ratio ours/raw {rate_ours / rate_raw:.2f}")


if __name__ == "__main__":
    main()
