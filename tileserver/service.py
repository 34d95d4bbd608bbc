"""The MapProxy WSGI application built from the generated YAML, reloaded when the YAML changes (every
gunicorn worker checks its mtime per request, so a registry change in any process reaches all of them)."""

from __future__ import annotations

import os
import threading
from typing import Any

from .paths import config_paths

_lock = threading.Lock()
_apps: dict[str, tuple[float, Any]] = {}


_yaml_of: tuple[object, str] | None = None


def current_yaml_mtime() -> float:
    """mtime of the generated MapProxy YAML (0.0 when missing). Several times per tile request: the path string
    is kept per ConfigPaths (memoised by paths.config_paths), so only the stat remains."""
    global _yaml_of
    paths = config_paths()
    known = _yaml_of
    if known is None or known[0] is not paths:
        known = _yaml_of = (paths, str(paths.mapproxy_yaml))
    try:
        return os.stat(known[1]).st_mtime
    except OSError:
        return 0.0


class ConfigurationMissing(RuntimeError):
    """`citygis generate_mapconfig` has not been run yet."""


def _ensure_mapserver_env() -> None:
    # MapProxy hands its own environment to the mapserv it spawns; MapServer 8 needs its config file.
    # Checked per request, not per app build: a process may hold apps for several configurations (tests),
    # and the config's MS_MAP_PATTERN only admits its own mapfile.
    wanted = str(config_paths().mapserver_config)
    if os.environ.get("MAPSERVER_CONFIG_FILE") != wanted:
        os.environ["MAPSERVER_CONFIG_FILE"] = wanted


def mapproxy_app():
    """The MapProxy WSGI app for the current configuration (rebuilt when the YAML's mtime changed)."""
    from mapproxy.wsgiapp import make_wsgi_app

    yaml_path = str(config_paths().mapproxy_yaml)
    mtime = current_yaml_mtime()
    if not mtime:
        raise ConfigurationMissing(yaml_path)
    _ensure_mapserver_env()
    cached = _apps.get(yaml_path)
    if cached and cached[0] == mtime:
        return cached[1]
    with _lock:
        cached = _apps.get(yaml_path)
        if cached and cached[0] == mtime:
            return cached[1]
        _ensure_mapserver_env()
        app = make_wsgi_app(yaml_path, reloader=False)
        _apps[yaml_path] = (mtime, app)
        return app


def loaded_configuration():
    """MapProxy's parsed configuration of the current YAML (grids, caches) for seeding and invalidation."""
    from mapproxy.config.loader import load_configuration

    _ensure_mapserver_env()
    return load_configuration(mapproxy_conf=str(config_paths().mapproxy_yaml), ignore_warnings=True)


def call_mapproxy(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run one request through MapProxy; (status code, headers, body)."""
    captured: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda _data: None

    result = mapproxy_app()(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return int(captured["status"].split(" ", 1)[0]), list(captured["headers"]), body
