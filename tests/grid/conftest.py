import pytest


@pytest.fixture
def tiny_city(db):
    from tests.grid import tiny_city

    return tiny_city.build()
