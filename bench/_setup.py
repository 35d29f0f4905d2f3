"""Shared set-up for benchmarks: point Django at the bench database and fill it with demo data once.

SQLite: a file under bench/.data (or $DEALGATE_DATA_DIR). PostgreSQL: whatever DATABASE_URL names.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_setup(name: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dealgate.settings")
    os.environ.setdefault("DEALGATE_DATA_DIR", str(ROOT / "bench" / ".data" / name))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def ensure_deals(deals: int, seed: int = 11) -> int:
    """Generate demo data unless the database already holds at least `deals` deals."""
    from dealgate.deals.models import Deal

    have = Deal.objects.count()
    if have < deals:
        from dealgate.demo.generator import generate

        print(f"generating {deals - have:,} demo deals...", flush=True)
        generate(deals=deals - have, seed=seed + have)
    return Deal.objects.count()


def database_label() -> str:
    from django.db import connection

    return f"{connection.vendor} {'.'.join(map(str, connection.Database.sqlite_version_info)) if connection.vendor == 'sqlite' else connection.pg_version}"


def machine_label() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"


def summary_ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p95 * 1000
