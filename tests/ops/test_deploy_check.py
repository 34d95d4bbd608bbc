"""`citygis check --deploy` with the production settings stays clean: a new warning (a security setting, an
OpenAPI enum collision…) fails the suite instead of waiting for the next deployment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_production_deploy_check_has_no_warning():
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process: a deployment never has it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYGIS_TEST") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(CITYGIS_PRODUCTION="1", SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="gis.example.cn",
               DJANGO_SETTINGS_MODULE="city_gis.settings")
    out = subprocess.run([sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "System check identified no issues" in out.stdout
