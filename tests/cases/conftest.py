import pytest
from django.contrib.gis.geos import Point


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Test users need no strong hashing (keeps the suite fast)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_stage_limits():
    """Stage limits are cached per process; a test that reloads them must not leak into the next."""
    from city_gis.cases import deadlines

    deadlines.clear_cache()
    yield
    deadlines.clear_cache()


@pytest.fixture
def tiny_city(db):
    from tests.grid import tiny_city

    return tiny_city.build()


@pytest.fixture
def staff(user_factory):
    """One user per workflow role (handlers of sanitation and of municipal)."""
    return {
        "inspector": user_factory("t_inspector", roles=["inspector"]),
        "inspector2": user_factory("t_inspector2", roles=["inspector"]),
        "operator": user_factory("t_operator", roles=["operator"]),
        "leader": user_factory("t_leader", roles=["leader"]),
        "dispatcher": user_factory("t_dispatcher", roles=["dispatcher"]),
        "handler": user_factory("t_sanitation", roles=["handler"], department="sanitation"),
        "other_handler": user_factory("t_municipal", roles=["handler"], department="municipal"),
        "viewer": user_factory("t_viewer", roles=["leader_view"]),
    }


@pytest.fixture
def new_case(tiny_city, staff):
    """make a case in the tiny city: new_case(source="inspector", category="0102", cell=0, at=None)."""
    from city_gis.cases.services import create_case
    from tests.grid.tiny_city import inside

    def make(source="inspector", category="0102", cell=0, at=None, reporter=None, offset=(0.0, 0.0), **kw):
        lon, lat = inside(cell)
        if reporter is None:
            reporter = staff["inspector"] if source in ("inspector", "self_handled") else (
                staff["operator"] if source == "hotline" else None)
        return create_case(source=source, category_code=category, location=Point(lon + offset[0], lat + offset[1], srid=4490),
                           description="测试问题", reporter=reporter, at=at, **kw)

    return make
