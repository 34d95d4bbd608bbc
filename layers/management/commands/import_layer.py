"""`citygis import_layer FILE --layer NAME …` — import a vector file into a registered (or new generic) layer."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from city_gis.accounts.models import User
from layers.importer import LayerCreate, LayerImportError, import_file
from layers.models import Classification, Theme


class Command(BaseCommand):
    help = '导入矢量数据（zip 打包的 Shapefile、GeoPackage、GeoJSON、含经纬度的 CSV）到图层，统一转换为 EPSG:4490'

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--layer", required=True, help=_('图层名 <主题>.<名称>'))
        parser.add_argument("--create", action="store_true", help=_('新建通用图层'))
        parser.add_argument("--theme", choices=Theme.values)
        parser.add_argument("--department", help=_('新建图层的责任部门代码'))
        parser.add_argument("--title-zh", default="")
        parser.add_argument("--title-en", default="")
        parser.add_argument("--classification", choices=Classification.values, default=Classification.INTERNAL)
        parser.add_argument("--srs", help=_('源坐标系（文件未声明时必须给出），如 EPSG:4544'))
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--replace", action="store_true", help=_('先删除图层现有要素'))
        mode.add_argument("--append", action="store_true", help=_('追加（默认）'))
        parser.add_argument("--skip-rejected", action="store_true", help=_('跳过无法导入的行，只写入有效行'))
        parser.add_argument("--user", help=_('以该用户身份导入（检查写权限）'))
        parser.add_argument("--json", action="store_true", help=_('以 JSON 输出导入报告'))

    def handle(self, *args, **opts):
        create = None
        if opts["create"]:
            if not opts["department"]:
                raise CommandError(_('--create 需要 --department'))
            create = LayerCreate(
                department=opts["department"], title_zh=opts["title_zh"], title_en=opts["title_en"],
                theme=opts["theme"], classification=opts["classification"],
            )
        user = None
        if opts["user"]:
            user = User.objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(_('--user: 未知用户 %(value)s') % {'value': opts['user']})
        try:
            report = import_file(
                opts["file"], opts["layer"], user=user, create=create, srs=opts["srs"],
                mode="replace" if opts["replace"] else "append", skip_rejected=opts["skip_rejected"],
                progress=opts["verbosity"] > 0 and not opts["json"],
            )
        except LayerImportError as exc:
            if exc.report:
                self._print_rejected(exc.report)
            text = str(exc)  # format/archive errors already start with the file's name
            if not text.startswith(f"{Path(opts['file']).name}:"):
                text = f"{opts['file']}: {text}"
            raise CommandError(text) from exc
        except PermissionError as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            _("%(layer)s: 读取 %(rows_read)s 行，写入 %(rows_written)s，拒绝 %(rows_rejected)s，修复 %(rows_repaired)s，删除 %(rows_deleted)s（源坐标系 %(source_crs)s）") % {"layer": report.layer, "rows_read": report.rows_read, "rows_written": report.rows_written, "rows_rejected": report.rows_rejected, "rows_repaired": report.rows_repaired, "rows_deleted": report.rows_deleted, "source_crs": report.source_crs}
        )
        self._print_rejected(report.to_dict())

    def _print_rejected(self, report: dict) -> None:
        for item in report["rejected"]:
            self.stderr.write(_("  第 %(row)s 行 %(field)s: %(reason)s") % item)
        if report["ignored_columns"]:
            self.stdout.write(_('  未使用的列：%(value)s') % {'value': ', '.join(report['ignored_columns'])})
