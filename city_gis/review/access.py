"""Who may run a review and who sees one: the one rule for the API, the PDF and the /review/ page.

Planners (and admins, who hold every role) run reviews; a review is visible to its author's department and to
admins. An invisible review is the same 404 as a missing one.
"""

from __future__ import annotations

from django.db.models import QuerySet

from city_gis.accounts.models import Role

REVIEW_ROLES = (Role.PLANNER,)  # admins hold every role (User.has_role); the /review/ menu entry uses it too


def may_review(user) -> bool:
    """True when `user` may run (create) a review."""
    return bool(user is not None and user.is_authenticated and user.has_role(*REVIEW_ROLES))


def visible_reviews(user, qs: QuerySet | None = None) -> QuerySet:
    """The reviews `user` may see (of `qs`, default all)."""
    from .models import Review

    qs = Review.objects.all() if qs is None else qs
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_admin:
        return qs
    if not user.department_id:
        return qs.filter(author_id=user.pk)
    return qs.filter(department_id=user.department_id)
