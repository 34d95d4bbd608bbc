"""The demo builds departments and the DESIGN.md demo accounts, all with the demo password."""

import pytest
from django.contrib.auth import authenticate

from city_gis.accounts.models import Department, Role, User

pytestmark = pytest.mark.django_db


def test_every_design_account_exists_with_its_role(demo_password):
    expected = {
        "admin": Role.ADMIN,
        "operator": Role.OPERATOR,
        "leader": Role.LEADER,
        "dispatcher": Role.DISPATCHER,
        "inspector1": Role.INSPECTOR,
        "planner": Role.PLANNER,
        "leader_view": Role.LEADER_VIEW,
        "dept_sanitation": Role.HANDLER,
    }
    for username, role in expected.items():
        user = User.objects.get(username=username)
        assert role in user.roles, username
        assert user.department is not None
        assert user.check_password(demo_password)


def test_department_handlers_are_their_departments_data_stewards():
    user = User.objects.get(username="dept_land")
    assert user.department.code == "land"
    assert Role.DATA_STEWARD in user.roles


def test_has_role_respects_inactive_users():
    user = User(username="x", roles=[Role.DISPATCHER], is_active=False)
    assert not user.has_role(Role.DISPATCHER)


def test_wrong_password_is_refused(rf, demo_password):
    request = rf.post("/")
    assert authenticate(request, username="operator", password=demo_password + "x") is None
    assert Department.objects.filter(code="sanitation", is_disposal_unit=True).exists()
