"""citygis simulate_rainstorm: publish a plausible storm (city_gis/hazards/storm.py) over MQTT to the demo devices.

Readings go to `{prefix}{device}/readings` with QoS 1 (DESIGN.md); simulated time runs `--speed` times faster
than the clock and is anchored so the storm ends when the publishing does (every observed_at is in the past
when sent). A running `citygis hazard_consumer` turns them into blue → yellow → orange alerts and patrol tasks.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from itertools import groupby

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from city_gis.hazards import storm
from city_gis.hazards.mqtt import parse_url

PUBLISH_TIMEOUT_S = 10


class Command(BaseCommand):
    help = "Publish a simulated rainstorm over MQTT to the demo hazard devices (docs/hazards.md)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--speed", type=float, default=60.0, help="simulated seconds per second (≥ 1; default 60)")
        parser.add_argument("--minutes", type=int, default=480, help="storm duration in simulated minutes (default 480)")
        parser.add_argument("--points", type=int, default=8, help="hazard points under the storm (default 8)")
        parser.add_argument("--step", type=int, default=10, help="minutes between a device's readings (default 10)")
        parser.add_argument("--seed", type=int, default=0, help="chooses the area and the noise (default 0)")
        parser.add_argument("--url", default=None, help="broker (default CITYGIS_MQTT_URL)")
        parser.add_argument("--prefix", default=None, help="topic prefix (default CITYGIS_MQTT_TOPIC_PREFIX)")

    def handle(self, *args, **o) -> None:
        if not 1 <= o["speed"] <= 1_000_000:
            raise CommandError("--speed must be between 1 and 1000000")
        if not 10 <= o["minutes"] <= 72 * 60 or not 1 <= o["step"] <= 60 or not 1 <= o["points"] <= 200:
            raise CommandError("--minutes 10…4320, --step 1…60, --points 1…200")
        points = storm.pick_points(o["points"], o["seed"])
        if not points:
            raise CommandError("no monitored hazard point with devices (build the demo first)")
        speed, minutes = o["speed"], o["minutes"]
        wall_s = minutes * 60 / speed
        t0 = time.monotonic()
        start = timezone.localtime() + dt.timedelta(seconds=wall_s) - dt.timedelta(minutes=minutes)
        readings = storm.series(points, minutes=minutes, step_minutes=o["step"], start=start, seed=o["seed"])
        prefix = o["prefix"] if o["prefix"] is not None else settings.CITYGIS_MQTT_TOPIC_PREFIX
        self.stdout.write(f"storm over {len(points)} points (centre {points[0].code}), {len(readings)} readings, "
                          f"{minutes} simulated minutes in {wall_s:.0f} s")
        client = _connect(o["url"] or settings.CITYGIS_MQTT_URL)
        try:
            steps = [list(g) for _, g in groupby(readings, key=lambda r: r.observed_at)]
            for step in tqdm(steps, unit="step", disable=None):
                due = t0 + (step[0].observed_at - start).total_seconds() / speed
                if (delay := due - time.monotonic()) > 0:
                    time.sleep(delay)
                # one step's messages in flight at a time: a bounded window of unacknowledged QoS-1 messages
                infos = [client.publish(f"{prefix}{r.device}/readings", json.dumps(r.payload()), qos=1) for r in step]
                for info in infos:
                    info.wait_for_publish(PUBLISH_TIMEOUT_S)
                    if not info.is_published():
                        raise CommandError("the broker did not acknowledge a reading in time")
        finally:
            client.loop_stop()
            client.disconnect()
        self.stdout.write(self.style.SUCCESS(f"published {len(readings)} readings"))


def _connect(url: str) -> mqtt.Client:
    b = parse_url(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"citygis-storm-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    if b.username:
        client.username_pw_set(b.username, b.password)
    if b.tls:
        client.tls_set()
    client.connect(b.host, b.port)
    client.loop_start()
    return client
