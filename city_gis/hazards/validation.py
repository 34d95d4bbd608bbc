"""The one validation of a sensor reading, used by the MQTT consumer and the HTTP batch endpoint alike.

A reading is {"observed_at": ISO 8601 with offset, "values": {quantity: number, …}} for one device (DESIGN.md
"Sensor readings over MQTT"). Refused, with the offending field named: an unknown (or retired) device, a
payload above CITYGIS_HAZARD_MAX_PAYLOAD_BYTES, an unknown quantity or one the device type does not measure,
a non-numeric value (JSON numbers only: no strings, booleans, NaN or infinities), a value outside the
quantity's physical range (negative rainfall…), an observed_at without offset, more than
CITYGIS_HAZARD_FUTURE_TOLERANCE_S seconds ahead of the server clock or older than the retention window.
The MQTT path turns a refusal into a dead letter, the HTTP path into a 400 naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from .models import DeviceStatus, DeviceType
from .partitions import retention_start


@dataclass(frozen=True)
class Quantity:
    """A measured quantity: its column in hazards_reading, unit, physically possible range (inclusive)."""

    name: str
    unit: str
    low: float
    high: float


# The quantities of the MQTT contract; column name = quantity name.
QUANTITIES: dict[str, Quantity] = {q.name: q for q in [
    Quantity("rain_mm", "mm", 0.0, 500.0),  # rainfall in the interval since the previous reading
    Quantity("displacement_mm", "mm", -100_000.0, 100_000.0),  # cumulative surface displacement
    Quantity("crack_mm", "mm", -10_000.0, 10_000.0),  # cumulative crack width change
    Quantity("tilt_deg", "°", -90.0, 90.0),
    Quantity("water_level_m", "m", -1_000.0, 9_000.0),
]}
# Which quantities each device type may report.
TYPE_QUANTITIES: dict[str, frozenset[str]] = {
    DeviceType.RAIN_GAUGE: frozenset({"rain_mm"}),
    DeviceType.GNSS: frozenset({"displacement_mm"}),
    DeviceType.CRACK_METER: frozenset({"crack_mm"}),
    DeviceType.INCLINOMETER: frozenset({"tilt_deg"}),
    DeviceType.WATER_LEVEL: frozenset({"water_level_m"}),
}
TIMESTAMP_MAX_CHARS = 40


class ReadingError(ValueError):
    """A refused reading: `field` is the offending key path inside the reading ("values.rain_mm")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class DeviceRef:
    """What validation needs to know of a device."""

    id: int
    code: str
    type: str


@dataclass(frozen=True)
class Reading:
    """A valid reading, ready for hazards_reading."""

    device_id: int
    observed_at: dt.datetime
    values: dict[str, float]


def max_payload_bytes() -> int:
    return int(settings.CITYGIS_HAZARD_MAX_PAYLOAD_BYTES)


def known_devices(codes: set[str] | None = None) -> dict[str, DeviceRef]:
    """The devices that may report (not retired), by code; only `codes` when given."""
    from .models import Device

    qs = Device.objects.exclude(status=DeviceStatus.RETIRED)
    if codes is not None:
        qs = qs.filter(code__in=codes)
    return {code: DeviceRef(pk, code, kind) for pk, code, kind in qs.values_list("pk", "code", "type")}


def decode_payload(raw: bytes) -> Any:
    """Bytes of an MQTT payload → JSON document; size and encoding checked first."""
    if len(raw) > max_payload_bytes():
        raise ReadingError("payload", f"larger than {max_payload_bytes()} bytes")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReadingError("payload", f"not UTF-8 JSON ({exc.__class__.__name__})") from None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def parse_observed_at(value: Any, now: dt.datetime, oldest: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 timestamp with offset, within [retention start, now + tolerance]."""
    if not isinstance(value, str) or not value or len(value) > TIMESTAMP_MAX_CHARS:
        raise ReadingError("observed_at", "required: an ISO 8601 timestamp with offset")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ReadingError("observed_at", "not an ISO 8601 timestamp") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise ReadingError("observed_at", "needs a UTC offset (e.g. +08:00)")
    tolerance = dt.timedelta(seconds=settings.CITYGIS_HAZARD_FUTURE_TOLERANCE_S)
    if when > now + tolerance:
        raise ReadingError("observed_at", f"more than {int(tolerance.total_seconds())} s in the future")
    if when < (oldest or retention_start(now)):
        raise ReadingError("observed_at", "older than the retention window")
    return when


def parse_values(values: Any, device: DeviceRef) -> dict[str, float]:
    """{quantity: number} with known quantities the device type measures, each finite and within range."""
    if not isinstance(values, dict) or not values:
        raise ReadingError("values", "required: an object of quantity → number")
    allowed = TYPE_QUANTITIES[device.type]
    out: dict[str, float] = {}
    for name, value in values.items():
        key = f"values.{name}"
        quantity = QUANTITIES.get(name)
        if quantity is None:
            raise ReadingError(key, "unknown quantity")
        if name not in allowed:
            raise ReadingError(key, f"not measured by a {device.type} device")
        # bool is an int in Python; a JSON true is not a measurement
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ReadingError(key, "not a number")
        number = float(value)
        if not math.isfinite(number):
            raise ReadingError(key, "not a finite number")
        if not quantity.low <= number <= quantity.high:
            raise ReadingError(key, f"outside the possible range {quantity.low:g}…{quantity.high:g} {quantity.unit}")
        out[name] = number
    return out


def validate(device_code: Any, doc: Any, devices: dict[str, DeviceRef], now: dt.datetime | None = None,
             *, device_field: str = "device", oldest: dt.datetime | None = None) -> Reading:
    """One reading of `device_code` (doc = {"observed_at", "values"}) → Reading, or ReadingError.
    `oldest` (default: the retention start) lets a batch compute it once."""
    now = now or timezone.now()
    if not isinstance(device_code, str) or device_code not in devices:
        raise ReadingError(device_field, "unknown device")
    device = devices[device_code]
    if not isinstance(doc, dict):
        raise ReadingError("payload", "not a JSON object")
    extra = sorted(set(doc) - {"observed_at", "values", device_field})
    if extra:
        raise ReadingError(str(extra[0]), "unexpected field")
    observed_at = parse_observed_at(doc.get("observed_at"), now, oldest)
    return Reading(device.id, observed_at, parse_values(doc.get("values"), device))
