#!/usr/bin/env python
"""Django's manage.py; the same as the installed `citygis` command."""
from city_gis.cli import main

if __name__ == "__main__":
    main()
