"""Two dispatchers on two connections dispatch the same case at once: exactly one wins, the other is refused."""

import threading

import pytest
from django.contrib.gis.geos import Point
from django.db import connection, connections, transaction

from city_gis.cases.models import Case, CaseHistory
from city_gis.cases.services import create_case
from city_gis.cases.workflow import IllegalTransition, perform


def _purge():
    """Remove this test's committed users and cases (also leftovers of an interrupted run)."""
    from city_gis.accounts.models import User

    with transaction.atomic():
        with connection.cursor() as cur:  # the history trigger allows purges only when asked
            cur.execute("SET LOCAL citygis.allow_history_purge = 'on'")
        Case.objects.filter(reporter__username__startswith="t_conc_").delete()
        User.objects.filter(username__startswith="t_conc_").delete()


@pytest.fixture
def committed_case(django_db_setup, django_db_blocker):
    """A registered case committed to the database (outside any test transaction), removed afterwards."""
    from city_gis.accounts.models import User

    with django_db_blocker.unblock():
        from city_gis.grid.models import Cell

        assert Case.category.field.related_model.objects.exists(), "the test demo city has categories"
        cell = Cell.objects.filter(valid_to__isnull=True).first()
        assert cell is not None, "the test demo city has grid cells"
        _purge()
        users = [User.objects.create(username=f"t_conc_{r}", roles=[r])
                 for r in ("inspector", "operator", "leader", "dispatcher")]
        p = cell.geom.point_on_surface
        case = create_case(source="inspector", category_code="0102", location=Point(p.x, p.y, srid=4490),
                           description="并发测试", reporter=users[0])
        case = perform(case, "accept", users[1])
        case = perform(case, "register", users[2])
        try:
            yield case, users[3]
        finally:
            _purge()


def test_concurrent_double_dispatch_one_wins(committed_case):
    case, dispatcher = committed_case
    barrier = threading.Barrier(2)
    outcomes = []

    def dispatch(dept):
        try:
            barrier.wait()
            perform(Case.objects.get(pk=case.pk), "dispatch", dispatcher, department=dept)
            outcomes.append("ok")
        except IllegalTransition:
            outcomes.append("409")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatch, args=(d,)) for d in ("sanitation", "municipal")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409", "ok"]
    assert CaseHistory.objects.filter(case_id=case.pk, action="dispatch").count() == 1
    assert Case.objects.get(pk=case.pk).state == "dispatched"
