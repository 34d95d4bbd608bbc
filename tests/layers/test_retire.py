"""Retiring a layer (DELETE /api/v1/layers/{name}/): it leaves WMS and the REST catalogue at once, the tileserver
regenerates after the commit, and its history stays readable for those who may write it."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from layers.models import Layer
from layers.versions import apply_edits
from tests.tileserver.conftest import tile_data, tile_settings, tiles_var  # noqa: F401  (committed WMS fixtures)

pytestmark = pytest.mark.django_db


def capabilities(client, username: str, password: str) -> str:
    auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    response = client.get("/ows", {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"},
                          HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    return response.content.decode()


def test_a_retired_layer_leaves_the_services_and_keeps_its_history(tile_data, client, demo_password,  # noqa: F811
                                                                   django_capture_on_commit_callbacks):
    from city_gis.accounts.models import User
    from tileserver.auth import registry_version

    layer = Layer.objects.get(name="land.test_parcels")
    apply_edits(layer, None, [{"op": "update", "id": tile_data["public"].pk, "properties": {"name": "改名"}}])
    assert "land.test_parcels" in capabilities(client, "admin", demo_password)
    steward, planner = APIClient(), APIClient()
    steward.force_authenticate(User.objects.get(username="tiles_land"))
    planner.force_authenticate(User.objects.get(username="tiles_planner"))
    assert planner.delete("/api/v1/layers/land.test_parcels/").status_code == 403  # not the owner department
    before = registry_version()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert steward.delete("/api/v1/layers/land.test_parcels/").status_code == 204
    assert callbacks and registry_version() != before  # the configuration was regenerated
    assert Layer.objects.get(name="land.test_parcels").retired_at is not None
    assert "land.test_parcels" not in capabilities(client, "admin", demo_password)
    admin = APIClient()
    admin.force_authenticate(User.objects.get(username="admin"))
    assert "land.test_parcels" not in {entry["name"] for entry in admin.get("/api/v1/layers/").json()}
    assert admin.get("/api/v1/layers/land.test_parcels/").status_code == 404
    assert admin.get("/api/v1/layers/land.test_parcels/features/").status_code == 404
    # the history stays: for the admin and the owner's steward, not for other readers
    versions = admin.get("/api/v1/layers/land.test_parcels/versions/").json()
    assert [(v["number"], v["kind"]) for v in versions["results"]] == [(2, "edit"), (1, "baseline")]
    assert steward.get("/api/v1/layers/land.test_parcels/versions/1/").status_code == 200
    assert planner.get("/api/v1/layers/land.test_parcels/versions/").status_code == 404
