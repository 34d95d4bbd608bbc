"""The case history is partitioned by month of `at` (migration 0005, city_gis/cases/partitions.py): every
transition lands in its month's partition, history outside the prepared months waits in the default partition
(an insert never fails) until ensure_partitions moves it into its own month, and the append-only guarantee and
the one-seq-per-case backstop hold on every partition."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import InternalError
from django.utils import timezone

from city_gis.cases.models import CaseHistory
from city_gis.cases.partitions import ensure_partitions, partition_names, waiting_rows
from city_gis.cases.workflow import perform

pytestmark = pytest.mark.django_db


def partition_of(entry: CaseHistory) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT tableoid::regclass::text FROM cases_casehistory WHERE id = %s", [entry.pk])
        return cur.fetchone()[0]


def local(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, hour))


def test_the_table_is_partitioned_by_month_with_the_year_ahead_and_a_default():
    with connection.cursor() as cur:
        cur.execute("SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'cases_casehistory'::regclass")
        assert cur.fetchone() == ("r",)
    names = partition_names()
    today = timezone.localdate()
    assert f"cases_casehistory_{today:%Y}m{today:%m}" in names
    ahead = (today.replace(day=1) + dt.timedelta(days=31 * 11)).replace(day=1)
    assert f"cases_casehistory_{ahead:%Y}m{ahead:%m}" in names
    assert names[-1] == "cases_casehistory_default"


def test_a_transition_lands_in_its_local_month(new_case, staff):
    today = timezone.localdate()
    case = new_case()
    assert partition_of(case.history.first()) == f"cases_casehistory_{today:%Y}m{today:%m}"


def test_month_bounds_are_local_time(new_case):
    """00:30 on the 1st in Beijing is still the previous month in UTC: it belongs to the local month."""
    ensure_partitions(local(2025, 3, 1), local(2025, 3, 1))
    case = new_case(at=timezone.make_aware(dt.datetime(2025, 3, 1, 0, 30)))
    assert partition_of(case.history.first()) == "cases_casehistory_2025m03"


def test_history_outside_the_prepared_months_waits_in_the_default_and_then_moves(new_case, staff):
    case = new_case(at=local(2019, 6, 3))
    perform(case, "accept", staff["operator"], at=local(2019, 6, 3, 11))
    entries = list(case.history.order_by("seq"))
    assert [partition_of(e) for e in entries] == ["cases_casehistory_default"] * 2
    assert waiting_rows() >= 2
    assert ensure_partitions() >= 1  # the default's oldest month is made, its rows move in
    assert [partition_of(e) for e in entries] == ["cases_casehistory_2019m06"] * 2
    assert waiting_rows() == 0
    assert list(case.history.order_by("seq").values_list("action", flat=True)) == ["report", "accept"]


def test_every_partition_is_append_only(new_case):
    entry = new_case().history.first()
    old = new_case(at=local(2018, 2, 5)).history.first()
    ensure_partitions()
    for pk in (entry.pk, old.pk):
        for sql in ("UPDATE cases_casehistory SET note = 'x' WHERE id = %s",
                    "DELETE FROM cases_casehistory WHERE id = %s"):
            with pytest.raises(InternalError, match="append-only"), transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, [pk])


def test_one_seq_per_case_and_time_is_still_refused_by_the_database(new_case):
    entry = new_case().history.first()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("INSERT INTO cases_casehistory (seq, action, from_state, to_state, actor_role, at, note, data, "
                    "case_id) VALUES (%s, 'report', '', 'reported', '', %s, '', '{}', %s)",
                    [entry.seq, entry.at, entry.case_id])


def test_ensure_partitions_is_idempotent():
    ensure_partitions()
    before = partition_names()
    assert ensure_partitions() == 0
    assert partition_names() == before
