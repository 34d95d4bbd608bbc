"""What every bench shares: Django set-up in the bench process and free local ports for the servers it starts."""

from __future__ import annotations

import os
import socket


def setup_django() -> None:
    """Configure Django with the project settings (the `citygis` database unless DATABASE_URL says otherwise)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "city_gis.settings")
    import django

    django.setup()


def unthrottled_ogc_env(concurrency: int) -> dict[str, str]:
    """Environment for a server the OGC benches load: per-client rates far above any bench's load and a render
    slot for every concurrent client, so the figures measure throughput, not the throttle (tileserver.limits).
    The pixel budget and mapserv timeout stay as configured: the benches ask for small images only."""
    return {
        "CITYGIS_OGC_RATE_ANON": "100000000/min",
        "CITYGIS_OGC_RATE_USER": "100000000/min",
        "CITYGIS_RENDER_CONCURRENCY": str(max(concurrency, int(os.environ.get("CITYGIS_RENDER_CONCURRENCY", 0)))),
    }


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (benches never listen elsewhere)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
