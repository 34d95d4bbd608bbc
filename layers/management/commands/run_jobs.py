"""`citygis run_jobs` — the background job worker (layers.jobs): claims queued jobs and runs them until stopped."""

from __future__ import annotations

import logging
import signal
import threading

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from layers import jobs


class Command(BaseCommand):
    help = '运行后台任务（大文件导入等）：从数据库队列领取任务并执行；SIGTERM/SIGINT 后完成当前任务再退出'

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help=_('处理完排队的任务后退出'))
        parser.add_argument("--poll", type=float, default=2.0, help=_('无任务时的轮询间隔（秒）'))
        parser.add_argument("--max-jobs", type=int, default=None, help=_('最多处理的任务数'))

    def handle(self, *args, **opts):
        logging.basicConfig(level=logging.INFO if opts["verbosity"] > 0 else logging.WARNING)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_a: stop.set())  # finish the running job, then leave
        worker = jobs.worker_name()
        if opts["verbosity"] > 0:
            self.stdout.write(_("任务进程 %(worker)s 已启动") % {"worker": worker})
        n = jobs.work(worker, once=opts["once"], poll=opts["poll"], max_jobs=opts["max_jobs"], stop=stop)
        if opts["verbosity"] > 0:
            self.stdout.write(_("已处理 %(n)s 个任务") % {"n": n})
