"""The `citygis` command: Django's manage.py with CityGIS settings preselected."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run a Django management command (`citygis load_demo`, `citygis import_layer …`)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "city_gis.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
