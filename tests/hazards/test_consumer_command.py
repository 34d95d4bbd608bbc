"""`citygis hazard_consumer` as `make run` starts it: its own process, the real broker, SIGTERM stops it.

The process writes to the test database outside the test's transaction, so this test removes what it wrote
(readings of one unique minute, its dead letters, the device's last_reading_at) through its own connection.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import paho.mqtt.client as mqtt
import psycopg2
import pytest
from django.db import connection
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from .conftest import reading_count

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def prime(client_id: str, topic: str) -> None:
    """Create the consumer's persistent session first: what is published before it is up waits for it."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 300
    c.connect("127.0.0.1", 1883, clean_start=False, properties=props)
    c.loop_start()
    c.subscribe(topic, qos=1)
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()


def test_the_command_consumes_until_sigterm(device):
    gauge = device("rain_gauge")
    name = connection.settings_dict["NAME"]
    prefix = f"citygis-test/{uuid.uuid4().hex[:10]}/devices/"
    client_id = f"test-cmd-{uuid.uuid4().hex[:8]}"
    # a minute nobody else writes: 1–2 days ago, random seconds
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1, seconds=uuid.uuid4().int % 86400)).replace(microsecond=0)
    before = gauge.last_reading_at
    prime(client_id, f"{prefix}+/readings")
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    payload = json.dumps({"observed_at": when.isoformat(), "values": {"rain_mm": 0.0}})
    for data in (payload, payload, "{broken"):
        pub.publish(f"{prefix}{gauge.code}/readings", data, qos=1).wait_for_publish(5)
    pub.loop_stop()
    env = {**os.environ, "DATABASE_URL": f"postgis:///{name}", "CITYGIS_MQTT_SESSION_EXPIRY_S": "300"}
    proc = subprocess.Popen([sys.executable, "-m", "city_gis.cli", "hazard_consumer", "--prefix", prefix,
                             "--client-id", client_id, "--check-interval", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180  # start-up includes Django's checks: slow on a busy machine
        while reading_count(gauge.pk) < 1:
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the consumer stored nothing"
            time.sleep(0.5)
        time.sleep(2)  # the rest of the (single) batch
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert "hazard consumer stopped: 3 received, 1 stored, 1 duplicates, 1 dead letters" in out
        assert reading_count(gauge.pk) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
        with psycopg2.connect(dbname=name) as own, own.cursor() as cur:
            cur.execute("DELETE FROM hazards_reading WHERE device_id = %s AND observed_at = %s", [gauge.pk, when])
            cur.execute("DELETE FROM hazards_deadletter WHERE topic LIKE %s", [prefix + "%"])
            cur.execute("UPDATE hazards_device SET last_reading_at = %s WHERE id = %s", [before, gauge.pk])
