"""Fixtures of the operations tests (health, metrics, request ids): a real generated map configuration."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def rendered_config(django_db_setup, django_db_blocker, tmp_path_factory) -> Path:
    """The MapServer/MapProxy configuration generated from the test database into a private directory."""
    from django.test import override_settings

    from tileserver.generate import generate_all

    root = tmp_path_factory.mktemp("ops-var")
    dirs = {"CITYGIS_MAPFILE_DIR": root / "mapserver", "CITYGIS_MAPPROXY_DIR": root / "mapproxy",
            "CITYGIS_TILE_CACHE_DIR": root / "tilecache"}
    with django_db_blocker.unblock(), override_settings(**dirs):
        generate_all()
    return root


@pytest.fixture
def ready_settings(settings, rendered_config):
    """Settings of a node that is ready: generated configuration in place, a private local cache."""
    settings.CITYGIS_MAPFILE_DIR = rendered_config / "mapserver"
    settings.CITYGIS_MAPPROXY_DIR = rendered_config / "mapproxy"
    settings.CITYGIS_TILE_CACHE_DIR = rendered_config / "tilecache"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "citygis-ops-tests"}}
    return settings
