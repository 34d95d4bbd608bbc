"""The MQTT consumer against the real Mosquitto: readings land once, malformed ones are dead letters, the
consumer keeps going; the persistent session keeps QoS-1 messages while the consumer is away, unacknowledged
ones come again, and a broker restart (a private Mosquitto, so the shared one is never disturbed) loses none.

The consumer's network side runs in paho's thread; its batches are stored in the test's thread and transaction
(rolled back afterwards), each test on its own topic prefix and client id.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from django.utils import timezone

from city_gis.hazards.models import DeadLetter
from city_gis.hazards.mqtt import Consumer, parse_url

from .conftest import reading_count

pytestmark = pytest.mark.django_db
SHARED = "mqtt://127.0.0.1:1883"


@pytest.fixture
def prefix(settings) -> str:
    settings.CITYGIS_MQTT_SESSION_EXPIRY_S = 120  # test sessions do not linger on the shared broker
    return f"citygis-test/{uuid.uuid4().hex[:10]}/devices/"


def publisher(url: str) -> mqtt.Client:
    b = parse_url(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.connect(b.host, b.port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, topic: str, payload: bytes | dict) -> None:
    data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    client.publish(topic, data, qos=1).wait_for_publish(5)


def reading(minutes_ago: float, **values) -> dict:
    return {"observed_at": (timezone.localtime() - dt.timedelta(minutes=minutes_ago)).isoformat(),
            "values": values or {"rain_mm": 0.5}}


def consumer(url: str, prefix: str, client_id: str | None = None) -> Consumer:
    c = Consumer(url=url, client_id=client_id or f"test-{uuid.uuid4().hex[:10]}", prefix=prefix, batch_wait=0.05,
                 check_interval=0)
    c.start()
    assert c.connected.wait(10), "consumer did not connect"
    return c


def drain(c: Consumer, received: int, timeout: float = 10) -> None:
    """Process batches in this thread until `received` messages were handled (or fail after timeout)."""
    deadline = time.monotonic() + timeout
    stop = threading.Event()
    while c.stats.received < received:
        assert time.monotonic() < deadline, f"only {c.stats.received} of {received} messages arrived"
        c.run(stop, idle_timeout=0.2, until_idle=True)


def test_readings_land_once_malformed_ones_are_dead_letters_and_the_consumer_goes_on(device, prefix):
    gauge = device("rain_gauge")
    topic = f"{prefix}{gauge.code}/readings"
    c = consumer(SHARED, prefix)
    pub = publisher(SHARED)
    try:
        first = reading(30)
        for payload in [first, reading(20), reading(10), first]:  # the last one repeats the first
            publish(pub, topic, payload)
        publish(pub, topic, b"{not json")
        publish(pub, topic, reading(5, rain_mm=-3.0))
        publish(pub, f"{prefix}NO-SUCH-DEVICE/readings", reading(5))
        publish(pub, topic, b"x" * 5000)
        drain(c, 8)
        assert reading_count(gauge.pk) == 3
        assert (c.stats.inserted, c.stats.duplicates, c.stats.dead_letters) == (3, 1, 4)
        reasons = dict(DeadLetter.objects.filter(topic__startswith=prefix).values_list("payload", "reason"))
        assert reasons[b"{not json".decode()] == "payload: not UTF-8 JSON (JSONDecodeError)"
        assert sorted(reasons.values()) == sorted([
            "payload: not UTF-8 JSON (JSONDecodeError)", "values.rain_mm: outside the possible range 0…500 mm",
            "topic: unknown device", "payload: larger than 4096 bytes"])
        assert len(next(p for p in reasons if p.startswith("xxx"))) == 2000  # truncated
        publish(pub, topic, reading(1))  # still consuming
        drain(c, 9)
        assert reading_count(gauge.pk) == 4
    finally:
        pub.loop_stop()
        c.stop()


def test_the_persistent_session_keeps_readings_published_while_the_consumer_is_away(device, prefix):
    gauge = device("rain_gauge")
    client_id = f"test-{uuid.uuid4().hex[:10]}"
    consumer(SHARED, prefix, client_id).stop()  # subscribed once, then away
    pub = publisher(SHARED)
    for minutes in (50, 40, 30, 20, 10):
        publish(pub, f"{prefix}{gauge.code}/readings", reading(minutes))
    pub.loop_stop()
    c = consumer(SHARED, prefix, client_id)  # same client id: the session and its queue are resumed
    try:
        drain(c, 5)
        assert reading_count(gauge.pk) == 5
    finally:
        c.stop()


def test_messages_not_acknowledged_before_a_disconnect_are_delivered_again(device, prefix):
    gauge = device("rain_gauge")
    client_id = f"test-{uuid.uuid4().hex[:10]}"
    first = consumer(SHARED, prefix, client_id)
    pub = publisher(SHARED)
    for minutes in (30, 20, 10):
        publish(pub, f"{prefix}{gauge.code}/readings", reading(minutes))
    pub.loop_stop()
    deadline = time.monotonic() + 10
    while first.inbox.qsize() < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.stop()  # received, never stored nor acknowledged (as if the process died before its commit)
    again = consumer(SHARED, prefix, client_id)
    try:
        drain(again, 3)
        assert reading_count(gauge.pk) == 3
    finally:
        again.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateBroker:
    """A Mosquitto of this test only (persistence on), restartable on the same port."""

    def __init__(self, workdir) -> None:
        self.port = _free_port()
        self.conf = workdir / "mosquitto.conf"
        # `user`: started as root, mosquitto would drop to user mosquitto, who cannot write the persistence file
        self.conf.write_text(f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             "persistence true\n"
                             f"persistence_location {workdir}/\nmax_queued_messages 0\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "private mosquitto did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: mosquitto writes its persistence file
            self.proc.wait(10)


@pytest.fixture
def private_broker(tmp_path):
    if not (shutil.which("mosquitto") or shutil.os.path.exists("/usr/sbin/mosquitto")):
        pytest.fail("mosquitto is not installed (scripts/setup.sh installs it)")
    broker = PrivateBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def test_a_broker_restart_loses_no_qos1_reading_and_the_consumer_reconnects(device, prefix, private_broker):
    gauge = device("rain_gauge")
    c = consumer(private_broker.url, prefix)
    try:
        pub = publisher(private_broker.url)
        for minutes in (40, 30, 20):
            publish(pub, f"{prefix}{gauge.code}/readings", reading(minutes))
        pub.loop_stop()
        deadline = time.monotonic() + 10
        while c.inbox.qsize() < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # delivered but not yet acknowledged when the broker goes down
        private_broker.stop()
        c.inbox.queue.clear()  # what the consumer held is gone with it: only the broker's copy counts
        deadline = time.monotonic() + 10
        while c.connected.is_set():  # the consumer notices the lost connection
            assert time.monotonic() < deadline
            time.sleep(0.05)
        private_broker.start()
        assert c.connected.wait(20), "consumer did not reconnect after the broker restart"
        drain(c, 3, timeout=15)  # redelivered from the broker's persisted session
        pub = publisher(private_broker.url)
        publish(pub, f"{prefix}{gauge.code}/readings", reading(10))
        pub.loop_stop()
        drain(c, 4)
        assert reading_count(gauge.pk) == 4
    finally:
        c.stop()
