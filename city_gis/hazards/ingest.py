"""Storing readings: one transaction per batch, idempotent, then alert evaluation for the devices that changed.

`store` inserts with INSERT … ON CONFLICT DO NOTHING on (device_id, observed_at): a repeated reading (MQTT
redelivery, a gateway resending) is skipped, an out-of-order one is simply stored. `ingest_messages` is the
MQTT path (topic + raw payload; refusals become dead letters, the rest is stored), `ingest_batch` the HTTP
path (all or nothing: the first refusal is raised with its field and nothing is stored).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg2 import errors
from psycopg2.extras import execute_values

from . import alerts
from .models import DeadLetter
from .partitions import ensure_partitions, retention_start
from .validation import (
    QUANTITIES,
    Reading,
    ReadingError,
    decode_payload,
    known_devices,
    max_payload_bytes,
    validate,
)

COLUMNS = list(QUANTITIES)  # one column per quantity, in contract order
DEAD_LETTER_PAYLOAD_CHARS = 2000  # the start of a refused payload kept in the dead-letter log


@dataclass
class Result:
    """What one batch did."""

    received: int = 0
    inserted: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    changes: list[alerts.Change] = field(default_factory=list)


def topic_prefix() -> str:
    return settings.CITYGIS_MQTT_TOPIC_PREFIX


def device_code_of(topic: str, prefix: str | None = None) -> str | None:
    """`{prefix}{code}/readings` → code; None for any other topic."""
    prefix = topic_prefix() if prefix is None else prefix
    if not topic.startswith(prefix) or not topic.endswith("/readings"):
        return None
    code = topic[len(prefix):-len("/readings")]
    return code if code and "/" not in code else None


def _insert(rows: list[tuple]) -> int:
    query = (f"INSERT INTO hazards_reading (device_id, observed_at, {', '.join(COLUMNS)}) VALUES %s "
             "ON CONFLICT (device_id, observed_at) DO NOTHING RETURNING 1")
    with connection.cursor() as cur:
        return len(execute_values(cur.cursor, query, rows,
                                  page_size=max(len(rows), 1), fetch=True))


def store(readings: list[Reading], *, evaluate: bool = True, now: dt.datetime | None = None) -> Result:
    """Insert `readings` (skipping ones already stored), advance each device's last_reading_at and evaluate the
    alert rules for the devices that got new rows. Runs in (or as) one transaction."""
    result = Result(received=len(readings))
    if not readings:
        return result
    rows = [(r.device_id, r.observed_at, *(r.values.get(c) for c in COLUMNS)) for r in readings]
    with transaction.atomic():
        try:
            with transaction.atomic():
                result.inserted = _insert(rows)
        except errors.CheckViolation:
            # "no partition of relation found": a month not created yet (clock moved on since the last check)
            ensure_partitions()
            result.inserted = _insert(rows)
        result.duplicates = len(rows) - result.inserted
        newest: dict[int, dt.datetime] = {}
        for r in readings:
            if r.device_id not in newest or r.observed_at > newest[r.device_id]:
                newest[r.device_id] = r.observed_at
        with connection.cursor() as cur:
            execute_values(cur.cursor,
                           "UPDATE hazards_device d SET last_reading_at = v.t FROM (VALUES %s) AS v(id, t) "
                           "WHERE d.id = v.id AND (d.last_reading_at IS NULL OR d.last_reading_at < v.t)",
                           list(newest.items()), template="(%s::bigint, %s::timestamptz)", page_size=max(len(newest), 1))
        if evaluate and result.inserted:
            result.changes = alerts.evaluate_devices(list(newest), now=now)
    return result


def _text(value: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL: a hostile payload must still fit in the dead-letter log
    return value[:limit].replace("\x00", "\ufffd")


def _truncate(raw: bytes) -> str:
    return _text(raw[: DEAD_LETTER_PAYLOAD_CHARS * 4].decode("utf-8", errors="replace"), DEAD_LETTER_PAYLOAD_CHARS)


def dead_letter(topic: str, payload: bytes, reason: str) -> DeadLetter:
    """A dead-letter row for a refused message (texts truncated, NUL replaced)."""
    return DeadLetter(topic=_text(topic, 300), payload=_truncate(payload), reason=_text(reason, 300))


def ingest_messages(messages: list[tuple[str, bytes]], *, prefix: str | None = None,
                    now: dt.datetime | None = None) -> Result:
    """The MQTT path: validate every (topic, payload); refusals go to the dead-letter log, the rest is stored,
    all in one transaction."""
    now = now or timezone.now()
    prefix = topic_prefix() if prefix is None else prefix
    codes = {device_code_of(t, prefix) for t, _p in messages} - {None}
    devices = known_devices(codes)  # type: ignore[arg-type]
    readings, dead = [], []
    oldest = retention_start(now)
    for topic, payload in messages:
        try:
            code = device_code_of(topic, prefix)
            if code is None:
                raise ReadingError("topic", f"not {prefix}{{device_code}}/readings")
            readings.append(validate(code, decode_payload(payload), devices, now, device_field="topic",
                                     oldest=oldest))
        except ReadingError as exc:
            dead.append(dead_letter(topic, payload, str(exc)))
    with transaction.atomic():
        result = store(readings, now=now)
        DeadLetter.objects.bulk_create(dead)
    result.received, result.dead_letters = len(messages), len(dead)
    return result


def max_batch() -> int:
    return int(settings.CITYGIS_HAZARD_MAX_BATCH)


def validate_batch(items: Any, *, now: dt.datetime | None = None) -> list[Reading]:
    """The HTTP path's check: a list of {device, observed_at, values}; ReadingError naming `readings[i].field`."""
    now = now or timezone.now()
    if not isinstance(items, list) or not items:
        raise ReadingError("readings", "required: a non-empty list")
    if len(items) > max_batch():
        raise ReadingError("readings", f"more than {max_batch()} readings")
    codes = {i.get("device") for i in items if isinstance(i, dict) and isinstance(i.get("device"), str)}
    devices = known_devices(codes)
    oldest = retention_start(now)
    out = []
    for n, item in enumerate(items):
        try:
            if isinstance(item, dict) and len(json.dumps(item, ensure_ascii=False).encode()) > max_payload_bytes():
                raise ReadingError("payload", f"larger than {max_payload_bytes()} bytes")
            out.append(validate(item.get("device") if isinstance(item, dict) else None, item, devices, now,
                                oldest=oldest))
        except ReadingError as exc:
            field_name = f"readings[{n}]" if exc.field == "payload" else f"readings[{n}].{exc.field}"
            raise ReadingError(field_name, exc.message) from None
    return out


def ingest_batch(items: Any, *, now: dt.datetime | None = None) -> Result:
    """Validate the whole batch first, then store it: a refusal stores nothing."""
    return store(validate_batch(items, now=now), now=now)
