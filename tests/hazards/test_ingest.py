"""The MQTT path without a broker: refusals land in the dead-letter log whatever they hold; topics; limits."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from city_gis.hazards.ingest import device_code_of, ingest_messages
from city_gis.hazards.models import DeadLetter

from .conftest import reading_count

pytestmark = pytest.mark.django_db


def test_nul_characters_in_a_refused_message_still_reach_the_dead_letter_log(device):
    gauge = device("rain_gauge")
    topic = f"citygis/devices/{gauge.code}/readings"
    doc = {"observed_at": timezone.localtime().isoformat(), "values": {"ra\u0000in": 1}}
    result = ingest_messages([(topic, json.dumps(doc).encode()), (topic, b"\x00\x00{")])
    assert (result.inserted, result.dead_letters) == (0, 2)
    letters = dict(DeadLetter.objects.values_list("reason", "payload"))
    assert set(letters) == {"values.ra\ufffdin: unknown quantity", "payload: not UTF-8 JSON (JSONDecodeError)"}
    assert letters["payload: not UTF-8 JSON (JSONDecodeError)"] == "\ufffd\ufffd{"


def test_a_batch_stores_the_good_and_dead_letters_the_bad(device):
    gauge = device("rain_gauge")
    good = json.dumps({"observed_at": (timezone.localtime() - dt.timedelta(minutes=1)).isoformat(),
                       "values": {"rain_mm": 0.2}}).encode()
    result = ingest_messages([(f"citygis/devices/{gauge.code}/readings", good),
                              (f"citygis/devices/{gauge.code}/status", good),
                              (f"citygis/devices/{gauge.code}/readings", b'{"values": {"rain_mm": NaN}}')])
    assert (result.received, result.inserted, result.dead_letters) == (3, 1, 2)
    assert reading_count(gauge.pk) == 1
    assert sorted(DeadLetter.objects.values_list("reason", flat=True)) == [
        "payload: not UTF-8 JSON (ValueError)", "topic: not citygis/devices/{device_code}/readings"]


@pytest.mark.parametrize(("topic", "code"), [
    ("citygis/devices/RG-1/readings", "RG-1"), ("citygis/devices/a/b/readings", None),
    ("citygis/devices//readings", None), ("other/RG-1/readings", None), ("citygis/devices/RG-1/status", None),
])
def test_device_code_of_topic(topic, code):
    assert device_code_of(topic, "citygis/devices/") == code
