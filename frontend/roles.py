"""Which roles may open which page, and where each role lands after logging in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from city_gis.accounts.models import Role
from city_gis.hazards.access import sees_all as sees_hazards
from city_gis.review.access import REVIEW_ROLES


@dataclass(frozen=True)
class Page:
    """A web page of the platform: its URL name, menu label and the roles that may open it (None = everyone)."""

    url_name: str
    label: str
    roles: tuple[str, ...] | None
    allowed: Callable[[object], bool] | None = None  # a domain rule instead of roles (it decides alone)


CONSOLE_ROLES = (Role.OPERATOR, Role.LEADER, Role.DISPATCHER, Role.HANDLER, Role.ADMIN)
MOBILE_ROLES = (Role.INSPECTOR, Role.ADMIN)
EVALUATION_ROLES = (Role.LEADER, Role.LEADER_VIEW, Role.ADMIN, Role.OPERATOR)

PAGES: tuple[Page, ...] = (
    Page("frontend-console", _("指挥调度"), CONSOLE_ROLES),
    Page("frontend-mobile", _("移动上报"), MOBILE_ROLES),
    Page("frontend-map", _("一张图"), None),
    Page("frontend-evaluation", _("综合评价"), EVALUATION_ROLES),
    Page("frontend-review", _("规划审查"), REVIEW_ROLES),  # city_gis.review.access's rule
    # the duty side of city_gis.hazards.access (hazard officers, leaders, the geohazard department, admins)
    Page("frontend-emergency", _("应急值守"), (), allowed=sees_hazards),
)

# First matching role decides the landing page; order = most specific job first.
LANDING: tuple[tuple[str, str], ...] = (
    (Role.HAZARD_OFFICER, "frontend-emergency"),
    (Role.INSPECTOR, "frontend-mobile"),
    (Role.DISPATCHER, "frontend-console"),
    (Role.OPERATOR, "frontend-console"),
    (Role.LEADER, "frontend-console"),
    (Role.HANDLER, "frontend-console"),
    (Role.LEADER_VIEW, "frontend-evaluation"),
    (Role.PLANNER, "frontend-map"),
    (Role.DATA_STEWARD, "frontend-map"),
)


def may_open(user, page: Page) -> bool:
    """True when `user` may open `page`."""
    if page.allowed is not None:
        return bool(user and page.allowed(user))
    if page.roles is None:
        return True
    return bool(user and user.is_authenticated and user.has_role(*page.roles))


def landing_url_name(user) -> str:
    """URL name of the page `user` should start on."""
    if not user.is_authenticated:
        return "frontend-map"
    if user.is_admin:
        return "frontend-console"
    for role, url_name in LANDING:
        if role in user.roles:
            return url_name
    return "frontend-map"


def handler_only(user) -> bool:
    """True for department staff who must see only their department's queue in the console."""
    if not user.is_authenticated or user.is_admin:
        return False
    staff_roles = {Role.OPERATOR, Role.LEADER, Role.DISPATCHER}
    return Role.HANDLER in user.roles and not staff_roles.intersection(user.roles)
