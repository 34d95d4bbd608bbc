"""Settings in one place: city_gis/settings.py reads the environment; the domain modules read
django.conf.settings at call time (so the `settings` fixture changes them), and docs/deployment.md lists each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from city_gis.cases import calendar, services
from city_gis.evaluation import config as evaluation_config

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["city_gis/cases/services.py", "city_gis/cases/calendar.py", "city_gis/evaluation/config.py",
           "field_app_api/photos.py", "city_gis/grid/geocode.py", "city_gis/grid/validation.py"]
SETTINGS = ["CITYGIS_WORKING_HOURS", "CITYGIS_DUPLICATE_RADIUS_M", "CITYGIS_DUPLICATE_WINDOW_HOURS",
            "CITYGIS_ADDRESS_ROAD_RADIUS_M", "CITYGIS_CELL_SEQ_WIDTH", "CITYGIS_EVALUATION_CONFIG",
            "CITYGIS_PHOTO_MAX_BYTES", "CITYGIS_PHOTO_MAX_COUNT", "CITYGIS_PHOTO_MAX_PIXELS"]


@pytest.mark.parametrize("path", MODULES)
def test_domain_modules_do_not_read_the_environment(path):
    source = (ROOT / path).read_text(encoding="utf-8")
    assert "os.environ" not in source and "getenv" not in source


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_has_a_default_and_a_row_in_the_deployment_table(name):
    assert hasattr(django_settings, name)
    rows = [line for line in (ROOT / "docs/deployment.md").read_text(encoding="utf-8").splitlines()
            if line.startswith(f"| `{name}` |")]
    assert len(rows) == 1, name


def test_the_defaults_are_the_documented_ones():
    assert calendar.day_minutes() == 420  # 08:30-12:00 + 14:00-17:30
    assert services.duplicate_radius_m() == 50.0
    assert services.duplicate_window() == dt.timedelta(hours=72)
    assert evaluation_config.config_path() == evaluation_config.DEFAULT_PATH


def test_the_modules_follow_a_changed_setting_at_call_time(settings, tmp_path):
    settings.CITYGIS_DUPLICATE_RADIUS_M = 5
    settings.CITYGIS_DUPLICATE_WINDOW_HOURS = 1.5
    settings.CITYGIS_WORKING_HOURS = "09:00-10:00"
    settings.CITYGIS_EVALUATION_CONFIG = str(tmp_path / "city.yaml")
    assert services.duplicate_radius_m() == 5.0
    assert services.duplicate_window() == dt.timedelta(minutes=90)
    assert calendar.day_minutes() == 60
    assert evaluation_config.config_path() == tmp_path / "city.yaml"
