"""`citygis generate_mapconfig`: write the mapfile, MapServer config and MapProxy YAML from the registry."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from layers.access import basemap_departments
from tileserver.generate import generate_all
from tileserver.mapproxy_conf import in_basemap
from tileserver.specs import all_layer_specs


class Command(BaseCommand):
    help = "从图层注册表生成 MapServer mapfile 与 MapProxy 配置（幂等）"

    def handle(self, *args, **options) -> None:
        paths = generate_all()
        specs = all_layer_specs()
        self.stdout.write(f"{len(specs)} layers → {paths.mapfile}, {paths.mapserver_config}, {paths.mapproxy_yaml}")
        # Which base layers everyone sees in base.basemap, and why others are not in it.
        base = [s.name for s in specs if in_basemap(s)]
        left_out = [s.name for s in specs if s.theme == "base" and s.kind == "vector" and s.name not in base]
        depts = ",".join(sorted(basemap_departments())) or "-"
        self.stdout.write(f"base.basemap ({depts}): {', '.join(base) or '-'}")
        if left_out:
            self.stdout.write(f"base layers not in base.basemap (not public or not a base-map department): "
                              f"{', '.join(left_out)}")
