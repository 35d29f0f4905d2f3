"""Benchmark: import a 100,000-row deal CSV (new deals + their imported history), then re-import it.

    python bench/bench_import.py --rows 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dg_bench python bench/bench_import.py --rows 100000

The file is generated deterministically from --seed: 20 owners, 5,000 accounts, stages spread over
the b2b-7 template, about 40% closed (won or lost, with a lost reason), three date formats. Each run
uses a fresh external-id prefix, so runs never collide in the same database.

Wall-clock rates on a shared machine depend on its load; the CPU columns (this process, plus the
PostgreSQL backend serving it, read from /proc) say what the work itself costs.

Timed, each a full `import_file` call (read + validate every row + write in one transaction):
  * create    every row is a new deal: accounts, then deals and history rows in bulk (COPY on PostgreSQL);
  * reimport  the same file again: every row matches an existing deal and nothing changes.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
from pathlib import Path

from _setup import database_label, django_setup, machine_label

# b2b-7's selling stages (its Onboarding is a post-sale phase of won deals, decision 010).
STAGES = ["Prospecting", "Lead Qualification", "Needs Analysis", "Solution Presentation", "Proposal",
          "Negotiation & Closing"]
REASONS = ["price", "no-budget", "competitor"]
FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y %H:%M"]


def generate(path: Path, rows: int, seed: int, prefix: str) -> None:
    import datetime as dt

    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["Id", "Name", "Company", "Owner", "Stage", "Status", "Value", "Created", "Closed", "Reason"])
        for n in range(rows):
            created = start + dt.timedelta(days=rng.randrange(700), minutes=rng.randrange(1440))
            fmt = FORMATS[n % 3]
            status = rng.choices(["Open", "Won", "Lost"], weights=[60, 16, 24])[0]
            closed = (created + dt.timedelta(days=rng.randrange(5, 200))).strftime(fmt) if status != "Open" else ""
            out.writerow([
                f"{prefix}{n}", f"Deal {n}", f"Account {rng.randrange(5000)}", f"bench-rep-{rng.randrange(20)}",
                rng.choice(STAGES), status, f"{rng.randrange(1, 500) * 250}.00", created.strftime(fmt), closed,
                rng.choice(REASONS) if status == "Lost" else "",
            ])


def server_cpu_seconds() -> float:
    """CPU time of the PostgreSQL backend serving this connection (same machine), 0 for SQLite,
    whose work is already in this process's CPU time."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DEALGATE_DEBUG", "0")  # as in production: no per-query debug log
    django_setup("import")

    from dealgate.deals.models import Deal
    from dealgate.imports.services import import_file
    from dealgate.people.models import Profile
    from dealgate.people.services import create_user
    from dealgate.pipelines.models import Pipeline
    from dealgate.pipelines.services import create_pipeline_from_template

    if not Pipeline.objects.filter(key="bench-import").exists():
        create_pipeline_from_template("b2b-7", key="bench-import", name="Import benchmark")
    have = set(Profile.objects.filter(user__username__startswith="bench-rep-").values_list("user__username", flat=True))
    for n in range(20):
        if f"bench-rep-{n}" not in have:
            create_user(username=f"bench-rep-{n}", password=None, role="rep")
    mapping = {
        "external_id": "Id",
        "columns": {"Name": "title", "Company": "account", "Owner": "owner", "Stage": "stage", "Status": "status",
                    "Value": "amount", "Created": "created_at", "Closed": "closed_at", "Reason": "lost_reason"},
        "pipeline": "bench-import", "date_formats": FORMATS, "currency": "EUR",
    }
    spans = _time_span_refresh()
    prefix = f"B{int(time.time())}-"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deals.csv"
        generate(path, args.rows, args.seed, prefix)
        before = Deal.objects.count()
        results = []
        for label in ("create", "reimport"):
            spans["seconds"] = 0.0
            started, cpu, server = time.perf_counter(), time.process_time(), server_cpu_seconds()
            report = import_file("deals", str(path), mapping)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            server = server_cpu_seconds() - server
            assert report.written and not report.errors, report.as_text(5)
            results.append((label, seconds, cpu, server, report, spans["seconds"]))
    assert Deal.objects.count() - before == args.rows
    print(f"# {database_label()} | {machine_label()}")
    print("| operation | rows | wall s | of which state spans s | rows/s wall | CPU s (python + server) | "
          "rows per CPU-second | created | unchanged | history rows |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, seconds, cpu, server, report, span_seconds in results:
        print(f"| import {label} | {args.rows:,} | {seconds:.1f} | {span_seconds:.1f} | {args.rows / seconds:,.0f} | "
              f"{cpu:.1f} + {server:.1f} | {args.rows / (cpu + server):,.0f} | {report.created:,} | "
              f"{report.unchanged:,} | {report.history_rows:,} |")


def _time_span_refresh() -> dict[str, float]:
    """Wall time inside the import's state-span writing (analytics' upkeep), reported apart so a
    change in either shows on its own. Timing only: the function runs unchanged."""
    import dealgate.imports.services as services

    spent = {"seconds": 0.0}
    refresh = getattr(services, "write_new_deals", None)
    if refresh is not None:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return refresh(*args, **kwargs)
            finally:
                spent["seconds"] += time.perf_counter() - started

        services.write_new_deals = timed
    return spent


if __name__ == "__main__":
    main()
