"""Read replica routing: the read-heavy paths (map rendering, features, catalogue) read a streaming standby.

With `DATABASE_REPLICA_URL` set, settings.py adds the database alias `replica` and this router sends the ORM
reads of a request to it while `replica_reads()` is active — around GET/HEAD requests of READ_PATHS (the
middleware below, and tileserver's OGC dispatcher which bypasses Django's middleware). Everything else reads
and writes the primary, and so do, always, the security models (users, tokens, sessions, login lockout):
a token revoked on the primary must not live on in the replica's lag. MapServer reads the replica through
the generated mapfile (`render_database()`). Without a replica nothing changes.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
# Prefixes of the read-heavy, staleness-tolerant paths (a replica lags by milliseconds).
READ_PATHS = ("/ows", "/wmts/", "/tiles/", "/tms/", "/service", "/ogcapi", "/csw", "/api/v1/layers/")
# Apps whose models are always read from the primary (authentication and authorisation state).
PRIMARY_ONLY_APPS = frozenset({"accounts", "auth", "authtoken", "sessions", "axes", "contenttypes"})
_reading = contextvars.ContextVar("citygis_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def render_database() -> str:
    """The alias whose connection settings the generated mapfile uses (MapServer renders from it)."""
    return REPLICA if replica_configured() else "default"


def is_read_path(method: str, path: str) -> bool:
    return method in ("GET", "HEAD") and path.startswith(READ_PATHS)


@contextmanager
def replica_reads() -> Iterator[None]:
    """ORM reads inside this block go to the replica (when one is configured)."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def read_connection() -> Any:
    """The connection for raw-SQL reads (the ORM goes through the router): the replica inside replica_reads()."""
    from django.db import connections

    return connections[REPLICA if _reading.get() and replica_configured() else "default"]


class ReadReplicaRouter:
    """Django database router: replica for reads inside replica_reads(), primary for all else."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if _reading.get() and model._meta.app_label not in PRIMARY_ONLY_APPS and replica_configured():
            return REPLICA
        return None

    def db_for_write(self, model: type, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica is a copy of the primary: rows of either relate

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == "default"  # a standby is read-only; it receives the schema by replication


class ReplicaReadsMiddleware:
    """Wrap GET/HEAD requests of READ_PATHS in replica_reads()."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_read_path(request.method or "", request.path):
            with replica_reads():
                return self.get_response(request)
        return self.get_response(request)
