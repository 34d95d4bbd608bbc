"""The MQTT consumer: readings from `{prefix}{device_code}/readings` (QoS 1) into hazards_reading, in batches.

paho-mqtt 2.x, MQTT 5, fixed client id (CITYGIS_MQTT_CLIENT_ID) with a persistent session (clean start off,
session expiry CITYGIS_MQTT_SESSION_EXPIRY_S): while the consumer is away or the broker restarts (with
persistence on), the broker keeps the QoS-1 messages for it. Messages are acknowledged by hand (manual_ack)
only after the batch holding them is committed, so a crash or a lost connection before the commit means
redelivery, never loss; the primary key makes the redelivery harmless. paho's network thread reconnects with
exponential backoff (1 s … 60 s); the processing loop (`run`) batches up to CITYGIS_HAZARD_BATCH_SIZE messages or
CITYGIS_HAZARD_BATCH_WAIT_S seconds, retries a batch whose transaction failed (database outage), and every
CITYGIS_HAZARD_CHECK_INTERVAL_S runs the offline and all-clear checks; partitions are ensured daily.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, close_old_connections
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from . import alerts, warnings
from .ingest import Result, dead_letter, ingest_messages
from .models import DeadLetter
from .partitions import ensure_partitions

log = logging.getLogger(__name__)
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 60
KEEPALIVE_S = 30
PARTITION_CHECK_S = 24 * 3600


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_url(url: str) -> Broker:
    """mqtt://[user:password@]host[:port] (mqtts:// for TLS) → Broker."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"CITYGIS_MQTT_URL must be mqtt://host[:port] or mqtts://…, not {url!r}")
    return Broker(parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                  unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None, parts.scheme == "mqtts")


class Consumer:
    """One persistent-session subscriber; `start()` connects (in paho's thread), `run()` stores batches."""

    def __init__(self, *, url: str | None = None, client_id: str | None = None, prefix: str | None = None,
                 batch_size: int | None = None, batch_wait: float | None = None,
                 check_interval: float | None = None) -> None:
        self.broker = parse_url(url or settings.CITYGIS_MQTT_URL)
        self.client_id = client_id or settings.CITYGIS_MQTT_CLIENT_ID
        self.prefix = prefix if prefix is not None else settings.CITYGIS_MQTT_TOPIC_PREFIX
        self.batch_size = batch_size or settings.CITYGIS_HAZARD_BATCH_SIZE
        self.batch_wait = batch_wait if batch_wait is not None else settings.CITYGIS_HAZARD_BATCH_WAIT_S
        self.check_interval = check_interval if check_interval is not None else settings.CITYGIS_HAZARD_CHECK_INTERVAL_S
        self.inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.stats = Result()
        self.batches = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                  protocol=mqtt.MQTTv5, manual_ack=True)
        if self.broker.username:
            self.client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    @property
    def topic(self) -> str:
        return f"{self.prefix}+/readings"

    # --- paho's network thread ------------------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT connect refused: %s", reason_code)
            return
        # Subscribing again on a resumed session is harmless and covers a broker that lost its state.
        # `connected` is set on SUBACK, not here: a message published between CONNACK and SUBACK would not
        # reach a session that is new, and "connected" promises that readings from now on are kept.
        client.subscribe(self.topic, qos=1)
        log.info("MQTT connected to %s:%s (session present: %s)", self.broker.host, self.broker.port,
                 flags.session_present)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(rc.is_failure for rc in reason_codes):
            log.warning("MQTT subscription to %s refused: %s", self.topic, reason_codes)
            return
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        log.warning("MQTT disconnected (%s); reconnecting with backoff", reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self.inbox.put(message)

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect asynchronously (retrying until the broker answers) and start paho's network thread."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = settings.CITYGIS_MQTT_SESSION_EXPIRY_S
        props.ReceiveMaximum = settings.CITYGIS_MQTT_RECEIVE_MAXIMUM
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_S, clean_start=False,
                                  properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect (the session and any unacknowledged messages stay with the broker)."""
        self.client.disconnect()
        self.client.loop_stop()

    # --- processing -----------------------------------------------------------------------------------------
    def _collect(self, timeout: float) -> list[mqtt.MQTTMessage]:
        try:
            batch = [self.inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            left = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=left) if left > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def process(self, batch: list[mqtt.MQTTMessage]) -> Result:
        """Store one batch in one transaction, then acknowledge its messages (after the commit)."""
        result = ingest_messages([(m.topic, m.payload) for m in batch], prefix=self.prefix)
        for m in batch:
            self.client.ack(m.mid, m.qos)
        self.batches += 1
        for name in ("received", "inserted", "duplicates", "dead_letters"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(result, name))
        self.stats.changes.extend(result.changes)
        return result

    def isolate(self, batch: list[mqtt.MQTTMessage]) -> bool:
        """Store `batch` message by message; one the database refuses becomes a dead letter (and is acknowledged).
        False when the database went away meanwhile (the caller retries the batch: stored ones are duplicates)."""
        for m in batch:
            try:
                self.process([m])
            except (OperationalError, InterfaceError):
                return False
            except DatabaseError as exc:
                DeadLetter.objects.bulk_create([dead_letter(m.topic, m.payload, f"refused by the database: "
                                                                                f"{exc.__class__.__name__}")])
                self.client.ack(m.mid, m.qos)
                self.stats.dead_letters += 1
        return True

    def periodic(self) -> None:
        alerts.check_offline()
        warnings.apply()
        alerts.close_calm()

    def run(self, stop: threading.Event, *, idle_timeout: float = 0.5, until_idle: bool = False) -> None:
        """Process batches until `stop` is set (or, with until_idle, until nothing arrived for idle_timeout)."""
        next_check = time.monotonic() + self.check_interval
        next_partitions = time.monotonic() + PARTITION_CHECK_S
        pending: list[mqtt.MQTTMessage] = []
        while not stop.is_set():
            batch = pending or self._collect(idle_timeout)
            pending = []
            try:
                if batch:
                    self.process(batch)
                elif until_idle:
                    return
                now = time.monotonic()
                if self.check_interval and now >= next_check:
                    self.periodic()
                    next_check = now + self.check_interval
                if now >= next_partitions:
                    ensure_partitions()
                    next_partitions = now + PARTITION_CHECK_S
            except (OperationalError, InterfaceError):
                # the database is away: nothing acknowledged, the batch is tried again once it is back
                log.exception("storing a batch of %d readings failed; retrying", len(batch))
                pending = batch
                close_old_connections()
                stop.wait(2)
            except DatabaseError:
                # a message the database refuses although it passed validation: find it, never block on it
                log.exception("a batch of %d readings was refused; storing them one by one", len(batch))
                if not self.isolate(batch):
                    pending = batch
                    close_old_connections()
                    stop.wait(2)
