"""Bench: page through a 100,000-polygon layer 1,000 features at a time via OGC API – Features `/items` (Django's
full request stack: middleware, URL resolution, authentication, access policy, SQL built by tileserver.ogcapi)
and via WFS 2.0 GetFeature GeoJSON (tileserver.wfs.serve_wfs: mapserv CGI), against a floor measured in the same
run: the same pages straight from PostGIS (`ST_AsGeoJSON` + `json_agg`, one query per page).

Prints features/s of each and their ratios to the floor (issue 16 targets: OGC API ≥ 0.6, WFS ≥ 0.4), and the
resident memory of this process while the OGC API pages are read (flat: no page holds more than one page).
BENCH_FEATURES_API_FEATURES (default 100,000) and BENCH_WFS_PAGE (1,000) set the sizes; the scratch layer is the
WFS bench's (bench/wfs_getfeature.py), created and removed again.
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from pathlib import Path

from bench._report import record
from bench._support import setup_django

FEATURES = int(os.environ.get("BENCH_FEATURES_API_FEATURES", 100_000))


def rss_mib() -> float:
    """Current resident set size of this process (MiB), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def ogcapi_pages(n: int, page: int) -> tuple[float, list[float]]:
    """Seconds to read every page through /ogcapi/collections/{layer}/items following the `next` links, and the
    RSS (MiB) after each page."""
    from django.test import Client

    from bench.wfs_getfeature import LAYER

    client = Client(HTTP_HOST="localhost")
    url, seen, rss = f"/ogcapi/collections/{LAYER}/items?limit={page}", 0, []
    start = time.perf_counter()
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        data = json.loads(response.content)
        seen += len(data["features"])
        url = next((link["href"].replace("http://localhost", "") for link in data["links"]
                    if link["rel"] == "next"), None)
        rss.append(rss_mib())
    elapsed = time.perf_counter() - start
    assert seen == n, seen
    return elapsed, rss


def main() -> None:
    setup_django()
    from django.conf import settings

    from bench.wfs_getfeature import PAGE, floor_pages, scratch_layer, wfs_pages

    settings.CITYGIS_OGC_RATE_ANON = "100000000/min"  # the bench measures throughput, not the throttle
    with tempfile.TemporaryDirectory(prefix="bench-features-api-") as tmp, scratch_layer(Path(tmp), FEATURES):
        floor_pages(PAGE)  # warm the database cache for all three
        floor = floor_pages(FEATURES)
        before = rss_mib()
        ogc, rss = ogcapi_pages(FEATURES, PAGE)
        wfs = wfs_pages(FEATURES)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record("features_api", "OGC API items paging", ours=FEATURES / ogc, floor=FEATURES / floor, unit="features/s",
           target=">= 0.6")
    record("features_api", "WFS GetFeature GeoJSON paging", ours=FEATURES / wfs, floor=FEATURES / floor,
           unit="features/s", target=">= 0.4")
    print(f"features_api: {FEATURES} polygons in pages of {PAGE}: PostGIS floor {FEATURES / floor:,.0f} features/s,"
          f" OGC API {FEATURES / ogc:,.0f} features/s (ratio {floor / ogc:.2f}, target >= 0.6),"
          f" WFS GeoJSON {FEATURES / wfs:,.0f} features/s (ratio {floor / wfs:.2f}, target >= 0.4)")
    print(f"features_api: RSS while paging OGC API {before:.0f} MiB before, {min(rss):.0f}-{max(rss):.0f} MiB over"
          f" {len(rss)} pages (first page {rss[0]:.0f}, last {rss[-1]:.0f}); process peak {peak:.0f} MiB"
          " (includes building the scratch layer)")


if __name__ == "__main__":
    main()
