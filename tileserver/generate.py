"""Writing the generated configuration: mapfile, MapServer config file, fontset, HTML templates, MapProxy YAML.

Files are written atomically (temp file + rename), the MapProxy YAML last: serving processes reload when its
mtime changes, and by then everything it refers to is in place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml
from django.conf import settings
from django.db import connection

from .mapfile import build_mapfile, build_mapserver_config, fontset
from .mapproxy_conf import build_mapproxy_conf
from .paths import ConfigPaths, config_paths
from .specs import all_layer_specs


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def database_label() -> str:
    """The database this process talks to (the test database under pytest)."""
    return str(connection.settings_dict["NAME"])


def generate_all(paths: ConfigPaths | None = None) -> ConfigPaths:
    """Regenerate every configuration file from the registry; returns the paths written. Idempotent."""
    paths = paths or config_paths()
    specs = all_layer_specs()
    mapfile, templates = build_mapfile(specs, paths, connection.settings_dict)
    for name, text in templates.items():
        write_atomic(paths.mapfile_dir / "templates" / name, text)
    write_atomic(paths.mapfile_dir / "fonts.list", fontset())
    write_atomic(paths.mapserver_config, build_mapserver_config(paths))
    # The mapfile holds the database password (when there is one): owner and group only.
    write_atomic(paths.mapfile, mapfile, mode=0o640)
    paths.cache_dir.mkdir(parents=True, exist_ok=True)
    conf = build_mapproxy_conf(specs, paths, demo=not getattr(settings, "PRODUCTION", False))
    write_atomic(paths.stamp, database_label() + "\n")
    write_atomic(paths.mapproxy_yaml, yaml.safe_dump(conf, allow_unicode=True, sort_keys=False))
    return paths


def generated_for_this_database(paths: ConfigPaths | None = None) -> bool:
    """True when the configuration in `paths` exists and was generated for the current database.

    Automatic regeneration and cache invalidation only act then, so a test run (other database) never
    rewrites the served configuration nor deletes its tiles.
    """
    paths = paths or config_paths()
    try:
        return paths.stamp.read_text(encoding="utf-8").strip() == database_label()
    except OSError:
        return False
