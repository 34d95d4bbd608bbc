"""Fixtures of the field API tests: API clients per demo role, JPEG builders."""

from __future__ import annotations

import io

import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Rate-limit counters live in the cache: start every test with none (all tests come from 127.0.0.1)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_as(db):
    """client_as("inspector1") → an APIClient authenticated with that demo user's token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from city_gis.accounts.models import User

    def make(username: str | None) -> APIClient:
        c = APIClient()
        if username:
            token, _ = Token.objects.get_or_create(user=User.objects.get(username=username))
            c.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return c

    return make


def make_jpeg(*, size=(64, 48), gps: tuple[float, float] | None = None, taken: str | None = None, color="red") -> bytes:
    """A JPEG; with gps=(lon, lat) and/or taken="YYYY:MM:DD HH:MM:SS" written into its EXIF."""
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x0110] = "CityGIS test phone"
    if gps:
        lon, lat = gps

        def dms(v: float):
            d = int(v)
            m = int((v - d) * 60)
            return (float(d), float(m), round(((v - d) * 60 - m) * 60, 4))

        exif[0x8825] = {1: "N", 2: dms(lat), 3: "E", 4: dms(lon)}
    if taken:
        exif.get_ifd(0x8769)[36867] = taken
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


@pytest.fixture
def jpeg():
    return make_jpeg


# A spot in Liupanshui west of the demo grid (no overlap with it), used when the demo gives inspector1 no cell.
FALLBACK_ORIGIN = (104.700, 26.500)
FALLBACK_CELL = 0.001  # degrees (~100 m): two 100 m cells side by side


def _square(x0: float, y0: float, size: float):
    from django.contrib.gis.geos import Polygon

    return Polygon(((x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size), (x0, y0)), srid=4490)


@pytest.fixture(scope="session")
def field_area(django_db_setup, django_db_blocker):
    """A current cell (committed) whose responsible inspector is inspector1, and a point inside it.

    Uses the demo grid when it exists; otherwise builds a tiny synthetic area (removed after the session),
    so these tests do not depend on the order in which the demo's steps land.
    """
    import datetime as dt

    from django.contrib.gis.geos import MultiPolygon

    from city_gis.accounts.models import User
    from city_gis.grid.models import Cell, Community, District, ResponsibilityArea, Street

    created = []
    with django_db_blocker.unblock():
        inspector = User.objects.get(username="inspector1")
        cell = Cell.objects.filter(valid_to__isnull=True, responsibility_areas__inspector=inspector).first()
        if cell is None:
            x, y = FALLBACK_ORIGIN
            box = MultiPolygon(_square(x, y, FALLBACK_CELL * 2), srid=4490)
            district = District.objects.create(code="529901", name="测试区", synthetic=True, geom=box)
            street = Street.objects.create(code="529901001", name="测试街道", synthetic=True, geom=box, district=district)
            community = Community.objects.create(code="529901001001", name="测试社区", synthetic=True, geom=box, street=street)
            cells = [
                Cell.objects.create(code=f"52990100100{i + 1}", community=community, area_m2=10000.0,
                                    valid_from=dt.date(2026, 1, 1), geom=_square(x + i * FALLBACK_CELL, y, FALLBACK_CELL))
                for i in range(2)
            ]
            area = ResponsibilityArea.objects.create(name="测试责任网格", inspector=inspector)
            area.cells.set(cells)
            cell = cells[0]
            created = [area, *cells, community, street, district]
        centre = cell.geom.point_on_surface
        other = (Cell.objects.filter(valid_to__isnull=True, responsibility_areas__inspector=inspector)
                 .exclude(pk=cell.pk).first())
        far = other.geom.point_on_surface
    yield {"cell": cell, "lon": centre.x, "lat": centre.y, "inspector": "inspector1",
           "other_cell": other, "other_lon": far.x, "other_lat": far.y}
    if created:  # only the synthetic area and its cases; the demo's data stays as it was
        with django_db_blocker.unblock():
            purge_cases(cell__community__street__district__code="529901")
            for obj in created:
                obj.delete()


def purge_cases(**filters) -> None:
    """Delete committed test cases matching `filters` and their receipts (history is append-only: purge under
    the trigger's documented flag)."""
    from django.db import connection, transaction

    from city_gis.cases.models import Case
    from field_app_api.models import Open311Submission, ReportReceipt

    with transaction.atomic():
        ids = list(Case.objects.filter(**filters).values_list("pk", flat=True))
        if not ids:
            return
        with connection.cursor() as cur:
            cur.execute("SET LOCAL citygis.allow_history_purge = 'on'")
        ReportReceipt.objects.filter(case_id__in=ids).delete()
        Open311Submission.objects.filter(case_id__in=ids).delete()
        Case.objects.filter(merged_into__in=ids).update(merged_into=None)
        Case.objects.filter(pk__in=ids).delete()
