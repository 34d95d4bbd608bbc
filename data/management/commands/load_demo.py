"""`citygis load_demo`: build the Liupanshui demo city (idempotent; --force rebuilds every step)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from data.demo.builder import DemoContext, build_demo


class Command(BaseCommand):
    help = "Build the Liupanshui demo dataset (accounts, city, rasters, grid, categories, components, case history)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="rerun steps already done")
        parser.add_argument("--only", nargs="*", help="run only these steps")
        parser.add_argument("--seed", type=int, default=20261125)
        parser.add_argument("--history-days", type=int, default=90)
        parser.add_argument("--cases-per-day", type=int, default=300)
        parser.add_argument("--quiet", action="store_true", help="no progress bars")

    def handle(self, *args, **opts):
        ctx = DemoContext(
            seed=opts["seed"],
            history_days=opts["history_days"],
            cases_per_day=opts["cases_per_day"],
            progress=not opts["quiet"],
        )
        log = (lambda m: None) if opts["quiet"] else self.stdout.write
        ran = build_demo(ctx, force=opts["force"], only=opts["only"], log=log)
        if not opts["quiet"]:
            self.stdout.write(self.style.SUCCESS(f"demo ready ({', '.join(ran) or 'nothing to do'})"))
