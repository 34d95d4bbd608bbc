"""Login page and language switch in a real browser."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_login_page_refuses_a_wrong_password_then_routes_by_role(open_as, site_url, demo_password):
    page, probe = open_as(None, "/accounts/login/")
    probe.screenshot("login")
    page.fill("#id_username", "leader_view")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_selector(".cg-alert-error")
    page.fill("#id_password", demo_password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site_url}/evaluation/", wait_until="domcontentloaded")
    assert page.locator(".cg-nav a.active").inner_text() == "综合评价"
    assert not probe.errors, probe.errors


def test_english_switch(open_as):
    page, probe = open_as("planner", "/map/")
    page.select_option(".cg-lang select", "en")
    page.wait_for_selector("text=Layer catalog")
    assert page.locator(".cg-brand-text strong").inner_text() == "Liupanshui Digital Urban Management"
    page.select_option(".cg-lang select", "zh-hans")
    page.wait_for_selector("text=图层目录")
    assert not probe.errors, probe.errors
