"""create_case(): validation, geocoding, first history entry; duplicates flagged and merged, never dropped."""

import datetime as dt
import uuid

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from city_gis.cases.models import Case, DuplicateLink, State
from city_gis.cases.services import create_case
from city_gis.cases.workflow import IllegalTransition, perform

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
M = 1 / 96_100  # ~1 m in degrees of longitude at 30°N


def test_a_new_case_is_geocoded_numbered_and_has_its_first_history_entry(new_case, staff):
    case = new_case(source="hotline", cell=3, at=T0, contact={"phone": "12345"})
    assert case.cell_code == "99990100100202" and case.community_code == "999901001002"
    assert case.street_code == "999901001" and case.district_code == "999901"
    assert case.address == "测试区 测试街道 西社区 测试路附近"
    assert case.number == f"2026{int(case.number[4:]):06d}"
    assert case.category.code == "0102" and case.category_version
    first = case.history.get()
    assert (first.action, first.from_state, first.to_state, first.actor) == (
        "report", "", "pending_verification", staff["operator"])
    assert first.deadline == case.stage_deadline


def test_component_categories_can_be_named_explicitly(new_case):
    assert new_case(category="component:0101").category.name_zh == "上水井盖"
    assert new_case(category="0101", cell=1).category.name_zh == "私搭乱建"  # bare code → event


@pytest.mark.parametrize("kwargs,field", [
    ({"category_code": "9999"}, "category_code"),
    ({"source": "pigeon"}, "source"),
    ({"description": "  "}, "description"),
    ({"urgency": "apocalyptic"}, "urgency"),
    ({"location": Point(0, 0, srid=4490)}, "location"),
])
def test_invalid_input_names_the_field_and_writes_nothing(tiny_city, staff, kwargs, field):
    args = dict(source="public", category_code="0102", location=Point(100.0005, 30.0005, srid=4490),
                description="问题", reporter=None)
    before = Case.objects.count()
    with pytest.raises(ValidationError) as exc:
        create_case(**{**args, **kwargs})
    assert field in exc.value.message_dict
    assert Case.objects.count() == before


def test_only_inspectors_report_as_inspectors(tiny_city, staff):
    with pytest.raises(PermissionDenied):
        create_case(source="inspector", category_code="0102", location=Point(100.0005, 30.0005, srid=4490),
                    description="x", reporter=staff["operator"])


def test_client_uuid_is_unique(new_case):
    key = uuid.uuid4()
    new_case(client_uuid=key)
    with pytest.raises(IntegrityError), transaction.atomic():
        new_case(client_uuid=key)


def test_same_class_within_50_m_and_72_h_is_flagged(new_case):
    first = new_case(at=T0)
    near = new_case(at=T0 + dt.timedelta(hours=5), offset=(30 * M, 0))
    far = new_case(at=T0 + dt.timedelta(hours=5), offset=(80 * M, 0))
    other_class = new_case(at=T0 + dt.timedelta(hours=5), category="0104")
    late = new_case(at=T0 + dt.timedelta(hours=76))
    link = DuplicateLink.objects.get(case=near)
    assert link.original == first and 25 < link.distance_m < 35
    assert not DuplicateLink.objects.filter(case__in=[far, other_class]).exists()
    # 'late' (at first's spot) is 76 h after 'first' but 71 h after 'near' (30 m) → flagged against 'near' only
    assert set(DuplicateLink.objects.filter(case=late).values_list("original", flat=True)) == {near.pk}


def test_closed_cases_are_not_duplicates(new_case, staff):
    first = perform(new_case(at=T0), "reject", staff["operator"], reason="无效", at=T0)
    assert first.state == State.REJECTED
    assert not DuplicateLink.objects.filter(case=new_case(at=T0 + dt.timedelta(hours=1))).exists()


def test_operator_merges_a_duplicate_with_history_on_both(new_case, staff):
    first = new_case(at=T0)
    dup = new_case(at=T0 + dt.timedelta(minutes=5), offset=(10 * M, 0))
    dup = perform(dup, "merge", staff["operator"], into=first.number, note="同一处垃圾", at=T0 + dt.timedelta(minutes=6))
    assert dup.state == State.MERGED and dup.merged_into == first
    assert dup.history.last().data == {"into": first.number}
    assert first.history.last().action == "merge_in" and first.history.last().data == {"from": dup.number}
    assert first.history.last().from_state == first.history.last().to_state == "reported"
    assert DuplicateLink.objects.get(case=dup).resolved
    assert Case.objects.filter(pk=dup.pk).exists()  # nothing dropped
    with pytest.raises(IllegalTransition):
        perform(new_case(at=T0, cell=2), "merge", staff["operator"], into=dup.number)  # target closed


def test_merge_needs_an_existing_other_case(new_case, staff):
    case = new_case(at=T0)
    with pytest.raises(ValidationError, match="into"):
        perform(case, "merge", staff["operator"], into="2099999999")
    with pytest.raises(ValidationError, match="into"):
        perform(case, "merge", staff["operator"], into=case.number)


def test_inside_a_callers_transaction_no_savepoint_is_made_and_the_geocode_is_kept(new_case):
    """The report view creates its case inside its own transaction: SAVEPOINT/RELEASE would be two round trips
    per report for nothing (an error aborts the caller's transaction anyway)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert connection.in_atomic_block  # the test's transaction stands for the view's
    with CaptureQueriesContext(connection) as q:
        case = new_case(cell=2)
    assert not [x["sql"] for x in q.captured_queries if "SAVEPOINT" in x["sql"].upper()]
    assert (case.geocoded.community_name, case.geocoded.street_name) == ("西社区", "测试街道")
    assert case.address == case.geocoded.address == "测试区 测试街道 西社区 测试路附近"


def test_a_failure_inside_create_case_rolls_back_the_callers_transaction(new_case, monkeypatch):
    from city_gis.cases import services

    key = uuid.uuid4()
    monkeypatch.setattr(services, "find_duplicates", lambda case: 1 / 0)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        new_case(client_uuid=key)
    assert not Case.objects.filter(client_uuid=key).exists()


def test_the_duplicate_search_works_prepared_and_behind_a_transaction_pooler(new_case, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = new_case(at=T0)
    with CaptureQueriesContext(connection) as q:
        prepared_dup = new_case(at=T0 + dt.timedelta(hours=1), offset=(20 * M, 0))
    assert [pk for pk, _ in prepared_dup.duplicate_candidates] == [first.pk]
    assert any(x["sql"].startswith("EXECUTE citygis_duplicates") for x in q.captured_queries)
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)  # pgBouncer, transaction mode
    with CaptureQueriesContext(connection) as q:
        full_dup = new_case(at=T0 + dt.timedelta(hours=2), offset=(25 * M, 0))
    assert sorted(pk for pk, _ in full_dup.duplicate_candidates) == sorted([first.pk, prepared_dup.pk])
    sql = " ".join(x["sql"] for x in q.captured_queries).upper()
    assert "PREPARE" not in sql and "EXECUTE" not in sql
