"""What every bench shares: Django set-up in the bench process and free local ports for the servers it starts."""

from __future__ import annotations

import os
import socket


def setup_django() -> None:
    """Configure Django with the project settings (the `citygis` database unless DATABASE_URL says otherwise)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "city_gis.settings")
    import django

    django.setup()


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (benches never listen elsewhere)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
