"""`citygis renderer`: run the persistent MapServer FastCGI pool (tileserver/renderer.py) in the foreground."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand, CommandError

from tileserver import renderer
from tileserver.paths import config_paths


class Command(BaseCommand):
    help = "Keep CITYGIS_RENDERER_PROCESSES mapserv FastCGI processes alive for CITYGIS_RENDERER=fastcgi."

    def add_arguments(self, parser):
        parser.add_argument("--processes", type=int, default=None, help="mapserv processes (default: setting)")

    def handle(self, *args, processes=None, **options):
        paths = config_paths()
        if not paths.mapserver_config.is_file():
            raise CommandError(f"{paths.mapserver_config} is missing: run `citygis generate_mapconfig` first")
        try:
            pool = renderer.start_pool(paths, processes)
        except (RuntimeError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"renderer: mapserv FastCGI pool on {renderer.socket_path(paths)} (pid {pool.pid})")
        stop = lambda *_: pool.terminate()  # noqa: E731
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        code = pool.wait()
        renderer.socket_path(paths).unlink(missing_ok=True)
        if code not in (0, -signal.SIGTERM, -signal.SIGINT):
            raise CommandError(f"the renderer pool exited with {code}")
