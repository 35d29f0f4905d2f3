"""`dealgate check --deploy` finds nothing to warn about in production settings (DEALGATE_PRODUCTION=1
with a good SECRET_KEY and the site's DEALGATE_BASE_URL), so an operator's deployment check starts clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_it_passes_the_deploy_check_without_a_warning_in_production_settings(tmp_path):
    env = dict(os.environ, DEALGATE_PRODUCTION="1", SECRET_KEY="k3y-" + "x7Qp2vLm9" * 6, PYTHONPATH=str(ROOT),
               DEALGATE_DATA_DIR=str(tmp_path),
               DEALGATE_BASE_URL="https://crm.example.com")
    env.pop("DATABASE_URL", None)
    env.pop("DEALGATE_DEBUG", None)
    # the browser tests' conftest sets this for the whole test process; an operator's shell never has it
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    done = subprocess.run([sys.executable, "-m", "dealgate.cli", "check", "--deploy", "--fail-level", "WARNING"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
