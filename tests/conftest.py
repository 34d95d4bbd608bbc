"""Suite-wide fixtures: the test database holds a small, committed Liupanshui demo city.

The demo is committed (not inside a test transaction) so out-of-process readers — MapServer, MapProxy,
the browser through the live server — see it. Tests still run in transactions rolled back after each.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("CITYGIS_DEMO_PASSWORD", "Citygis-Demo-2026")
TEST_HISTORY_DAYS = int(os.environ.get("CITYGIS_TEST_HISTORY_DAYS", "4"))
TEST_CASES_PER_DAY = int(os.environ.get("CITYGIS_TEST_CASES_PER_DAY", "40"))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Create the test database (migrations) and build the demo city in it once per session."""
    from django.core.management import call_command
    from django.db import connection

    with django_db_blocker.unblock():
        # Never build into (or clean up) a real database: only pytest-django's test database qualifies.
        name = connection.settings_dict["NAME"]
        if not name.startswith("test_"):
            pytest.exit(f"refusing to load the demo into non-test database {name!r}", returncode=3)
        call_command(
            "load_demo", "--history-days", str(TEST_HISTORY_DAYS), "--cases-per-day", str(TEST_CASES_PER_DAY), "--quiet"
        )


@pytest.fixture
def demo_password() -> str:
    """Password of every demo account in the test run."""
    return os.environ["CITYGIS_DEMO_PASSWORD"]


@pytest.fixture
def user_factory(db):
    """Make a user: user_factory("bob", roles=["inspector"], department="urban")."""
    from city_gis.accounts.models import Department, User

    def make(username: str, *, roles=(), department: str | None = "urban", password: str = "S3cret-pass-x") -> User:
        dept = Department.objects.get(code=department) if department else None
        user = User.objects.create_user(username=username, password=password, department=dept, roles=list(roles))
        return user

    return make


@pytest.fixture
def reported_case(db):
    """An inspector's report (state `reported`) in the demo city, which the demo operator may accept.

    Made by the test (rolled back after it): which states the small demo history leaves open depends on the
    day and hour it was built, so no test relies on finding one.
    """
    from django.contrib.gis.geos import Point

    from city_gis.accounts.models import User
    from city_gis.cases.services import create_case
    from city_gis.grid.models import Cell

    spot = Cell.objects.filter(valid_to__isnull=True).order_by("code").first().geom.point_on_surface
    case = create_case(source="inspector", category_code="0201", location=Point(spot.x, spot.y, srid=4490),
                       description="监督员上报：人行道上堆放杂物", reporter=User.objects.get(username="inspector1"))
    assert case.state == "reported"
    return case
