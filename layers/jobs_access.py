"""Who sees and who may cancel a background job — the one rule behind /api/v1/jobs/ and the /map/ jobs panel.

A job belongs to its submitter and to the submitter's department: the submitter sees and cancels it, so do the
data stewards of that department (they run the department's data, including what a colleague queued), and
admins see and cancel every job. Anybody else does not learn the job exists (404).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from city_gis.accounts.models import Role

from .access import is_admin
from .models import Job


def _steward_department(user) -> int | None:
    """The department `user` is a data steward of, or None."""
    return user.department_id if Role.DATA_STEWARD in user.roles and user.department_id else None


def visible_jobs(user) -> QuerySet[Job]:
    """The jobs `user` may see: their own, their department's for its stewards, every job for admins."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Job.objects.none()
    if is_admin(user):
        return Job.objects.all()
    rule = Q(created_by=user)
    dept = _steward_department(user)
    if dept is not None:
        rule |= Q(created_by__department_id=dept)
    return Job.objects.filter(rule)


def may_cancel(user, job: Job) -> bool:
    """True when `user` may cancel `job`: its submitter, a steward of the submitter's department, or an admin."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user) or (job.created_by_id is not None and job.created_by_id == user.pk):
        return True
    dept = _steward_department(user)
    return dept is not None and job.created_by is not None and job.created_by.department_id == dept
