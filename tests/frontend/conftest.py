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


def _uses_database(item) -> bool:
    return bool(item.get_closest_marker("django_db")) or bool({"db", "transactional_db"} & set(item.fixturenames))


def pytest_collection_modifyitems(config, items) -> None:
    """Refuse a session of browser tests only: pytest-django sets the test database up only when some collected
    test uses `db`, so the suite's demo loader and the server thread would otherwise work on the main database."""
    if any(item.get_closest_marker("browser") for item in items) and not any(_uses_database(i) for i in items):
        raise pytest.UsageError(
            "browser tests need the test database: select them together with a database test, "
            "e.g. `pytest tests/frontend/test_views.py tests/frontend/test_console.py`"
        )


def backend_missing(*paths: str) -> str | None:
    """The first of `paths` no URL pattern serves (a backend that has not landed), else None."""
    for path in paths:
        try:
            resolve(path)
        except Resolver404:
            return path
    return None


def require_backend(*paths: str) -> None:
    """Fail the running test when a backend endpoint it needs is not routed (never xfail or skip)."""
    missing = backend_missing(*paths)
    if missing:
        pytest.fail(f"backend endpoint {missing} is not routed")


@pytest.fixture(scope="package")
def map_config(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[None]:
    """MapServer/MapProxy configuration generated for the test database into a temporary directory
    (package scope: the settings are restored when the browser tests are done)."""
    from django.conf import settings

    from tileserver.generate import generate_all

    var = tmp_path_factory.mktemp("frontend-tiles")
    old = (settings.CITYGIS_MAPFILE_DIR, settings.CITYGIS_MAPPROXY_DIR, settings.CITYGIS_TILE_CACHE_DIR)
    settings.CITYGIS_MAPFILE_DIR, settings.CITYGIS_MAPPROXY_DIR, settings.CITYGIS_TILE_CACHE_DIR = (
        var / "mapserver", var / "mapproxy", var / "tilecache")
    with django_db_blocker.unblock():
        generate_all()
    yield
    settings.CITYGIS_MAPFILE_DIR, settings.CITYGIS_MAPPROXY_DIR, settings.CITYGIS_TILE_CACHE_DIR = old


@pytest.fixture(scope="package")
def site_url(django_db_setup, django_db_blocker, map_config) -> Iterator[str]:
    """Base URL of a threaded Django server (static files included) on the test database."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.db import connection
    from django.test.testcases import LiveServerThread

    if not connection.settings_dict["NAME"].startswith("test_"):
        pytest.fail(f"refusing to serve {connection.settings_dict['NAME']!r}: not a test database")
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


@pytest.fixture(scope="package")
def browser(site_url):
    """Debian's chromium driven by Playwright (never a downloaded browser).

    Depends on `site_url` so the test database is set up first: once Playwright's event loop runs in this
    thread, Django's connection handler (asgiref Local) would hand out a fresh connection to the main database.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class PageProbe:
    """What a page did: console errors, uncaught exceptions and image responses from our tile URLs."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        self.tiles: list[tuple[int, str, str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("response", self._response)

    def _console(self, msg) -> None:
        if msg.type != "error":
            return
        url = (msg.location or {}).get("url", "")
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
        probe = PageProbe(page)
        if username:
            page.goto(f"{site_url}/accounts/login/?next={path}")
            page.fill("#id_username", username)
            page.fill("#id_password", demo_password)
            page.click("button[type=submit]")
            target = f"{site_url}{path.split('?')[0]}"
            try:
                page.wait_for_url(lambda url: url.startswith(target), wait_until="domcontentloaded")
            except Exception:
                probe.screenshot(f"login-failed-{username}")
                raise
        else:
            page.goto(f"{site_url}{path}")
        return page, probe

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def committed(site_url, django_db_blocker):
    """Direct, committed database access for a browser test; cases created during the test are purged after it."""
    from django.db import connection

    from city_gis.cases.models import Case

    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"].startswith("test_"), "browser tests must run on the test database"
        before = Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        yield
        purge_cases_after(before)


def purge_cases_after(pk: int) -> None:
    """Delete the cases with a primary key above `pk` (history is append-only: purge under the trigger's flag)."""
    from django.db import connection, transaction

    from city_gis.cases.models import Case

    with transaction.atomic():
        ids = list(Case.objects.filter(pk__gt=pk).values_list("pk", flat=True))
        if not ids:
            return
        with connection.cursor() as cur:
            cur.execute("SET LOCAL citygis.allow_history_purge = 'on'")
        try:
            from field_app_api.models import ReportReceipt

            ReportReceipt.objects.filter(case_id__in=ids).delete()
        except ImportError:
            pass
        Case.objects.filter(merged_into__in=ids).update(merged_into=None)
        Case.objects.filter(pk__in=ids).delete()


def a_spot_in_a_cell():
    """(lon, lat) of a point inside a current grid cell of the demo city."""
    from city_gis.grid.models import Cell

    cell = Cell.objects.filter(valid_to__isnull=True).order_by("code").first()
    point = cell.geom.point_on_surface
    return point.x, point.y
