"""Where the generated configuration and the tile cache live (read from settings at call time, so tests can
point them at a temporary directory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MAPFILE_NAME = "citygis.map"
MAP_ALIAS = "CITYGIS"
MAPSERVER_CONFIG_NAME = "mapserver.conf"
MAPPROXY_YAML_NAME = "mapproxy.yaml"
STAMP_NAME = "generated-for.txt"
COVERAGES_NAME = "coverages.json"


@dataclass(frozen=True)
class ConfigPaths:
    mapfile_dir: Path
    mapproxy_dir: Path
    cache_dir: Path

    @property
    def mapfile(self) -> Path:
        return self.mapfile_dir / MAPFILE_NAME

    @property
    def mapserver_config(self) -> Path:
        return self.mapfile_dir / MAPSERVER_CONFIG_NAME

    @property
    def mapproxy_yaml(self) -> Path:
        return self.mapproxy_dir / MAPPROXY_YAML_NAME

    @property
    def stamp(self) -> Path:
        """Records the database the configuration was generated for (guards automatic regeneration)."""
        return self.mapproxy_dir / STAMP_NAME

    @property
    def coverages(self) -> Path:
        """The advertised extent of each layer as generated (see generate.coverages)."""
        return self.mapproxy_dir / COVERAGES_NAME


_resolved: dict[tuple, ConfigPaths] = {}


def config_paths() -> ConfigPaths:
    """The configured directories (settings.CITYGIS_MAPFILE_DIR, …_MAPPROXY_DIR, …_TILE_CACHE_DIR).

    Called on every tile request: resolving paths costs more than serving a cached tile, so it is memoised
    by the (changeable, e.g. in tests) settings values.
    """
    # Read from the wrapped settings object: three reads through the LazySettings proxy cost more than the
    # lookup itself (a tile hit calls this several times). Overrides and assignments change the wrapped object.
    current = settings._wrapped if settings.configured else settings
    key = (current.CITYGIS_MAPFILE_DIR, current.CITYGIS_MAPPROXY_DIR, current.CITYGIS_TILE_CACHE_DIR)
    paths = _resolved.get(key)
    if paths is None:
        paths = _resolved[key] = ConfigPaths(*(Path(p).resolve() for p in key))
    return paths
