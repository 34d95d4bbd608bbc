"""Who counts as an administrator on the pages is User.is_admin, the one rule: role `admin` or superuser,
active. Admins land on the console and are never limited to a department's queue."""

from __future__ import annotations

import pytest

from city_gis.accounts.models import Role, User
from frontend.roles import handler_only, landing_url_name

CASES = [
    # roles, superuser, active, landing page, handler_only
    ([Role.ADMIN], False, True, "frontend-console", False),
    ([], True, True, "frontend-console", False),
    ([Role.ADMIN, Role.HANDLER], False, True, "frontend-console", False),
    ([Role.HANDLER], True, True, "frontend-console", False),
    ([Role.HANDLER], False, True, "frontend-console", True),
    ([Role.HANDLER, Role.DISPATCHER], False, True, "frontend-console", False),
    ([Role.INSPECTOR], False, True, "frontend-mobile", False),
    ([Role.PLANNER], False, True, "frontend-map", False),
    ([], False, True, "frontend-map", False),
    # an inactive account is no administrator (User.is_admin), whatever its flags say
    ([], True, False, "frontend-map", False),
    ([Role.ADMIN], False, False, "frontend-map", False),
]


@pytest.mark.parametrize(("roles", "superuser", "active", "landing", "limited"), CASES)
def test_landing_and_queue_follow_user_is_admin(roles, superuser, active, landing, limited):
    user = User(username="u", roles=roles, is_superuser=superuser, is_active=active)
    assert (landing_url_name(user), handler_only(user)) == (landing, limited)
