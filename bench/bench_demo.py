"""Benchmark: how fast the demo generator fills a database (deals/s and rows/s).

    python bench/bench_demo.py --deals 100000 --fresh
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h2bench python bench/bench_demo.py --deals 100000

SQLite writes to bench/.data/demo (or $DEALGATE_DATA_DIR); --fresh deletes that file first.
PostgreSQL uses whatever DATABASE_URL names (create and migrate a dedicated database for it).
Reports wall time, this process's CPU time and, on PostgreSQL, the CPU time of the server backend
serving it: the machine may be shared, so the load average before and after is printed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from io import StringIO
from pathlib import Path

from _setup import ROOT, database_label, django_setup, machine_label
from bench_import import server_cpu_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2026, 11, 24),
                        help="the day the demo year ends (default 2026-11-24, so runs are comparable)")
    parser.add_argument("--fresh", action="store_true", help="SQLite only: start from an empty database file")
    args = parser.parse_args()
    if args.fresh and not os.environ.get("DATABASE_URL"):
        data = Path(os.environ.setdefault("DEALGATE_DATA_DIR", str(ROOT / "bench" / ".data" / "demo")))
        for suffix in ("", "-wal", "-shm"):
            (data / f"dealgate.sqlite3{suffix}").unlink(missing_ok=True)
    django_setup("demo")

    from dealgate.deals.models import Deal
    from dealgate.demo.generator import generate

    before = Deal.objects.count()
    load_before = os.getloadavg()[0]
    wall, cpu, server = time.perf_counter(), time.process_time(), server_cpu_seconds()
    summary = generate(deals=args.deals, seed=args.seed, today=args.today, stdout=StringIO())
    wall, cpu, server = time.perf_counter() - wall, time.process_time() - cpu, server_cpu_seconds() - server
    rows = summary.total_rows
    print(f"database: {database_label()}; deals before: {before:,}, after: {Deal.objects.count():,}")
    print(f"machine: {machine_label()} (load before {load_before:.1f}); {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"generated {args.deals:,} deals, {rows:,} rows in {wall:.1f} s wall, {cpu:.1f} s CPU (this process)"
          f" + {server:.1f} s CPU (PostgreSQL backend; 0 on SQLite)")
    print(f"rate: {args.deals / wall:,.0f} deals/s, {rows / wall:,.0f} rows/s "
          f"(per CPU second: {args.deals / cpu:,.0f} deals/s)")
    print("rows per table: " + ", ".join(f"{table} {n:,}" for table, n in sorted(summary.rows.items())))
    print(summary.lines()[0])


if __name__ == "__main__":
    main()
