"""`citygis generate_mapconfig`: write the mapfile, MapServer config and MapProxy YAML from the registry."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tileserver.generate import generate_all
from tileserver.specs import all_layer_specs


class Command(BaseCommand):
    help = "从图层注册表生成 MapServer mapfile 与 MapProxy 配置（幂等）"

    def handle(self, *args, **options) -> None:
        paths = generate_all()
        count = len(all_layer_specs())
        self.stdout.write(f"{count} layers → {paths.mapfile}, {paths.mapserver_config}, {paths.mapproxy_yaml}")
