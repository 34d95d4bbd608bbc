"""Role checks of the field API (object-level visibility lives in domain.visible_cases / task_cases)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from city_gis.accounts.models import Role


class IsInspector(BasePermission):
    """Inspectors (and admins) only: reports come from inspectors' phones."""

    message = _("只有监督员可以执行此操作。")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_role(Role.INSPECTOR))


class IsFieldWorker(BasePermission):
    """Inspectors and department handlers (and admins): the people who have tasks."""

    message = _("只有监督员或专业部门处置人员有任务。")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_role(Role.INSPECTOR, Role.HANDLER))
