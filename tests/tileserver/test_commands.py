"""`citygis generate_mapconfig` and `citygis seed_tiles`."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from .conftest import PARCEL_BBOX

pytestmark = pytest.mark.django_db


def test_generate_mapconfig_is_idempotent(tile_data, capsys):
    paths = tile_data["paths"]
    before = paths.mapfile.read_text(), paths.mapproxy_yaml.read_text()
    call_command("generate_mapconfig")
    assert (paths.mapfile.read_text(), paths.mapproxy_yaml.read_text()) == before
    assert "mapproxy.yaml" in capsys.readouterr().out


def test_seed_tiles_renders_the_requested_tiles_into_the_cache(tile_data):
    bbox = ",".join(map(str, PARCEL_BBOX))
    call_command("seed_tiles", "--layers", "land.test_parcels", "--levels", "12-13", "--bbox", bbox, "--quiet")
    root = tile_data["paths"].cache_dir / "land.test_parcels"
    for grid in ("webmercator", "cgcs2000"):
        assert list((root / grid / "12").rglob("*.png")) and list((root / grid / "13").rglob("*.png"))


@pytest.mark.parametrize("args,field", [
    (["--levels", "9-x"], "--levels"),
    (["--levels", "15-3"], "--levels"),
    (["--bbox", "1,2,3"], "--bbox"),
    (["--layers", "land.nope"], "--layers"),
    (["--grids", "mercator"], "--grids"),
])
def test_seed_tiles_rejects_bad_arguments_naming_the_option(tile_data, args, field):
    with pytest.raises(CommandError, match=field):
        call_command("seed_tiles", "--quiet", *args)
