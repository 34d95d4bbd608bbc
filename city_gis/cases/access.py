"""Who sees which cases: the centre's roles see all, handlers their department's, inspectors their own and their tasks."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from city_gis.accounts.models import Role, User

from .models import Case, CaseHistory

ALL_CASES_ROLES = (Role.OPERATOR, Role.LEADER, Role.DISPATCHER, Role.LEADER_VIEW, Role.ADMIN)


def _active(user) -> bool:
    return bool(user) and user.is_authenticated and user.is_active


def sees_all_cases(user: User) -> bool:
    """True for the centre's roles, who see every case."""
    return _active(user) and user.has_role(*ALL_CASES_ROLES)


def sees_some_cases(user: User) -> bool:
    """True when visible_cases may give `user` any case at all (all of them, or a department's / own)."""
    if not _active(user):
        return False
    return sees_all_cases(user) or (Role.HANDLER in user.roles and bool(user.department_id)) \
        or Role.INSPECTOR in user.roles


def visible_cases(user: User, qs: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """Filter `qs` (default all cases) to what `user` may see."""
    qs = Case.objects.all() if qs is None else qs
    if not _active(user):
        return qs.none()
    if sees_all_cases(user):
        return qs
    cond = Q(pk__in=[])
    if Role.HANDLER in user.roles and user.department_id:
        # Also cases the department once held (returned, reworked elsewhere): it must see its own trail.
        held = CaseHistory.objects.filter(case=OuterRef("pk"), department_id=user.department_id)
        cond |= Q(department_id=user.department_id) | Exists(held)
    if Role.INSPECTOR in user.roles:
        cond |= Q(reporter=user) | Q(assignee=user)
    return qs.filter(cond)
