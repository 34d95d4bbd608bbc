"""`citygis hazard_partitions`: create the readings' month partitions ahead and drop those past retention."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from city_gis.hazards.partitions import drop_expired, ensure_partitions, partition_names


class Command(BaseCommand):
    help = ("Create monthly partitions of hazards_reading ahead (CITYGIS_HAZARD_PARTITIONS_AHEAD) and drop those "
            "older than CITYGIS_HAZARD_RETENTION_MONTHS.")

    def add_arguments(self, parser):
        parser.add_argument("--no-drop", action="store_true", help="only create, never drop")

    def handle(self, *args, **opts):
        made = ensure_partitions()
        dropped = 0 if opts["no_drop"] else drop_expired()
        names = partition_names()
        self.stdout.write(f"{made} created, {dropped} dropped; {len(names)} partitions "
                          f"({names[0] if names else '-'} … {names[-1] if names else '-'}), "
                          f"retention {settings.CITYGIS_HAZARD_RETENTION_MONTHS} months")
