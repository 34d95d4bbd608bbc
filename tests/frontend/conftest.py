"""Browser-test fixtures: one Django server thread on the committed demo database, Debian's chromium via Playwright.

pytest-django's `live_server` is not used on purpose: it implies `transactional_db`, which truncates every
table after each test and would wipe the committed demo city the rest of the suite relies on. This server
thread serves the same test database without that teardown; tests that change data clean up after themselves.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def backend_missing(*paths: str) -> str | None:
    """The first of `paths` no URL pattern serves (a backend that has not landed), else None."""
    for path in paths:
        try:
            resolve(path)
        except Resolver404:
            return path
    return None


def require_backend(*paths: str) -> None:
    """Mark the running test xfail (not skip) when a backend it needs is not there yet."""
    missing = backend_missing(*paths)
    if missing:
        pytest.xfail(f"backend endpoint {missing} not available yet")


@pytest.fixture(scope="session")
def site_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    """Base URL of a threaded Django server (static files included) on the test database."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    django_db_blocker.unblock()
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        django_db_blocker.restore()
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    django_db_blocker.restore()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class PageProbe:
    """What a page did: console errors, uncaught exceptions and image responses from our tile URLs."""

    def __init__(self, page, tiles_expected: bool):
        self.page = page
        self.errors: list[str] = []
        self.tiles: list[tuple[int, str, str]] = []
        self.tiles_expected = tiles_expected
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("response", self._response)

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
        # Until the tileserver lands, its URLs 404: not the page's fault (its own test is xfail then).
        if not self.tiles_expected and ("/tiles/" in url or "/ows" in url):
            return
        self.errors.append(f"console: {msg.text} @ {url}")

    def _response(self, response) -> None:
        if "/tiles/" in response.url:
            self.tiles.append((response.status, response.headers.get("content-type", ""), response.url))

    def ok_tiles(self) -> list[str]:
        return [u for status, ctype, u in self.tiles if status == 200 and ctype.startswith("image/")]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def open_as(browser, site_url, demo_password):
    """open_as("dispatcher", "/console/", viewport=…) → (page, probe): logs in through the login page first."""
    contexts = []

    def _open(username: str | None, path: str, *, viewport=None, **context_args):
        context = browser.new_context(viewport=viewport or {"width": 1440, "height": 900}, locale="zh-CN",
                                      timezone_id="Asia/Shanghai", **context_args)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        probe = PageProbe(page, tiles_expected=backend_missing("/tiles/base.basemap/webmercator/12/3200/1700.png") is None)
        if username:
            page.goto(f"{site_url}/accounts/login/?next={path}")
            page.fill("#id_username", username)
            page.fill("#id_password", demo_password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{site_url}{path}*")
        else:
            page.goto(f"{site_url}{path}")
        return page, probe

    yield _open
    for context in contexts:
        context.close()
