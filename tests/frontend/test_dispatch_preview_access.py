"""The console's dispatch preview answers only for cases the user may see (city_gis.cases.access decides):
a case outside the user's visibility is 404 with the same answer as a case that does not exist."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _user(username: str):
    from city_gis.accounts.models import User

    return User.objects.get(username=username)


def _hidden_and_visible(username: str):
    from city_gis.cases.access import visible_cases
    from city_gis.cases.models import Case

    user = _user(username)
    visible = visible_cases(user)
    hidden = Case.objects.exclude(pk__in=visible.values("pk")).order_by("pk").first()
    return user, hidden, visible.order_by("pk").first()


@pytest.mark.parametrize("username", ["dept_sanitation", "dept_land"])
def test_handler_gets_404_for_a_case_of_another_department(client, username):
    user, hidden, visible = _hidden_and_visible(username)
    assert hidden is not None, "the demo has cases this department never held"
    client.force_login(user)
    response = client.get(f"/console/dispatch-preview/{hidden.pk}/")
    assert response.status_code == 404
    assert response.json() == {"case": f"no case {hidden.pk}"}, "the same answer as for a missing case"
    assert "category" not in response.content.decode()
    if visible is not None:
        assert client.get(f"/console/dispatch-preview/{visible.pk}/").status_code == 200


def test_missing_and_hidden_cases_answer_alike(client):
    from django.db.models import Max

    from city_gis.cases.models import Case

    user, hidden, _visible = _hidden_and_visible("dept_sanitation")
    client.force_login(user)
    missing = (Case.objects.aggregate(m=Max("pk"))["m"] or 0) + 1000
    a = client.get(f"/console/dispatch-preview/{hidden.pk}/")
    b = client.get(f"/console/dispatch-preview/{missing}/")
    assert (a.status_code, b.status_code) == (404, 404)
    assert a.json()["case"].replace(str(hidden.pk), "N") == b.json()["case"].replace(str(missing), "N")


def test_centre_roles_preview_every_case(client):
    from city_gis.cases.models import Case

    _user_, hidden, _visible = _hidden_and_visible("dept_sanitation")
    for username in ("dispatcher", "operator", "admin"):
        client.force_login(_user(username))
        assert client.get(f"/console/dispatch-preview/{hidden.pk}/").status_code == 200, username
    assert Case.objects.filter(pk=hidden.pk).exists()
