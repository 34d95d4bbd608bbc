"""Token login through axes, JSON errors, lockout, and revocation."""

import pytest
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/token/"


def test_login_returns_a_token_that_authenticates(api, demo_password):
    r = api.post(URL, {"username": "inspector1", "password": demo_password}, format="json")
    assert r.status_code == 200
    assert r.json()["roles"] == ["inspector"]
    assert Token.objects.get(user__username="inspector1").key == r.json()["token"]


def test_wrong_password_is_a_json_401(api, demo_password):
    r = api.post(URL, {"username": "inspector1", "password": demo_password + "x"}, format="json")
    assert r.status_code == 401
    assert "detail" in r.json()


def test_missing_field_is_named(api):
    r = api.post(URL, {"username": "inspector1"}, format="json")
    assert r.status_code == 400
    assert "password" in r.json()


def test_repeated_failures_lock_the_account_even_for_the_right_password(api, demo_password, settings):
    statuses = [
        api.post(URL, {"username": "inspector2", "password": "wrong"}, format="json").status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}
    r = api.post(URL, {"username": "inspector2", "password": demo_password}, format="json")
    assert r.status_code == 429
    assert r["Content-Type"].startswith("application/json") and r.json()["detail"]


def test_delete_revokes_the_token(api, demo_password):
    token = api.post(URL, {"username": "operator", "password": demo_password}, format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.delete(URL).status_code == 204
    assert api.delete(URL).status_code == 401  # the revoked token no longer authenticates
    assert not Token.objects.filter(key=token).exists()


def test_delete_needs_credentials(api):
    assert api.delete(URL).status_code == 401


def test_login_is_rate_limited_per_address(api, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "token": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    codes = [api.post(URL, {"username": f"nobody{i}", "password": "x"}, format="json").status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]


def test_messages_follow_the_clients_language(api, demo_password):
    r = api.post(URL, {"username": "inspector1", "password": "wrong"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert r.json()["detail"] == "Wrong username or password."
    r = api.post(URL, {"username": "inspector1", "password": "wrong"}, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert r.json()["detail"] == "用户名或密码错误。"
