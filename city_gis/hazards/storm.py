"""The rainstorm model of `citygis simulate_rainstorm`: a plausible storm over the hazard points of one area.

`series()` is pure (points, duration, step, start, seed → readings in time order): rain intensity rises and eases
as a bell curve (σ 40 min) peaking at 40 % of the storm, scaled by each point's wetness (1 at the storm's
centre, falling with distance); at the peak the wettest point gets 58 mm/h, ~95 mm in all, so its 1-hour sum
crosses blue (20), yellow (30) and orange (50 mm) one after another and stays below red. GNSS and crack displacement (cumulative) creep and then accelerate with
the square of the rain fallen, strongest where it is wettest (rates over 24 h need a 6 h span of readings, so
they alert in the storm's later hours). Inclinometers tilt a little, water levels rise a little (below blue).
`pick_points()` chooses the area from the database.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

PEAK_MM_PER_H = 58.0  # rain intensity at the wettest point at the storm's peak
PEAK_AT = 0.4  # the peak, as a fraction of the storm's duration
SIGMA_MIN = 40.0  # the bell's width (standard deviation), minutes
# displacement velocity at the wettest point once all its rain has fallen: over an 8-hour storm the 24-hour
# rate (span ≥ 6 h) reaches orange (10 mm/d GNSS, 5 mm/d crack) and stays below red
GNSS_MM_PER_H = 1.1
CRACK_MM_PER_H = 0.55
BASE = {"gnss": 0.0, "crack_meter": 0.0, "inclinometer": 0.0, "water_level": 1.0}
QUANTITY = {"rain_gauge": "rain_mm", "gnss": "displacement_mm", "crack_meter": "crack_mm",
            "inclinometer": "tilt_deg", "water_level": "water_level_m"}


@dataclass(frozen=True)
class StormPoint:
    """A hazard point under the storm: its code, wetness (0…1] and devices [(code, type)]."""

    code: str
    wetness: float
    devices: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SimReading:
    device: str
    type: str
    point: str
    observed_at: dt.datetime
    values: dict[str, float]

    def payload(self) -> dict:
        """The MQTT payload of DESIGN.md."""
        return {"observed_at": self.observed_at.isoformat(), "values": self.values}


def intensity(minute: float, minutes: float, wetness: float) -> float:
    """Rain intensity (mm/h) at `minute` of a storm of `minutes` for a point of this wetness."""
    return PEAK_MM_PER_H * wetness * math.exp(-0.5 * ((minute - PEAK_AT * minutes) / SIGMA_MIN) ** 2)


def series(points: list[StormPoint], *, minutes: int, step_minutes: int = 10, start: dt.datetime,
           seed: int = 0) -> list[SimReading]:
    """Every device's readings every `step_minutes` from `start` + one step to `start` + `minutes`, in time
    order (deterministic for a seed: the noise is ±5 % of the rain)."""
    rng = random.Random(seed)
    steps = max(1, minutes // step_minutes)
    h = step_minutes / 60.0
    total_wettest = sum(intensity((i + 0.5) * step_minutes, minutes, 1.0) * h for i in range(steps)) or 1.0
    state: dict[str, float] = {}
    out: list[SimReading] = []
    rain_so_far = {p.code: 0.0 for p in points}
    for i in range(steps):
        minute = (i + 0.5) * step_minutes  # the rain of the step (i·step, (i+1)·step], reported at its end
        at = start + dt.timedelta(minutes=step_minutes * (i + 1))
        for p in points:
            rain = intensity(minute, minutes, p.wetness) * h * (1 + rng.uniform(-0.05, 0.05))
            rain_so_far[p.code] += rain
            soaked = rain_so_far[p.code] / total_wettest  # 0 → ~1 at the wettest point
            for code, kind in p.devices:
                if kind == "rain_gauge":
                    value = round(rain, 2)
                else:
                    speed = {"gnss": GNSS_MM_PER_H, "crack_meter": CRACK_MM_PER_H,
                             "inclinometer": 0.02, "water_level": 0.05}.get(kind, 0.0)
                    # creep (a twentieth of the full speed) plus acceleration with the square of the soaking
                    v = speed * p.wetness * (0.05 + soaked ** 2)
                    state[code] = state.get(code, BASE.get(kind, 0.0)) + v * h
                    value = round(state[code], 3)
                out.append(SimReading(code, kind, p.code, at, {QUANTITY[kind]: value}))
    return out


def rolling_sum(readings: list[SimReading], device: str, hours: float) -> list[tuple[dt.datetime, float]]:
    """(time, sum over the last `hours`) of a rain gauge's readings — what rule `rain_1h` computes."""
    mine = [(r.observed_at, r.values["rain_mm"]) for r in readings if r.device == device]
    window = dt.timedelta(hours=hours)
    return [(t, sum(v for u, v in mine if t - window < u <= t)) for t, _ in mine]


def pick_points(k: int, seed: int = 0) -> list[StormPoint]:
    """The storm's area: a monitored hazard point with a GNSS device (chosen by the seed) and its k − 1 nearest
    monitored neighbours; wetness 1 at the centre falling linearly to 0.35 at the farthest."""
    from django.contrib.gis.db.models.functions import Distance

    from .models import Device, DeviceStatus, MonitoredPoint

    candidates = list(MonitoredPoint.objects.filter(hazard_point__devices__type="gnss", monitor__isnull=False)
                      .values_list("hazard_point_id", flat=True).distinct().order_by("hazard_point_id"))
    if not candidates:
        return []
    centre_id = random.Random(seed).choice(candidates)
    from layers.models import HazardPoint

    centre = HazardPoint.objects.get(pk=centre_id)
    near = list(HazardPoint.objects.filter(monitoring__isnull=False, devices__isnull=False).distinct()
                .annotate(d=Distance("geom", centre.geom)).order_by("d", "code")[:max(1, k)])
    far = max((p.d.m for p in near), default=0.0) or 1.0
    devices: dict[int, list[tuple[str, str]]] = {}
    for code, kind, pid in (Device.objects.filter(hazard_point__in=near, status=DeviceStatus.ACTIVE)
                            .order_by("code").values_list("code", "type", "hazard_point_id")):
        devices.setdefault(pid, []).append((code, kind))
    return [StormPoint(p.code, round(1.0 - 0.65 * (p.d.m / far if len(near) > 1 else 0.0), 3),
                       tuple(devices.get(p.pk, ()))) for p in near]
