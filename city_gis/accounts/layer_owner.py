"""Who owns the domain's own map layers (cases.*, grid.*, evaluation.*), and registering them after migrate.

The owner is the department coded `settings.CITYGIS_DOMAIN_LAYER_OWNER`. Departments are the operator's data
(loaded after the first migrate, or by the demo's accounts step), so a missing department is not invented:
registration creates nothing, logs why, and runs again on the next `migrate` or `citygis register_domain_layers`.
Each domain AppConfig offers `register_domain_layers(owner) -> list[str]`; this module only calls it, so the
accounts base imports no other app.
"""

from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from .models import Department

logger = logging.getLogger(__name__)
_warned: set[str] = set()  # one warning per missing code and process (migrate asks once per app)


def domain_layer_owner() -> Department | None:
    """The department owning the domain layers, or None (logged) when no department has that code."""
    code = settings.CITYGIS_DOMAIN_LAYER_OWNER
    owner = Department.objects.filter(code=code).first() if code else None
    if owner is None and code not in _warned:
        _warned.add(code)
        logger.warning("domain layers not registered: no department with code %r (CITYGIS_DOMAIN_LAYER_OWNER); "
                       "load the departments, then run `citygis register_domain_layers`", code)
    return owner


def register_domain_layers(app_configs: list[AppConfig]) -> dict[str, list[str]]:
    """Let every app of `app_configs` that offers `register_domain_layers` register its layers.

    Returns {app label: [layer names]}; {} when the owner department is missing (nothing created).
    """
    registering = [cfg for cfg in app_configs if callable(getattr(cfg, "register_domain_layers", None))]
    if not registering:
        return {}
    owner = domain_layer_owner()
    if owner is None:
        return {}
    return {cfg.label: cfg.register_domain_layers(owner) for cfg in registering}


def _tables_ready(using: str) -> bool:
    # After `migrate <app> zero` (or before layers is migrated) there is nothing to register into.
    tables = set(connections[using].introspection.table_names())
    return {"layers_layer", Department._meta.db_table} <= tables


def register_after_migrate(sender: AppConfig, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver (connected per app with sender=the app): register that app's domain layers."""
    if using != DEFAULT_DB_ALIAS or not _tables_ready(using):
        return
    registered = register_domain_layers([sender])
    if registered and kwargs.get("verbosity", 1) >= 2:
        print(f"  domain layers of {sender.label}: {', '.join(registered[sender.label])}")
