"""`citygis load_categories [FILE]` — load or reload the category trees and stage time limits."""

from django.core.management.base import BaseCommand, CommandError

from city_gis.cases.categories import DEFAULT_FILE, CategoryFileError, load_categories


class Command(BaseCommand):
    help = "加载/重新加载部件事件分类和阶段时限（YAML 或 JSON 文件）"

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default=str(DEFAULT_FILE))

    def handle(self, *args, **opts):
        try:
            stats = load_categories(opts["file"])
        except (CategoryFileError, FileNotFoundError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{opts['file']}: {stats['created']} created, {stats['updated']} updated, "
            f"{stats['deactivated']} deactivated, {stats['stage_limits']} stage limits"
        )
