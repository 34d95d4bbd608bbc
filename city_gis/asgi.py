"""ASGI entry point (Django only; OGC services are served through WSGI)."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "city_gis.settings")
application = get_asgi_application()
