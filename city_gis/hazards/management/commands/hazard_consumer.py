"""`citygis hazard_consumer`: the long-running MQTT consumer of sensor readings (started by `make run`)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from city_gis.hazards.mqtt import Consumer
from city_gis.hazards.partitions import ensure_partitions


class Command(BaseCommand):
    help = "Consume sensor readings from MQTT (CITYGIS_MQTT_URL) into the readings table and evaluate alert rules."

    def add_arguments(self, parser):
        parser.add_argument("--url", help="broker URL (default CITYGIS_MQTT_URL)")
        parser.add_argument("--client-id", help="MQTT client id (default CITYGIS_MQTT_CLIENT_ID)")
        parser.add_argument("--prefix", help="topic prefix (default CITYGIS_MQTT_TOPIC_PREFIX)")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--check-interval", type=float, help="seconds between offline/all-clear checks")

    def handle(self, *args, **opts):
        ensure_partitions()
        consumer = Consumer(url=opts["url"], client_id=opts["client_id"], prefix=opts["prefix"],
                            batch_size=opts["batch_size"], check_interval=opts["check_interval"])
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        consumer.start()
        self.stdout.write(f"hazard consumer: {consumer.broker.host}:{consumer.broker.port} topic {consumer.topic} "
                          f"client id {consumer.client_id} (Ctrl-C stops)")
        self.stdout.flush()
        try:
            consumer.run(stop)
        finally:
            consumer.stop()
            s = consumer.stats
            self.stdout.write(f"hazard consumer stopped: {s.received} received, {s.inserted} stored, "
                              f"{s.duplicates} duplicates, {s.dead_letters} dead letters, "
                              f"{len(s.changes)} alert changes ({consumer.topic})")
