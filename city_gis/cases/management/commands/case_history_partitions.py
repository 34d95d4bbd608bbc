"""`citygis case_history_partitions`: create the case history's monthly partitions ahead and move rows out of
the default partition (idempotent; run by scripts/setup.sh and meant for a monthly cron)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from city_gis.cases.partitions import ensure_partitions, partition_names, waiting_rows


class Command(BaseCommand):
    help = "Create the case history's monthly partitions ahead and empty its default partition."

    def handle(self, *args, **opts) -> None:
        made = ensure_partitions()
        names = partition_names()
        self.stdout.write(f"case history: {made} partition(s) made, {len(names)} in all "
                          f"({names[0]} … {names[-2] if len(names) > 1 else names[0]}), "
                          f"{waiting_rows()} row(s) in the default partition")
