"""Every node's configuration follows the registry in the database (issue 14, item 1): a layer registered through
one node appears in another node's capabilities without a restart or a shared disk; checks are rate-limited and
never act on uncommitted rows."""

from __future__ import annotations

import pytest
from django.db import connection

from tileserver import freshness
from tileserver.generate import generate_all
from tileserver.paths import config_paths

pytestmark = pytest.mark.django_db


@pytest.fixture
def node_two(settings, tile_data, tmp_path):
    """A second node: its own generated configuration (from the same database) in its own directory."""
    node_one = (settings.CITYGIS_MAPFILE_DIR, settings.CITYGIS_MAPPROXY_DIR, settings.CITYGIS_TILE_CACHE_DIR)
    settings.CITYGIS_MAPFILE_DIR = tmp_path / "mapserver"
    settings.CITYGIS_MAPPROXY_DIR = tmp_path / "mapproxy"
    settings.CITYGIS_TILE_CACHE_DIR = tmp_path / "tilecache"
    paths = generate_all()
    settings.CITYGIS_MAPFILE_DIR, settings.CITYGIS_MAPPROXY_DIR, settings.CITYGIS_TILE_CACHE_DIR = node_one
    return paths


def test_generation_records_the_registry_it_was_built_from(tile_data):
    assert freshness.stored_fingerprint(config_paths()) == freshness.registry_fingerprint()


def test_a_layer_registered_through_another_node_reaches_this_one(node_two, tile_data):
    from layers.models import Layer

    assert not freshness.regenerate_if_stale(node_two)  # current: nothing to do
    layer = Layer.objects.get(name="land.test_parcels")
    layer.title_zh = "测试宗地（改）"
    layer.save()  # node one's signal regenerates node one; node two only has the database
    assert freshness.stored_fingerprint(node_two) != freshness.registry_fingerprint()
    assert freshness.regenerate_if_stale(node_two)
    assert "测试宗地（改）" in node_two.mapfile.read_text(encoding="utf-8")
    assert not freshness.regenerate_if_stale(node_two)


def test_a_deleted_layer_changes_the_fingerprint(tile_data):
    from layers.models import Layer

    before = freshness.registry_fingerprint()
    Layer.objects.filter(name="land.test_restricted").delete()
    assert freshness.registry_fingerprint() != before


def test_the_check_runs_at_most_once_per_interval_and_never_in_a_transaction(settings, monkeypatch):
    calls = []
    monkeypatch.setattr(freshness, "regenerate_if_stale", lambda paths=None: calls.append(1) or False)
    monkeypatch.setitem(freshness._checked, "at", None)
    settings.CITYGIS_CONFIG_CHECK_SECONDS = 3600
    assert connection.in_atomic_block  # the test's own transaction
    freshness.ensure_current()
    assert calls == []
    monkeypatch.setattr(type(connection), "in_atomic_block", False, raising=False)
    freshness.ensure_current()
    freshness.ensure_current()
    assert calls == [1]
