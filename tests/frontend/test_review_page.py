"""/review/: who may open it, and a planner drawing a redline across farmland in a real browser, seeing the
conflict on the map with its area and the PDF link."""

from __future__ import annotations

import pytest

from .conftest import require_backend


@pytest.mark.django_db
@pytest.mark.parametrize("username, status", [("planner", 200), ("admin", 200), ("inspector1", 403), ("dept_land", 403)])
def test_planners_and_admins_open_the_review_page(client, username, status):
    from city_gis.accounts.models import User

    client.force_login(User.objects.get(username=username))
    response = client.get("/review/")
    assert response.status_code == status
    if status == 200:
        assert "规划合规性审查" in response.content.decode() and b"frontend/js/review.js" in response.content


@pytest.mark.django_db
def test_anonymous_visitors_log_in_first(client):
    response = client.get("/review/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.fixture
def committed_reviews(site_url, django_db_blocker):
    """Reviews the browser makes are committed: remove them after the test."""
    from city_gis.review.models import Review

    with django_db_blocker.unblock():
        before = Review.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        yield
        Review.objects.filter(pk__gt=before).delete()


@pytest.mark.browser
def test_a_planner_draws_a_redline_across_farmland_and_sees_the_conflict(open_as, site_url, committed_reviews,
                                                                      django_db_blocker):
    require_backend("/api/v1/reviews/")
    from layers.models import thematic as tm

    with django_db_blocker.unblock():
        ring = tm.ZoningPlot.objects.get(plot_code="ZS-KZ01").geom[0][0].coords[:-1]
    page, probe = open_as("planner", "/review/")
    page.wait_for_selector("#review-map .leaflet-tile-loaded", timeout=60_000)
    xs, ys = [x for x, _y in ring], [y for _x, y in ring]
    page.evaluate(f"window.CityGIS.reviewMap.fitBounds([[{min(ys)}, {min(xs)}], [{max(ys)}, {max(xs)}]], {{animate: false}})")
    box = page.locator("#review-map").bounding_box()
    page.click("#rv-draw")
    for lon, lat in ring:
        point = page.evaluate(f"(() => {{ const p = window.CityGIS.reviewMap.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }})()")
        page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    page.click("#rv-finish")
    page.select_option("#rv-use", "R2")
    page.click("#rv-run")
    page.wait_for_selector("#rv-number", timeout=60_000)
    farmland = page.locator("#rv-rules tr[data-rule='farmland']")
    assert farmland.get_attribute("data-status") == "fail"
    assert float(farmland.locator(".rv-area").inner_text()) > 1000
    assert page.locator("#review-map .leaflet-overlay-pane path").count() >= 2  # the redline and a conflict
    href = page.get_attribute("#rv-pdf", "href")
    assert href.endswith("/report.pdf")
    pdf = page.request.get(f"{site_url}{href}")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    assert not [e for e in probe.errors if "favicon" not in e], probe.errors
