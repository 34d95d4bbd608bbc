"""`citygis export_layer NAME --format gpkg|geojson|shp|csv -o FILE [--bbox minx,miny,maxx,maxy]`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from city_gis.accounts.models import User
from layers.access import can_read
from layers.exporter import FORMATS, ExportError, export_layer
from layers.features import QueryError, parse_bbox
from layers.models import Layer


class Command(BaseCommand):
    help = '导出图层要素（GeoPackage、GeoJSON、zip 打包的 Shapefile、CSV），坐标系 EPSG:4490'

    def add_arguments(self, parser):
        parser.add_argument("layer")
        parser.add_argument("--format", choices=list(FORMATS), required=True)
        parser.add_argument("-o", "--output", required=True)
        parser.add_argument("--bbox", help=_('minx,miny,maxx,maxy（经度,纬度，EPSG:4490）'))
        parser.add_argument("--csv-geometry", choices=["auto", "wkt", "lonlat"], default="auto")
        parser.add_argument("--user", help=_('以该用户身份导出（检查读权限）'))
        parser.add_argument("--max-features", type=int, default=None,
                            help=_('单次导出要素上限；默认不限（以 --user 导出时为 CITYGIS_EXPORT_MAX_FEATURES）'))

    def handle(self, *args, **opts):
        layer = Layer.objects.filter(name=opts["layer"]).first()
        if layer is None:
            raise CommandError(_('未知图层：%(value)s') % {'value': opts['layer']})
        if opts["user"]:
            user = User.objects.filter(username=opts["user"]).first()
            if user is None or not can_read(user, layer):
                raise CommandError(_('--user: %(value)s 无权读取 %(layer)s') % {'value': opts['user'], 'layer': layer.name})
        try:
            # the operator's own export streams to a file: no cap unless asked, or when acting as a user
            limit = opts["max_features"] if opts["max_features"] is not None else (None if opts["user"] else 0)
            path = export_layer(layer, opts["format"], opts["output"], bbox=parse_bbox(opts["bbox"], "--bbox"),
                                csv_geometry=opts["csv_geometry"], limit=limit)
        except (ExportError, QueryError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{layer.name} → {path}")
