"""`citygis seed_tiles [--layers a,b] [--grids g] [--levels a-b] [--bbox minx,miny,maxx,maxy]`: pre-render
cached tiles through MapProxy (so the files are exactly what `/tiles` would store), with a progress bar."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tileserver.cache import tile_range
from tileserver.mapfile import CITY_EXTENT
from tileserver.mapproxy_conf import GRIDS
from tileserver.service import ConfigurationMissing, call_mapproxy


def parse_levels(text: str) -> tuple[int, int]:
    try:
        lo, _, hi = text.partition("-")
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise CommandError(f"--levels: expected a-b (e.g. 10-14), got {text!r}") from None
    if not 0 <= a <= b <= 19:
        raise CommandError(f"--levels: need 0 <= a <= b <= 19, got {text!r}")
    return a, b


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in text.split(","))
    except ValueError:
        raise CommandError(f"--bbox: expected minx,miny,maxx,maxy in EPSG:4490, got {text!r}") from None
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise CommandError(f"--bbox: not a lon/lat box: {text!r}")
    return minx, miny, maxx, maxy


class Command(BaseCommand):
    help = "预生成缓存瓦片"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--layers", default="", help="逗号分隔的图层名（默认全部可缓存图层）")
        parser.add_argument("--grids", default=",".join(GRIDS), help="网格：webmercator,cgcs2000")
        parser.add_argument("--levels", default="10-14", help="级别范围 a-b")
        parser.add_argument("--bbox", default="", help="minx,miny,maxx,maxy（EPSG:4490；默认全市）")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, **opts) -> None:
        from layers.models import Layer
        from tileserver.mapproxy_conf import BASEMAP
        from tileserver.service import loaded_configuration

        lo, hi = parse_levels(opts["levels"])
        bbox = parse_bbox(opts["bbox"]) if opts["bbox"] else CITY_EXTENT
        grids = [g for g in opts["grids"].split(",") if g]
        for g in grids:
            if g not in GRIDS:
                raise CommandError(f"--grids: unknown grid {g!r} (known: {', '.join(GRIDS)})")
        try:
            caches = set(loaded_configuration().caches)
        except (ConfigurationMissing, OSError) as exc:
            raise CommandError(f"no map configuration ({exc}): run `citygis generate_mapconfig`") from None
        names = [n for n in opts["layers"].split(",") if n] or sorted(caches)
        for name in names:
            if name not in caches:
                known = Layer.objects.filter(name=name).exists() or name == BASEMAP
                raise CommandError(f"--layers: {name!r} " + ("is not cached" if known else "is not a registered layer"))
        jobs = [(n, g, z, x, y) for n in names for g in grids for z in range(lo, hi + 1)
                for x, y in _tiles(g, z, bbox)]
        failed = 0
        for name, grid, z, x, y in tqdm(jobs, desc="seed", unit="tile", disable=opts["quiet"]):
            environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/tiles/{name}/{grid}/{z}/{x}/{y}.png",
                       "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
                       "wsgi.url_scheme": "http", "HTTP_HOST": "localhost"}
            status, _headers, _body = call_mapproxy(environ)
            failed += status != 200
        if failed:
            raise CommandError(f"{failed} of {len(jobs)} tiles failed")
        if not opts["quiet"]:
            self.stdout.write(f"{len(jobs)} tiles seeded")


def _tiles(grid: str, z: int, bbox):
    x0, y0, x1, y1 = tile_range(grid, z, bbox, margin=0)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            yield x, y
