"""The persistent MapServer renderer: a FastCGI pool of `mapserv` processes that MapProxy reaches through its
ordinary CGI client.

CITYGIS_RENDERER=cgi (the default): every render spawns `mapserv`, which pays its start-up (PROJ and GDAL
initialisation, the database connection) each time — about 100 ms for a 256² GetMap here.
CITYGIS_RENDERER=fastcgi: `citygis renderer` (started by `make run` and `make cluster`) keeps
CITYGIS_RENDERER_PROCESSES `mapserv` processes alive on a unix socket next to the mapfile (Debian's spawn-fcgi,
with multiwatch restarting a process that dies); the generated wrapper hands each CGI request to the pool with
`cgi-fcgi` (a small C client), about 30 ms for the same GetMap. Everything else stays as it is: the same
generated mapfile (MapServer reads it per request, so a registry change applies at once), the same access
control (MapProxy's authorisation hook runs before any render), the same per-request timeout (the wrapper's
`timeout`), the same concurrency bound (tileserver.limits' render slots). There is no fallback: with
`fastcgi` set and no pool running, renders fail loudly (503), and /readyz reports the renderer.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings

from .limits import MAPSERV
from .paths import ConfigPaths, config_paths

SOCKET_NAME = "mapserv.sock"
MODES = ("cgi", "fastcgi")


def mode() -> str:
    value = str(settings.CITYGIS_RENDERER).strip().lower()
    if value not in MODES:
        raise ValueError(f"CITYGIS_RENDERER must be one of {', '.join(MODES)}, not {value!r}")
    return value


def socket_path(paths: ConfigPaths | None = None) -> Path:
    return (paths or config_paths()).mapfile_dir / SOCKET_NAME


def render_command(mapfile_dir: Path) -> list[str]:
    """What the generated wrapper in `mapfile_dir` runs (under `timeout`) for one CGI request."""
    if mode() == "fastcgi":
        return [shutil.which("cgi-fcgi") or "/usr/bin/cgi-fcgi", "-bind", "-connect", str(mapfile_dir / SOCKET_NAME)]
    return [MAPSERV]


def pool_command(paths: ConfigPaths | None = None, processes: int | None = None) -> list[str]:
    """The pool in the foreground: spawn-fcgi binds the socket (owner only), multiwatch keeps N mapserv alive."""
    n = int(processes or settings.CITYGIS_RENDERER_PROCESSES)
    if n < 1:
        raise ValueError("CITYGIS_RENDERER_PROCESSES must be at least 1")
    return [shutil.which("spawn-fcgi") or "/usr/bin/spawn-fcgi", "-n", "-s", str(socket_path(paths)), "-M", "0600",
            "--", shutil.which("multiwatch") or "/usr/bin/multiwatch", "-f", str(n),
            # TERM, not multiwatch's default USR1: an idle FastCGI mapserv waits in accept() through USR1. The
            # retry budget is generous so one bad request cannot exhaust it (a crash is counted, then forgotten).
            "-s", "TERM", "-r", "100", "-t", "1000", "--", MAPSERV]


def pool_environment(paths: ConfigPaths | None = None) -> dict[str, str]:
    """mapserv's environment: MapServer 8 needs its config file; nothing else of ours leaks into it."""
    paths = paths or config_paths()
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ", "HOME")}
    return {**keep, "MAPSERVER_CONFIG_FILE": str(paths.mapserver_config)}


def start_pool(paths: ConfigPaths | None = None, processes: int | None = None) -> subprocess.Popen:
    """Start the pool (a stale socket of a dead pool is removed first); returns once it accepts connections."""
    paths = paths or config_paths()
    sock = socket_path(paths)
    if is_running(paths):
        raise RuntimeError(f"a renderer already listens on {sock}")
    sock.unlink(missing_ok=True)
    sock.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(pool_command(paths, processes), env=pool_environment(paths), start_new_session=True)
    for _ in range(100):
        if is_running(paths):
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"the renderer pool exited with {proc.returncode}")
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"the renderer pool did not listen on {sock}")


def is_running(paths: ConfigPaths | None = None) -> bool:
    """A pool accepts connections on this configuration's socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        try:
            s.connect(str(socket_path(paths)))
        except OSError:
            return False
    return True
