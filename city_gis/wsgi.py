"""WSGI entry point: Django, with the OGC/tile services (MapProxy) mounted by the tileserver app."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "city_gis.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

django_application = get_wsgi_application()

from tileserver.wsgi import mount_ogc_services  # noqa: E402

application = mount_ogc_services(django_application)
