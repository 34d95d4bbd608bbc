"""Who may see and who may write a layer — the one policy behind the catalog API, import/export, the admin and
the tileserver.

Read: public layers for everyone (anonymous included); internal layers for any authenticated user;
restricted layers for the owner department, departments granted in `readers`, and admins/leaders.
On top of the classification, a *domain* (cases, evaluation, …) may register a read policy for the layers
whose name starts with a prefix (`register_read_policy`): the domain's own visibility rule then decides
who reads its layers, on every path. The registry never imports a domain: each app's `maplayers` module
registers its policy and is discovered the way the admin discovers `admin` modules.

A domain policy answers FULL (every row), PARTIAL (only rows matched by its row filter — REST features only;
the OGC services and export, which cannot filter rows, refuse) or NONE.

Write: admins, and data stewards of the owner department only. Publishing into the base-map theme is an
explicit right (`may_publish_to_theme`): admins and users of CITYGIS_BASEMAP_DEPARTMENTS.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet

from city_gis.accounts.models import Role

from .models import Classification, Layer, Theme

RESTRICTED_READER_ROLES = (Role.ADMIN, Role.LEADER_VIEW)


class Access(enum.Enum):
    """How much of a layer a domain policy lets a user read."""

    NONE = "none"
    PARTIAL = "partial"  # only the rows of its row filter
    FULL = "full"


# A row filter: (SQL condition on the layer's source table, parameters), or None for "no restriction".
RowFilter = tuple[str, list]


@dataclass(frozen=True)
class ReadPolicy:
    """A domain's read rule for the layers named `prefix…`."""

    prefix: str
    access: Callable[[object], Access]
    row_filter: Callable[[object, Layer], RowFilter | None] | None = None


_policies: dict[str, ReadPolicy] = {}
_discovered = False
_discover_lock = threading.Lock()


def register_read_policy(prefix: str, access: Callable[[object], Access],
                         row_filter: Callable[[object, Layer], RowFilter | None] | None = None) -> None:
    """Let a domain decide who reads the layers whose names start with `prefix` (e.g. "cases.").

    `access(user)` returns an Access; for PARTIAL, `row_filter(user, layer)` gives the SQL condition selecting
    the rows the user may see. Registering the same prefix again replaces the policy (module reloads).
    """
    _policies[prefix] = ReadPolicy(prefix, access, row_filter)


def read_policies() -> list[ReadPolicy]:
    """The registered domain policies (discovering every installed app's `maplayers` module once)."""
    global _discovered
    if not _discovered:
        with _discover_lock:
            if not _discovered:
                from django.utils.module_loading import autodiscover_modules

                autodiscover_modules("maplayers")
                _discovered = True
    return list(_policies.values())


def _policy_for(name: str) -> ReadPolicy | None:
    return next((p for p in read_policies() if name.startswith(p.prefix)), None)


def _is_authenticated(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def _classification_visible(user) -> QuerySet[Layer]:
    qs = Layer.objects.all()
    if not _is_authenticated(user):
        return qs.filter(classification=Classification.PUBLIC)
    if user.has_role(*RESTRICTED_READER_ROLES):
        return qs
    dept = user.department_id
    return qs.filter(
        ~Q(classification=Classification.RESTRICTED) | Q(owner_id=dept) | Q(readers__id=dept)
    ).distinct()


def visible_layers(user, *, partial: bool = False) -> QuerySet[Layer]:
    """Layers `user` (possibly anonymous) may read entirely — what the OGC services and export serve.

    With `partial`, also the domain layers the user may read only row-filtered (the REST features API, which
    applies `row_filter`).
    """
    qs = _classification_visible(user).filter(retired_at__isnull=True)  # retired layers leave every service
    allowed = (Access.FULL, Access.PARTIAL) if partial else (Access.FULL,)
    for policy in read_policies():
        if policy.access(user) not in allowed:
            qs = qs.exclude(name__startswith=policy.prefix)
    return qs


def _classification_allows(user, layer: Layer) -> bool:
    if layer.classification == Classification.PUBLIC:
        return True
    if not _is_authenticated(user):
        return False
    if layer.classification == Classification.INTERNAL or user.has_role(*RESTRICTED_READER_ROLES):
        return True
    return layer.owner_id == user.department_id or layer.readers.filter(id=user.department_id).exists()


def read_access(user, layer: Layer) -> Access:
    """FULL, PARTIAL (rows of `row_filter` only) or NONE for `user` on `layer`."""
    if not _classification_allows(user, layer):
        return Access.NONE
    policy = _policy_for(layer.name)
    return Access.FULL if policy is None else policy.access(user)


def in_services(user, layer: Layer, *, partial: bool = False) -> bool:
    """True when `layer` is one of `visible_layers(user, partial=partial)`: the same rule for one layer already
    at hand, without a query (a request naming one collection)."""
    if layer.retired_at is not None:
        return False
    return read_access(user, layer) in ((Access.FULL, Access.PARTIAL) if partial else (Access.FULL,))


def can_read(user, layer: Layer) -> bool:
    """True when `user` may read all of `layer` (every path: features, export, WMS, tiles, legend)."""
    return read_access(user, layer) is Access.FULL


def row_filter(user, layer: Layer) -> RowFilter | None:
    """The SQL condition limiting `layer`'s rows for `user` (None: no limit). Only meaningful when
    read_access is PARTIAL; a PARTIAL policy without a row filter shows no rows at all."""
    policy = _policy_for(layer.name)
    if policy is None or read_access(user, layer) is not Access.PARTIAL:
        return None
    if policy.row_filter is None:
        return ("FALSE", [])
    return policy.row_filter(user, layer) or ("FALSE", [])


# ------------------------------------------------------------------------------------------------ writing


def is_admin(user) -> bool:
    """Admins (role or superuser) may write every layer and publish into every theme."""
    return _is_authenticated(user) and user.is_admin


def can_write(user, layer: Layer) -> bool:
    """True when `user` may change `layer`'s features: admins, or data stewards of the owner department."""
    if not _is_authenticated(user):
        return False
    if is_admin(user):
        return True
    return Role.DATA_STEWARD in user.roles and user.department_id == layer.owner_id


def writable_layers(user) -> QuerySet[Layer]:
    """The layers `user` may write (same rule as can_write, as a queryset for forms and lists)."""
    if not _is_authenticated(user):
        return Layer.objects.none()
    if is_admin(user):
        return Layer.objects.all()
    if Role.DATA_STEWARD not in user.roles or not user.department_id:
        return Layer.objects.none()
    return Layer.objects.filter(owner_id=user.department_id)


def basemap_departments() -> frozenset[str]:
    """Department codes whose users may publish into the base-map theme (CITYGIS_BASEMAP_DEPARTMENTS)."""
    return frozenset(settings.CITYGIS_BASEMAP_DEPARTMENTS)


def may_publish_to_theme(user, theme: str) -> bool:
    """True when `user` may create (or move) a layer in `theme`.

    The base theme is drawn into the shared base map (`base.basemap`) for everyone, so only admins and users
    of CITYGIS_BASEMAP_DEPARTMENTS publish there; every other theme is open to whoever may create layers.
    """
    if theme != Theme.BASE:
        return True
    if is_admin(user):
        return True
    dept = getattr(user, "department", None) if _is_authenticated(user) else None
    return dept is not None and dept.code in basemap_departments()


def may_create_layer(user, department: str, theme: str) -> bool:
    """True when `user` may create a layer owned by department code `department` in `theme`: admins for any
    department, data stewards for their own — and, for the base theme, only as may_publish_to_theme allows."""
    if not _is_authenticated(user):
        return False
    if not may_publish_to_theme(user, theme):
        return False
    if theme == Theme.BASE and department not in basemap_departments():
        return False  # the base map composes only layers its departments own (tileserver.mapproxy_conf.in_basemap)
    if is_admin(user):
        return True
    dept = user.department
    return Role.DATA_STEWARD in user.roles and dept is not None and dept.code == department
