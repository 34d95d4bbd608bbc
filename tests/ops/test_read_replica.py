"""Read replica routing (issue 14, item 3): with a `replica` database configured, the GET/HEAD requests of the
map, feature and catalogue paths read it, everything else and every security model reads the primary, writes
always go to the primary, and MapServer's generated connection is the replica's."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from city_gis import dbrouting
from city_gis.accounts.models import User
from city_gis.dbrouting import ReadReplicaRouter, ReplicaReadsMiddleware, replica_reads
from layers.models import Layer

router = ReadReplicaRouter()


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr(dbrouting, "replica_configured", lambda: True)


def test_reads_inside_a_read_path_go_to_the_replica(with_replica):
    assert router.db_for_read(Layer) is None  # outside: the primary
    with replica_reads():
        assert router.db_for_read(Layer) == "replica"
        assert router.db_for_write(Layer) == "default"
    assert router.db_for_read(Layer) is None


def test_users_tokens_and_sessions_are_always_read_from_the_primary(with_replica):
    from django.contrib.sessions.models import Session
    from rest_framework.authtoken.models import Token

    with replica_reads():
        for model in (User, Token, Session):
            assert router.db_for_read(model) is None, model


def test_without_a_replica_nothing_changes():
    with replica_reads():
        assert router.db_for_read(Layer) is None
    assert dbrouting.render_database() == "default"
    assert router.allow_migrate("default", "layers") and not router.allow_migrate("replica", "layers")


@pytest.mark.parametrize(("method", "path", "replica"), [
    ("GET", "/ows", True), ("HEAD", "/tiles/land.parcels/webmercator/1/0/0.png", True),
    ("GET", "/ogcapi/collections", True), ("GET", "/csw", True), ("GET", "/api/v1/layers/", True),
    ("POST", "/api/v1/layers/", False), ("GET", "/api/v1/cases/", False), ("GET", "/console/", False),
])
def test_the_middleware_routes_only_reads_of_the_read_paths(with_replica, method, path, replica):
    seen = {}

    def view(request):
        seen["db"] = router.db_for_read(Layer)
        return None

    ReplicaReadsMiddleware(view)(RequestFactory().generic(method, path))
    assert seen["db"] == ("replica" if replica else None)


def test_mapserver_connects_to_the_replica_when_there_is_one(with_replica):
    assert dbrouting.render_database() == "replica"
