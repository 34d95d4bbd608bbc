"""Who sees which cases: the centre's roles see all, handlers their department's, inspectors their own and their tasks."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from city_gis.accounts.models import Role, User

from .models import Case, CaseHistory

ALL_CASES_ROLES = (Role.OPERATOR, Role.LEADER, Role.DISPATCHER, Role.LEADER_VIEW, Role.ADMIN)


def visible_cases(user: User, qs: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """Filter `qs` (default all cases) to what `user` may see."""
    qs = Case.objects.all() if qs is None else qs
    if not user or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.has_role(*ALL_CASES_ROLES):
        return qs
    cond = Q(pk__in=[])
    if Role.HANDLER in user.roles and user.department_id:
        # Also cases the department once held (returned, reworked elsewhere): it must see its own trail.
        held = CaseHistory.objects.filter(case=OuterRef("pk"), department_id=user.department_id)
        cond |= Q(department_id=user.department_id) | Exists(held)
    if Role.INSPECTOR in user.roles:
        cond |= Q(reporter=user) | Q(assignee=user)
    return qs.filter(cond)
