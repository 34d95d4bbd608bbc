"""The pages' server side: who may open which page, where each role lands, login, language switch, helpers."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def _login(client, username: str) -> None:
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username=username))

LANDING = {
    "inspector1": "/m/",
    "dispatcher": "/console/",
    "operator": "/console/",
    "leader": "/console/",
    "dept_sanitation": "/console/",
    "leader_view": "/evaluation/",
    "planner": "/map/",
    "admin": "/console/",
}


@pytest.mark.parametrize(("username", "landing"), LANDING.items())
def test_home_sends_each_role_to_its_page(client, demo_password, username, landing):
    _login(client, username)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == landing


def test_anonymous_home_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["/console/", "/m/", "/evaluation/"])
def test_anonymous_users_are_asked_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_anonymous_users_may_open_the_layer_viewer(client):
    response = client.get("/map/")
    assert response.status_code == 200
    assert "图层目录" in response.content.decode()


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("inspector1", "/console/", 403),
        ("inspector1", "/evaluation/", 403),
        ("planner", "/console/", 403),
        ("planner", "/m/", 403),
        ("dispatcher", "/m/", 403),
        ("leader_view", "/evaluation/", 200),
        ("operator", "/evaluation/", 200),
        ("dept_sanitation", "/console/", 200),
        ("planner", "/map/", 200),
    ],
)
def test_pages_are_limited_to_their_roles(client, demo_password, username, path, status):
    _login(client, username)
    assert client.get(path).status_code == status


def test_navigation_shows_only_the_pages_the_user_may_open(client, demo_password):
    _login(client, "planner")
    html = client.get("/map/").content.decode()
    assert 'href="/map/"' in html
    assert 'href="/console/"' not in html
    assert 'href="/evaluation/"' not in html


def test_login_page_logs_in_and_redirects(client, demo_password):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert "六盘水市数字城管平台" in page.content.decode()
    response = client.post("/accounts/login/", {"username": "dispatcher", "password": demo_password, "next": "/console/"})
    assert response.status_code == 302
    assert response["Location"] == "/console/"


def test_wrong_password_shows_an_error(client):
    response = client.post("/accounts/login/", {"username": "dispatcher", "password": "wrong-password"})
    assert response.status_code == 200
    assert "cg-alert-error" in response.content.decode()


def test_english_switch_translates_the_pages(client, demo_password):
    _login(client, "planner")
    client.post("/i18n/setlang/", {"language": "en", "next": "/map/"})
    html = client.get("/map/").content.decode()
    assert "Layer catalog" in html
    assert "Liupanshui Digital Urban Management" in html


def _config(response) -> dict:
    html = response.content.decode()
    start = html.index('id="cg-config" type="application/json">') + len('id="cg-config" type="application/json">')
    return json.loads(html[start:html.index("</script>", start)])


def test_a_department_handler_console_is_fixed_to_its_own_queue(client, demo_password):
    _login(client, "dept_sanitation")
    config = _config(client.get("/console/"))
    assert config["user"]["handlerOnly"] is True
    assert config["user"]["department"] == "sanitation"


def test_a_dispatcher_console_sees_every_department(client, demo_password):
    _login(client, "dispatcher")
    config = _config(client.get("/console/"))
    assert config["user"]["handlerOnly"] is False
    assert {"sanitation", "municipal"} <= {d["code"] for d in config["departments"]}


def test_area_outlines_for_the_choropleth(client, demo_password):
    _login(client, "leader")
    response = client.get("/evaluation/areas/community.geojson")
    assert response.status_code == 200
    collection = json.loads(response.content)
    assert collection["type"] == "FeatureCollection"
    assert collection["features"], "the demo city has communities"
    feature = collection["features"][0]
    assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    assert len(feature["properties"]["code"]) == 12


def test_area_outlines_refuse_unknown_levels_and_other_roles(client, demo_password):
    _login(client, "leader")
    assert client.get("/evaluation/areas/planet.geojson").status_code == 400
    client.logout()
    _login(client, "planner")
    assert client.get("/evaluation/areas/community.geojson").status_code == 403


def test_dispatch_preview_gives_default_department_and_deadlines(client, demo_password):
    from city_gis.cases.models import Case

    case = Case.objects.select_related("category__default_department").first()
    assert case is not None, "the test demo city has cases"
    _login(client, "dispatcher")
    preview = client.get(f"/console/dispatch-preview/{case.pk}/").json()
    dept = case.category.default_department
    assert preview["default_department"] == (dept.code if dept else None)
    assert preview["urgency_levels"], "every category has urgency levels with limits"
    assert all(level["deadline"] for level in preview["urgency_levels"])


def test_dispatch_preview_needs_a_console_role(client, demo_password):
    _login(client, "planner")
    assert client.get("/console/dispatch-preview/1/").status_code == 403
    client.logout()
    assert client.get("/console/dispatch-preview/1/").status_code == 401


def test_mobile_shell_has_manifest_and_service_worker(client, demo_password):
    _login(client, "inspector1")
    manifest = client.get("/m/manifest.webmanifest")
    assert manifest.status_code == 200
    assert json.loads(manifest.content)["start_url"] == "/m/"
    worker = client.get("/m/sw.js")
    assert worker.status_code == 200
    assert worker["Content-Type"].startswith("application/javascript")


def test_the_mobile_page_gets_the_patrol_action_of_every_result_button(client, demo_password):
    """mobile.js sends the workflow action of the pressed result from the page config: patrols.ACTION_OF, the
    table the API checks, for every result button of the page (no copy of the table in the script)."""
    import re

    from city_gis.hazards.patrols import ACTION_OF

    _login(client, "inspector1")
    response = client.get("/m/")
    config = _config(response)
    assert config["patrolActions"] == {"normal": "verify_not_found", "deformation": "verify_confirmed",
                                       "evacuate": "verify_confirmed"}
    assert config["patrolActions"] == {str(result): action for result, action in ACTION_OF.items()}
    buttons = re.findall(r'name="patrol_result" value="(\w+)"', response.content.decode())
    assert sorted(buttons) == sorted(config["patrolActions"])
