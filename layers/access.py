"""Who may see and who may write a layer — enforced by the catalog API, import/export and the tileserver.

Read: public layers for everyone (anonymous included); internal layers for any authenticated user;
restricted layers for the owner department, departments granted in `readers`, and admins/leaders.
Write: admins, and data stewards of the owner department only.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from city_gis.accounts.models import Role

from .models import Classification, Layer

RESTRICTED_READER_ROLES = (Role.ADMIN, Role.LEADER_VIEW)


def visible_layers(user) -> QuerySet[Layer]:
    """Layers `user` (possibly anonymous) may see."""
    qs = Layer.objects.all()
    if user is None or not user.is_authenticated:
        return qs.filter(classification=Classification.PUBLIC)
    if user.has_role(*RESTRICTED_READER_ROLES):
        return qs
    dept = user.department_id
    return qs.filter(
        ~Q(classification=Classification.RESTRICTED) | Q(owner_id=dept) | Q(readers__id=dept)
    ).distinct()


def can_read(user, layer: Layer) -> bool:
    """True when `user` may see `layer`."""
    if layer.classification == Classification.PUBLIC:
        return True
    if user is None or not user.is_authenticated:
        return False
    if layer.classification == Classification.INTERNAL or user.has_role(*RESTRICTED_READER_ROLES):
        return True
    return layer.owner_id == user.department_id or layer.readers.filter(id=user.department_id).exists()


def can_write(user, layer: Layer) -> bool:
    """True when `user` may change `layer`'s features: admins, or data stewards of the owner department."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or Role.ADMIN in user.roles:
        return True
    return Role.DATA_STEWARD in user.roles and user.department_id == layer.owner_id
