"""Bench: sensor readings over MQTT into hazards_reading with rule evaluation, against COPY of the same rows.

BENCH_HAZARD_READINGS (default 200,000) readings from BENCH_HAZARD_DEVICES (default 2,000) scratch rain gauges
on scratch hazard points (ten gauges each; removed afterwards with their alerts) are published QoS 1 to a
private Mosquitto (persistence on, a free port, restarted once in the middle of the run) and consumed by
`citygis hazard_consumer` in its own process. One gauge of each point publishes one threshold-crossing reading
(25 mm: rain_1h blue); its publish time against the alert's opened_at gives the publish-to-alert latency.
Prints the sustained readings/s (first to last stored row), p50/p95 latency, lost/doubled counts (the table must
hold exactly one row per reading), the floor — COPY of the same rows into the same table — and the ratio.
`--quick`: 20,000 readings from 500 devices. Runs against DATABASE_URL (default the `citygis` database, which
needs the hazards migrations).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._support import free_port, setup_django

PREFIX = "BENCHHZ-"
CROSSING_MM = 25.0
WINDOW = 2000  # most publishes a publisher has not had acknowledged


class Broker:
    """A private Mosquitto (persistence, unlimited queues) that can be restarted on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             f"persistence true\npersistence_location {workdir}/\nmax_queued_messages 0\n"
                             f"max_inflight_messages 0\nlog_dest file {workdir}/mosquitto.log\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import socket

        self.proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def make_devices(n: int) -> list:
    """`n` scratch rain gauges on n / 10 scratch hazard points (their alerts go with them afterwards)."""
    from django.contrib.gis.geos import Point
    from django.db import transaction

    from city_gis.hazards.models import Device, DeviceType
    from city_gis.hazards.partitions import ensure_partitions
    from layers.models import HazardPoint

    ensure_partitions()
    cleanup()
    with transaction.atomic():
        points = HazardPoint.objects.bulk_create([
            HazardPoint(code=f"{PREFIX}{k:04d}", kind="landslide", risk_level="low", name=f"基准隐患点{k}",
                        source="bench", synthetic=True, geom=Point(104.7 + k * 1e-3, 26.5, srid=4490))
            for k in range(max(1, n // 10))])
        Device.objects.bulk_create([Device(code=f"{PREFIX}{k:05d}", type=DeviceType.RAIN_GAUGE,
                                           hazard_point=points[k % len(points)], location=points[k % len(points)].geom,
                                           installed_on=dt.date(2025, 1, 1)) for k in range(n)])
    return list(Device.objects.filter(code__startswith=PREFIX).order_by("code"))


def cleanup() -> None:
    """Remove the scratch points (their devices, readings and alerts cascade)."""
    from layers.models import HazardPoint

    HazardPoint.objects.filter(code__startswith=PREFIX).delete()


def plan(devices: list, total: int) -> list[tuple[str, int, dt.datetime, float]]:
    """(code, device id, observed_at, rain_mm) in publish order: round-robin over devices, one minute apart."""
    from django.utils import timezone

    per = total // len(devices)
    points = max(1, len(devices) // 10)
    start = timezone.now() - dt.timedelta(minutes=per + 1)
    rows = []
    for k in range(per):
        for n, d in enumerate(devices):
            # one gauge of each point crosses once, the points spread over the middle half of the run
            crossing = n < points and k == per // 4 + n % max(1, per // 2)
            rows.append((d.code, d.pk, start + dt.timedelta(minutes=k), CROSSING_MM if crossing else 0.1))
    return rows


def stored(ids: list[int]) -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT (device_id, observed_at)) FROM hazards_reading "
                    "WHERE device_id = ANY(%s)", [ids])
        return cur.fetchone()


def copy_floor(rows, ids: list[int]) -> float:
    """Seconds to COPY the same readings into the same (emptied) table."""
    from django.db import connection, transaction

    from city_gis.hazards.ingest import COLUMNS

    with connection.cursor() as cur:
        cur.execute("DELETE FROM hazards_reading WHERE device_id = ANY(%s)", [ids])
    buf = io.StringIO()
    for _code, pk, when, rain in rows:
        buf.write(f"{pk}\t{when.isoformat()}\t{rain}\n")
    buf.seek(0)
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.cursor.copy_expert(f"COPY hazards_reading (device_id, observed_at, {COLUMNS[0]}) FROM STDIN", buf)
    return time.perf_counter() - t


def prime_session(port: int, client_id: str, topic: str) -> None:
    """Create the consumer's persistent session and subscription before it starts (its start-up is slow on a
    busy machine): what is published meanwhile waits in the session, as in production."""
    import paho.mqtt.client as mqtt
    from django.conf import settings
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = settings.CITYGIS_MQTT_SESSION_EXPIRY_S
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    c.subscribe(topic, qos=1)
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()


def run(total: int, n_devices: int, restart: bool = True, rate: float = 0.0) -> None:
    import paho.mqtt.client as mqtt
    from django.db import connection

    from city_gis.hazards.models import Alert, Device

    devices = make_devices(n_devices)
    ids = [d.pk for d in devices]
    rows = plan(devices, total)
    topic_prefix = f"bench/{uuid.uuid4().hex[:8]}/devices/"
    workdir = Path(tempfile.mkdtemp(prefix="citygis-bench-mqtt-"))
    broker = Broker(workdir)
    broker.start()
    url = f"mqtt://127.0.0.1:{broker.port}"
    env = {**os.environ, "CITYGIS_HAZARD_CHECK_INTERVAL_S": "3600", "LOG_LEVEL": "WARNING"}
    client_id = f"bench-{uuid.uuid4().hex[:8]}"
    consumer_log = open(workdir / "consumer.log", "w")  # noqa: SIM115 — closed with the run
    prime_session(broker.port, client_id, f"{topic_prefix}+/readings")  # queued for it from now on
    consumer = subprocess.Popen([sys.executable, "-m", "city_gis.cli", "hazard_consumer", "--url", url, "--prefix",
                                 topic_prefix, "--client-id", client_id], env=env, stdout=consumer_log,
                                stderr=subprocess.STDOUT)
    try:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}",
                          clean_session=False)
        pub.max_inflight_messages_set(1000)
        pub.max_queued_messages_set(0)
        pub.reconnect_delay_set(0.2, 2)
        acked = [0]
        pub.on_publish = lambda *a: acked.__setitem__(0, acked[0] + 1)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        crossing_sent: dict[int, float] = {}
        t0 = time.perf_counter()
        infos = []
        for i, (code, pk, when, rain) in enumerate(rows):
            if restart and i == len(rows) // 2:
                broker.stop()
                broker.start()
                while not pub.is_connected():  # a device gateway waits for its broker too
                    time.sleep(0.05)
            payload = json.dumps({"observed_at": when.isoformat(), "values": {"rain_mm": rain}})
            if rain == CROSSING_MM:
                crossing_sent[pk] = time.time()
            infos.append(pub.publish(f"{topic_prefix}{code}/readings", payload, qos=1))
            # a gateway's window, not a 100,000-message client-side backlog (paho resends a huge one badly)
            while i - acked[0] > WINDOW:
                time.sleep(0.0005)
            if rate and i % 100 == 99:  # paced: the latency of a consumer that keeps up, not of a backlog
                ahead = t0 + (i + 1) / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
        # every PUBACK received (paho resends what was in flight when the broker went down)
        deadline, done = time.monotonic() + max(300, total / 100), 0
        while done < len(infos):
            while done < len(infos) and infos[done]._published:
                done += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(infos) - done} publishes not acknowledged")
            time.sleep(0.2)
        published = time.perf_counter() - t0
        deadline = time.monotonic() + max(120, total / 500)
        count = 0
        while time.monotonic() < deadline:
            count, _distinct = stored(ids)
            if count >= len(rows):
                break
            time.sleep(0.5)
        time.sleep(1)
        count, distinct = stored(ids)
        with connection.cursor() as cur:
            cur.execute("SELECT extract(epoch FROM max(received_at) - min(received_at)) FROM hazards_reading "
                        "WHERE device_id = ANY(%s)", [ids])
            span = float(cur.fetchone()[0] or 0)
        alerts = dict(Alert.objects.filter(device=None, rule="rain_1h", hazard_point__devices__pk__in=ids)
                      .values_list("pk", "opened_at").distinct())
        # latency per point: its rain_1h alert opened after the first crossing reading of its devices was sent
        first_sent: dict[int, float] = {}
        for pk, point_id in Device.objects.filter(pk__in=list(crossing_sent)).values_list("pk", "hazard_point_id"):
            first_sent[point_id] = min(first_sent.get(point_id, crossing_sent[pk]), crossing_sent[pk])
        opened = {}
        for point_id, sent in first_sent.items():
            a = Alert.objects.filter(hazard_point_id=point_id, rule="rain_1h").order_by("opened_at").first()
            if a is not None:
                opened[point_id] = (a.opened_at.timestamp(), sent)
        latencies = sorted(max(0.0, at - sent) for at, sent in opened.values())
        pub.loop_stop()
    finally:
        consumer.terminate()
        consumer.wait(30)
        broker.stop()
        consumer_log.close()
    if count == len(rows) == distinct:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"hazard_ingest: readings missing; broker and consumer logs kept in {workdir}")
    floor = copy_floor(rows, ids)
    cleanup()
    sustained = len(rows) / span if span else float("nan")
    floor_rate = len(rows) / floor
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else float("nan")
    print(f"hazard_ingest: {len(rows):,} readings from {len(devices):,} devices over MQTT QoS 1"
          f"{' (broker restarted mid-run)' if restart else ''}{f', paced at {rate:,.0f}/s' if rate else ''}; "
          f"published in {published:.1f} s")
    print(f"hazard_ingest: consumer with rule evaluation {sustained:,.0f} readings/s sustained; "
          f"lost {len(rows) - count}, doubled {count - distinct}")
    print(f"hazard_ingest: publish→alert p50 {p50:.2f} s, p95 {p95:.2f} s ({len(latencies)} points crossing, "
          f"{len(alerts)} alerts)")
    print(f"hazard_ingest: floor COPY {floor_rate:,.0f} readings/s; consumer / COPY = {sustained / floor_rate:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hazard_ingest")
    parser.add_argument("--quick", action="store_true", help="20,000 readings from 500 devices")
    parser.add_argument("--readings", type=int, default=int(os.environ.get("BENCH_HAZARD_READINGS", 200_000)))
    parser.add_argument("--devices", type=int, default=int(os.environ.get("BENCH_HAZARD_DEVICES", 2_000)))
    parser.add_argument("--no-restart", action="store_true", help="do not restart the broker mid-run")
    parser.add_argument("--rate", type=float, default=0.0, help="publish at most this many readings/s (0: flat out)")
    args = parser.parse_args(argv if argv is not None else (sys.argv[1:] if __name__ == "__main__" else []))
    setup_django()
    if args.quick:
        args.readings, args.devices = 20_000, 500
    run(args.readings, args.devices, restart=not args.no_restart, rate=args.rate)


if __name__ == "__main__":
    main()
