"""Who may read which evaluation figures (decided on the server, by role and department).

- leader, leader_view, operator, dispatcher, admin (and superusers): every level and unit;
- inspector: only their own row of the `inspector` level (and its drill-down);
- handler: only their own department's row of the `department` level (and its drill-down);
- anyone else: nothing (403).
"""

from __future__ import annotations

from dataclasses import dataclass

from city_gis.accounts.models import Role

FULL_READERS = (Role.LEADER, Role.LEADER_VIEW, Role.OPERATOR, Role.DISPATCHER, Role.ADMIN)


@dataclass(frozen=True)
class Scope:
    """What a user may see: all units, or only `unit` of `level`."""

    all: bool
    level: str | None = None
    unit: str | None = None

    def allows(self, level: str, unit: str | None = None) -> bool:
        if self.all:
            return True
        return level == self.level and (unit is None or unit == self.unit)


NOTHING = Scope(all=False)


def scope_for(user) -> Scope:
    if not user or not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.has_role(*FULL_READERS):
        return Scope(all=True)
    if Role.INSPECTOR in user.roles:
        return Scope(all=False, level="inspector", unit=user.username)
    if Role.HANDLER in user.roles and user.department_id:
        return Scope(all=False, level="department", unit=user.department.code)
    return NOTHING
