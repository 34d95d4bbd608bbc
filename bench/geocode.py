"""Bench: points geocoded per second vs the raw `ST_Contains` lookup of the cell code alone (the floor), on the
same cells and the same points, same run. Two figures, one per way the callers use `city_gis.grid.geocode`:

- `geocode()`: the cell, its community, street and district (codes and names) — what callers read when they
  only ask where a point is (inside-the-grid checks); the nearest road is not looked up.
- `geocode(address=True)` with `.address` read: the above plus the nearest road within the radius, in the same
  statement — what `create_case` (every report, Open311 request, hotline case) stores and what
  GET /api/v1/grid/lookup/ answers.

Each prints its rate and the ratio ours / raw (target ≥ 0.8). Reads the current cells of the `citygis` database
(or DATABASE_URL); needs the demo grid (`citygis load_demo`). BENCH_GEOCODE_POINTS overrides the number of points
(default 3,000).
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

    def cells_only() -> int:
        found = 0
        for lon, lat in points:
            try:
                geocode(lon, lat)
                found += 1
            except OutsideManagedArea:
                pass
        return found

    def with_address() -> int:
        found = 0
        for lon, lat in points:
            try:
                geocode(lon, lat, address=True).address  # noqa: B018 — reading it is the work measured
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

    runs = {"raw": raw, "geocode": cells_only, "address": with_address}
    for fn in runs.values():
        fn()  # warm caches and plans
    # Interleaved rounds, best of each: load from other processes hits all three alike.
    best: dict[str, float] = {}
    found: dict[str, int] = {}
    for _ in range(3):
        for name, fn in runs.items():
            t = time.perf_counter()
            found[name] = fn()
            elapsed = time.perf_counter() - t
            best[name] = min(best.get(name, elapsed), elapsed)
    assert found["raw"] == found["geocode"] == found["address"], "geocode() and the raw query disagree on what is inside"
    rate = {name: POINTS / t for name, t in best.items()}
    record("geocode", "geocode() vs raw ST_Contains", ours=rate["geocode"], floor=rate["raw"], unit="points/s",
           target=">= 0.8")
    record("geocode", "geocode(address=True) vs raw ST_Contains", ours=rate["address"], floor=rate["raw"],
           unit="points/s", target=">= 0.8")
    print(f"geocode: {POINTS} points ({found['raw']} inside {cells.count()} cells): raw ST_Contains "
          f"{rate['raw']:,.0f} points/s, geocode() {rate['geocode']:,.0f} points/s "
          f"(ratio {rate['geocode'] / rate['raw']:.2f}), geocode(address=True) {rate['address']:,.0f} points/s "
          f"(ratio {rate['address'] / rate['raw']:.2f})")


if __name__ == "__main__":
    main()
