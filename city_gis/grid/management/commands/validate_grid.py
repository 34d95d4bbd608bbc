"""`citygis validate_grid [--district CODE]` — check the unit grid; exits non-zero listing offending codes."""

from django.core.management.base import BaseCommand, CommandError

from city_gis.grid.validation import validate_grid


class Command(BaseCommand):
    help = "检查单元网格：编码格式、网格位于唯一社区内、无重叠、无缝隙"

    def add_arguments(self, parser):
        parser.add_argument("--district", help="只检查该区县代码下的网格")

    def handle(self, *args, **opts):
        problems = validate_grid(opts.get("district"))
        for p in problems:
            self.stdout.write(str(p))
        if problems:
            raise CommandError(f"{len(problems)} 个网格问题")
        self.stdout.write(self.style.SUCCESS("网格检查通过"))
