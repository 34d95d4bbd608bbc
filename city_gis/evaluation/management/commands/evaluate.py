"""`citygis evaluate --period 2026-10 [--level …] [--start … --end …] [--format csv|xlsx -o FILE]`."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from city_gis.evaluation.config import ConfigError, get_config
from city_gis.evaluation.engine import evaluate
from city_gis.evaluation.export import FORMATS, export
from city_gis.evaluation.indicators import LEVELS
from city_gis.evaluation.maplayers import GEOM_SOURCES, refresh_area_scores, register_layers
from city_gis.evaluation.periods import PeriodError, resolve_period


class Command(BaseCommand):
    help = "计算综合评价指标（任意时段、任意层级），可导出 CSV/XLSX；并刷新评价地图图层。"

    def add_arguments(self, parser):
        parser.add_argument("--period", help="2026 | 2026-Q4 | 2026-W44 | 2026-10 | 2026-10-05 (default: this month)")
        parser.add_argument("--start", help="first day YYYY-MM-DD (with --end instead of --period)")
        parser.add_argument("--end", help="last day YYYY-MM-DD, inclusive")
        parser.add_argument("--level", action="append", choices=list(LEVELS),
                            help="level to compute (repeatable; default: all)")
        parser.add_argument("--format", choices=FORMATS, help="export format (needs -o unless one level to stdout)")
        parser.add_argument("-o", "--output", help="export file; with several levels, one file per level "
                                                   "(<stem>-<level><suffix>)")
        parser.add_argument("--no-map", action="store_true", help="do not refresh the evaluation map layers")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args, **opts):
        try:
            period = resolve_period(opts["period"], opts["start"], opts["end"])
            get_config()
        except PeriodError as exc:
            raise CommandError(f"--{exc.field}: {exc.message}") from exc
        except ConfigError as exc:
            raise CommandError(str(exc)) from exc
        levels = opts["level"] or list(LEVELS)
        fmt = opts["format"] or (Path(opts["output"]).suffix.lstrip(".").lower() if opts["output"] else None)
        if fmt and fmt not in FORMATS:
            raise CommandError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        if fmt and not opts["output"] and len(levels) > 1:
            raise CommandError("--output: required when exporting several levels")
        console = Console(stderr=True, quiet=opts["quiet"])
        results = {}
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"评价 {period.label}", total=len(levels))
            for level in levels:
                progress.update(task, description=f"评价 {period.label}: {level}")
                results[level] = evaluate(level, period)
                progress.advance(task)
        if fmt:
            self._export(results, period, fmt, opts["output"], console)
        elif not opts["quiet"]:
            for level, rows in results.items():
                table = Table(title=f"{LEVELS[level].label} {period.label}")
                for col in ("unit", "name", "score", "grade"):
                    table.add_column(col)
                for r in rows[:20]:
                    table.add_row(r.unit, r.name, f"{r.score:.2f}", r.grade)
                Console().print(table)
                if len(rows) > 20:
                    console.print(f"… {len(rows) - 20} more")
        if not opts["no_map"]:
            area_levels = tuple(lv for lv in GEOM_SOURCES if lv in levels)
            if area_levels:
                register_layers()
                n = refresh_area_scores(period, levels=area_levels)
                console.print(f"地图图层已刷新：{n} 个区域（{period.label}）")

    def _export(self, results, period, fmt, output, console):
        if not output:
            (level, rows), = results.items()
            sys.stdout.buffer.write(export(level, period, rows, fmt))
            return
        out = Path(output)
        for level, rows in results.items():
            path = out if len(results) == 1 else out.with_name(f"{out.stem}-{level}{out.suffix or '.' + fmt}")
            try:
                path.write_bytes(export(level, period, rows, fmt))
            except OSError as exc:
                raise CommandError(f"--output: cannot write {path}: {exc.strerror}") from exc
            console.print(f"已导出 {path}（{len(rows)} 行）")
