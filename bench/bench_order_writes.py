"""Benchmark: writing many order lines with the rollup triggers, against the same write without rollups.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/orderwrites python bench/bench_order_writes.py --accounts 10000 --products 1.2

The lines of `bench_signals.py`'s generated histories (before its cutoff) are built in memory first; then,
alternating, each way writes all of them in one transaction that is rolled back (the table stays as it
was): "trigger" is the bulk writer's COPY per batch of 2,000 lines, the rollup trigger running once per
batch; "no rollups" the same with the insert trigger disabled (a reference only: the rollups are then
wrong, but the transaction is rolled back). Decision 045 measured two more ways here (commit 869416a):
the rollups summed once after the lines ("deferred") and one INSERT from a temporary table ("staged");
neither was faster, so neither was kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from decimal import Decimal

from _setup import database_label, django_setup, machine_label

FIELDS = ["account_id", "order_id", "line_key", "ordered_at", "product", "product_line", "quantity", "revenue",
          "margin"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--products", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ways", default="trigger,no rollups",
                        help="comma-separated, in the order run each round")
    args = parser.parse_args()
    django_setup("signals")
    from bench_signals import histories, split
    from django.db import connection, transaction

    from dealgate.deals.bulk import BulkWriter
    from dealgate.deals.models import Account
    from dealgate.signals.models import OrderLine

    cutoff = dt.date(2026, 7, 1)
    Account.objects.bulk_create([Account(name=f"Write bench {n:06d}") for n in range(args.accounts)
                                 if not Account.objects.filter(name=f"Write bench {n:06d}").exists()], batch_size=5000)
    ids = dict(Account.objects.filter(name__startswith="Write bench ").values_list("name", "pk"))
    rows = [(ids[f"Write bench {number:06d}"], f"{number}-{day.isoformat()}", product, day, product, line,
             Decimal(max(1, round(revenue / 20))), Decimal(str(revenue)), Decimal(str(round(revenue * 0.25, 2))))
            for number, _, _, _, history in histories(args.accounts, 13, cutoff, args.products)
            for day, name, revenue in history if day < cutoff for line, product in [split(name)]]
    print(f"database: {database_label()}; machine: {machine_label()}; {len(rows):,} lines, "
          f"{OrderLine.objects.count():,} already in the table")
    def without_rollups() -> int:
        """For reference only (rolled back like the others): the COPY with the insert trigger disabled."""
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE signals_orderline DISABLE TRIGGER signals_orderline_rollup_insert")
        return BulkWriter(OrderLine, FIELDS).insert(rows)

    ways = {"trigger": lambda: BulkWriter(OrderLine, FIELDS).insert(rows), "no rollups": without_rollups}
    for _ in range(args.rounds):
        for name in args.ways.split(","):
            write = ways[name]
            with transaction.atomic():
                started = time.perf_counter()
                written = write()
                seconds = time.perf_counter() - started
                transaction.set_rollback(True)
            print(f"{name:<10} {written:,} lines in {seconds:.1f} s ({written / seconds:,.0f} lines/s); "
                  f"load {__import__('os').getloadavg()[0]:.1f}", flush=True)
    connection.close()


if __name__ == "__main__":
    main()
