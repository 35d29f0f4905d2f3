"""Benchmark: order import, signal scan and the quality of the reorder-risk score on planted lapses.

    python bench/bench_signals.py --accounts 2000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/signalsbench python bench/bench_signals.py --accounts 2000
    DATABASE_URL=... python bench/bench_signals.py --accounts 50000 --products 2.4 --load bulk [--reuse]
    python bench/bench_signals.py --accounts 50000 --products 2.7 --csv /tmp/orders.csv   # then time `dealgate import orders`

`--load bulk` writes the lines before the cutoff straight into the table with the bulk writer (COPY on
PostgreSQL) instead of through the CSV import (13 minutes for 12M lines on PostgreSQL, measured with `--csv`), keeps
the cutoff day's lines aside, and after the full scan adds them and times the incremental scan of the
next day against a full one. `--products` is the average number of products bought per product line
and order (default 1), to reach 10,000,000 lines with 50,000 accounts. `--reuse` keeps the lines already
loaded by an earlier `--load bulk` run with the same arguments (only the histories are generated again,
for the outcome labels).

Generates order histories (2024-01-01 to 2027-01-01) for accounts with their own rhythm (weekly to
quarterly, noisy gaps, slower in August and December, one to four product lines), then plants fates:
most go on buying, some stop (before the cutoff, or after it: unforeseeable), some slow down to a
third of their rate, some drop a product line, some pause and come back. The file is written as the
generic order CSV and imported with `import_orders`; then, as of the cutoff (orders before it only):
the signal scan and the risk score. Quality: against what each account did in the 180 days after the
cutoff ("lapsed" = fewer than half the order days its own rhythm would give), ROC AUC and precision
of the top 10% for the risk score and for the baseline "days since last order".
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import resource
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from _setup import database_label, django_setup, machine_label

START, END = dt.date(2024, 1, 1), dt.date(2027, 1, 1)
LINES = ["Fasteners", "Adhesives", "Tools", "Safety", "Abrasives"]
GAPS = [7, 14, 21, 30, 45, 60, 90]
FATES = [("healthy", 0.58), ("stops", 0.12), ("stops_after", 0.05), ("slows", 0.12), ("drops_line", 0.08),
         ("pauses", 0.05)]
OUTCOME_DAYS = 180


def seasonal(day: dt.date) -> float:
    return 1.35 if day.month in (8, 12) else 1.0


def account_history(rng: random.Random, cutoff: dt.date, products: float = 1.0
                    ) -> tuple[str, int, list[tuple[dt.date, str, float]]]:
    """(fate, base gap, [(day, product line, revenue)]) for one account; with `products` > 1 a line's
    revenue on a day is split over several products (the product is "LINE item N")."""
    fate = rng.choices([f for f, _ in FATES], weights=[w for _, w in FATES])[0]
    gap = rng.choice(GAPS)
    lines = rng.sample(LINES, rng.randint(1, 4))
    dropped = lines[0] if fate == "drops_line" and len(lines) > 1 else None
    size = rng.lognormvariate(7, 0.6)
    stop_at = {"stops": cutoff - dt.timedelta(days=rng.randint(gap, 3 * gap + 30)),
               "stops_after": cutoff + dt.timedelta(days=rng.randint(5, 60))}.get(fate, END)
    slow_from = cutoff - dt.timedelta(days=rng.randint(60, 150)) if fate == "slows" else END
    pause = (cutoff - dt.timedelta(days=rng.randint(2 * gap, 3 * gap + 20)), rng.randint(2, 3) * gap)
    drop_from = cutoff - dt.timedelta(days=rng.randint(4 * gap, 6 * gap)) if dropped else END
    day = START + dt.timedelta(days=rng.randint(0, 120))
    history = []
    while day < END and day < stop_at:
        for line in lines:
            if line == dropped and day >= drop_from:
                continue
            if rng.random() < (0.95 if line == lines[-1] else 0.7):
                revenue = size * rng.lognormvariate(0, 0.35) / len(lines)
                if products == 1.0:
                    history.append((day, line, round(revenue, 2)))
                    continue
                count = int(products) + (rng.random() < products - int(products))
                for item in range(1, count + 1):
                    history.append((day, f"{line}#{item}", round(revenue / count, 2)))
        step = gap * seasonal(day) * rng.lognormvariate(0, 0.3) * (3.0 if day >= slow_from else 1.0)
        if fate == "pauses" and pause[0] <= day < pause[0] + dt.timedelta(days=gap):
            step += pause[1]
        day += dt.timedelta(days=max(1, round(step)))
    return fate, gap, history


def split(line: str) -> tuple[str, str]:
    """(product line, product) of a history entry's line: "Tools#2" -> ("Tools", "Tools item 2")."""
    name, _, item = line.partition("#")
    return name, f"{name} item {item or 1}"


def lapsed(history: list[tuple[dt.date, str, float]], gap: int, cutoff: dt.date) -> bool:
    """What happened: fewer order days in the OUTCOME_DAYS after the cutoff than half its own rhythm gives."""
    after = {day for day, _, _ in history if cutoff <= day < cutoff + dt.timedelta(days=OUTCOME_DAYS)}
    return len(after) < 0.5 * OUTCOME_DAYS / gap


def write_csv(path: Path, accounts: int, seed: int, cutoff: dt.date, products: float = 1.0
              ) -> tuple[dict[str, bool], dict[str, str], int]:
    """The generic order CSV of every account's whole history (to 2027-01-01, after the cutoff too)."""
    truth, fates, lines = {}, {}, 0
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["account", "order_id", "ordered_at", "product", "product_line", "quantity", "revenue", "margin"])
        for number, name, fate, gap, history in histories(accounts, seed, cutoff, products):
            for day, line, revenue in history:
                line, product = split(line)
                out.writerow([name, f"{number}-{day.isoformat()}", day.isoformat(), product, line,
                              max(1, round(revenue / 20)), revenue, round(revenue * 0.25, 2)])
                lines += 1
            buying_before = any(day < cutoff for day, _, _ in history)
            if buying_before:
                truth[name] = lapsed(history, gap, cutoff)
                fates[name] = fate
    return truth, fates, lines


def histories(accounts: int, seed: int, cutoff: dt.date, products: float):
    """(number, name, fate, gap, history) per account, from the same random stream as `write_csv`."""
    rng = random.Random(seed)
    for number in range(accounts):
        fate, gap, history = account_history(rng, cutoff, products)
        yield number, f"Bench account {number:06d}", fate, gap, history


def load_bulk(accounts: int, seed: int, cutoff: dt.date, products: float, reuse: bool
              ) -> tuple[dict[str, bool], dict[str, str], int, list[tuple]]:
    """Lines before the cutoff written with the bulk writer; returns the labels and the cutoff day's lines."""
    from django.db import transaction

    from dealgate.deals.bulk import BulkWriter
    from dealgate.deals.models import Account
    from dealgate.signals.models import OrderLine

    truth, fates, lines, increment = {}, {}, 0, []
    if not reuse:
        Account.objects.bulk_create([Account(name=f"Bench account {n:06d}") for n in range(accounts)], batch_size=5000)
    ids = dict(Account.objects.filter(name__startswith="Bench account ").values_list("name", "pk"))
    writer = BulkWriter(OrderLine, ["account_id", "order_id", "line_key", "ordered_at", "product", "product_line",
                                    "quantity", "revenue", "margin"])

    def rows():
        nonlocal lines
        for number, name, fate, gap, history in histories(accounts, seed, cutoff, products):
            for day, line, revenue in history:
                if day > cutoff:
                    break
                lines += day < cutoff
                if reuse and day < cutoff:
                    continue  # already in the table
                line, product = split(line)
                row = (ids[name], f"{number}-{day.isoformat()}", product, day, product, line,
                       Decimal(max(1, round(revenue / 20))), Decimal(str(revenue)), Decimal(str(round(revenue * 0.25, 2))))
                if day == cutoff:
                    increment.append(row)
                else:
                    yield row
            if any(day < cutoff for day, _, _ in history):
                truth[name] = lapsed(history, gap, cutoff)
                fates[name] = fate

    if reuse:
        for _ in rows():
            pass
    else:
        with transaction.atomic():
            writer.insert(rows())
    return truth, fates, lines, increment


def incremental_scan(increment: list[tuple], cutoff: dt.date, write=None, compare: bool = True) -> None:
    """The cutoff day's lines arrive; the next day's scan is incremental. Then (`compare`) its new signals are
    removed and a full scan of the same day must raise exactly them again."""
    from django.db import transaction

    from dealgate.deals.bulk import BulkWriter
    from dealgate.signals.models import OrderLine, Signal
    from dealgate.signals.services import scan_signals

    with transaction.atomic():
        if write is not None:
            write()
        else:
            BulkWriter(OrderLine, ["account_id", "order_id", "line_key", "ordered_at", "product", "product_line",
                                   "quantity", "revenue", "margin"]).insert(increment)
    day = cutoff + dt.timedelta(days=1)
    accounts = len({row[0] for row in increment})
    started = time.perf_counter()
    result = scan_signals(day)
    seconds = time.perf_counter() - started
    raised = sorted(Signal.objects.filter(as_of=day).values_list("cause_key", "evidence"))
    print(f"incremental scan as of {day} after {len(increment):,} new lines for {accounts:,} accounts: "
          f"{result.total:,} signals in {seconds:.2f} s ({'FULL: ' + result.why_full if result.full else 'incremental'}, "
          f"{result.accounts_read:,} accounts read, {result.units_read:,} with their product lines; "
          f"load {__import__('os').getloadavg()[0]:.1f})", flush=True)
    if not compare:
        return
    Signal.objects.filter(as_of=day).delete()
    started = time.perf_counter()
    full = scan_signals(day, full=True)
    seconds = time.perf_counter() - started
    again = sorted(Signal.objects.filter(as_of=day).values_list("cause_key", "evidence"))
    print(f"full scan of the same day: {full.total:,} signals in {seconds:.2f} s; "
          f"identical to the incremental: {'yes' if again == raised else 'NO'}", flush=True)


def next_day(days: int = 1) -> None:
    """One more day of orders: the last scanned day's lines again, dated that day, as new lines. `days` > 1:
    as many days one after the other, each scanned incrementally after the one before (as a daily scan
    runs), the last one compared with a full scan."""
    for _ in range(days - 1):
        one_more_day(compare=False)
    one_more_day(compare=True)


def one_more_day(compare: bool) -> None:
    from dealgate.deals.bulk import BulkWriter
    from dealgate.signals.models import OrderLine, ScanState

    state = ScanState.objects.get()
    day = state.as_of
    last = OrderLine.objects.order_by("-ordered_at").values_list("ordered_at", flat=True).first()
    rows = [(a, f"{o}-next", k, day, p, pl, q, r, m) for a, o, k, p, pl, q, r, m in OrderLine.objects.filter(
        ordered_at=last).values_list("account_id", "order_id", "line_key", "product", "product_line", "quantity",
                                     "revenue", "margin")]
    print(f"database: {database_label()}; machine: {machine_label()}")
    incremental_scan(rows, day, compare=compare, write=lambda: BulkWriter(
        OrderLine, ["account_id", "order_id", "line_key", "ordered_at", "product", "product_line", "quantity",
                    "revenue", "margin"]).insert(rows))


def empty_order_lines() -> None:
    """No order lines, no rollups (decision 037): TRUNCATE on PostgreSQL (a DELETE of 10M lines would
    have the triggers subtract every one of them from the rollups first; since decision 041 the truncate
    trigger would empty the rollups by itself, naming them here is only quicker)."""
    from django.db import connection

    from dealgate.signals.models import OrderLine
    from dealgate.signals.rollups import ROLLUPS

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE signals_orderline, {', '.join(ROLLUPS)}, signals_lineschanged")
    else:
        OrderLine.objects.all().delete()


def roc_auc(scores: list[float], labels: list[bool]) -> float:
    """Probability that a lapsed account scores above one that kept buying (ties count half)."""
    ranked = sorted(zip(scores, labels))
    rank_sum, i, n = 0.0, 0, len(ranked)
    while i < n:
        j = i
        while j < n and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2
        rank_sum += average_rank * sum(1 for k in range(i, j) if ranked[k][1])
        i = j
    positives = sum(labels)
    negatives = n - positives
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def precision_at(scores: list[float], labels: list[bool], share: float = 0.10) -> float:
    top = sorted(zip(scores, labels), key=lambda pair: -pair[0])[:max(1, int(len(scores) * share))]
    return sum(1 for _, label in top if label) / len(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--cutoff", default="2026-07-01")
    parser.add_argument("--products", type=float, default=1.0)
    parser.add_argument("--load", choices=["import", "bulk"], default="import")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--csv", metavar="PATH", help="only write the generic order CSV there (to time the import "
                                                      "command itself), then stop")
    parser.add_argument("--next-day", action="store_true",
                        help="after a --load bulk run: copy the last day's order lines one day on and time the "
                             "incremental scan of the day after against a full one (no generation)")
    parser.add_argument("--days", type=int, default=1,
                        help="with --next-day: that many days, each scanned incrementally, the last compared")
    args = parser.parse_args()
    cutoff = dt.date.fromisoformat(args.cutoff)
    django_setup("signals")
    from django.db import connection

    from dealgate.deals.models import Account
    from dealgate.signals.importing import import_orders
    from dealgate.signals.models import OrderLine, ScanState, Signal
    from dealgate.signals.risk import account_risks
    from dealgate.signals.services import scan_signals

    if args.next_day:
        next_day(args.days)
        return
    if args.csv:
        started = time.perf_counter()
        _, _, lines = write_csv(Path(args.csv), args.accounts, args.seed, cutoff, args.products)
        print(f"wrote {lines:,} order lines for {args.accounts:,} accounts to {args.csv} in "
              f"{time.perf_counter() - started:.1f} s; import them with\n"
              f"    dealgate import orders {args.csv} --mapping generic --create-accounts", flush=True)
        return
    Signal.objects.all().delete()
    ScanState.objects.all().delete()
    increment: list[tuple] = []
    if args.load == "bulk":
        if not args.reuse:
            empty_order_lines()
            Account.objects.filter(name__startswith="Bench account ").delete()
        OrderLine.objects.filter(ordered_at__gte=cutoff).delete()
        started = time.perf_counter()
        truth, fates, lines, increment = load_bulk(args.accounts, args.seed, cutoff, args.products, args.reuse)
        import_seconds = time.perf_counter() - started
        print(f"{'generated' if args.reuse else 'generated and wrote'} {lines:,} order lines before the cutoff for "
              f"{args.accounts:,} accounts in {import_seconds:.1f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE signals_orderline, signals_orderday, signals_orderlineday, signals_productmonth"
                           if connection.vendor == "postgresql" else "ANALYZE")
    else:
        empty_order_lines()
        Account.objects.filter(name__startswith="Bench account ").delete()
        folder = Path(tempfile.mkdtemp(prefix="bench-signals-"))
        try:
            started = time.perf_counter()
            truth, fates, lines = write_csv(folder / "orders.csv", args.accounts, args.seed, cutoff, args.products)
            print(f"generated {lines:,} order lines for {args.accounts:,} accounts in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            report = import_orders(str(folder / "orders.csv"), create_accounts=True)
            import_seconds = time.perf_counter() - started
            assert report.written, report.summary()
        finally:
            shutil.rmtree(folder)
    started = time.perf_counter()
    scan = scan_signals(cutoff)
    scan_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rows = account_risks(cutoff)
    risk_seconds = time.perf_counter() - started
    rescan = time.perf_counter()
    again = scan_signals(cutoff, full=args.load != "bulk")  # bulk: the incremental scan of the same day
    rescan_seconds = time.perf_counter() - rescan
    if increment:
        incremental_scan(increment, cutoff)

    scored = [r for r in rows if r["account"] in truth]
    labels = [truth[r["account"]] for r in scored]
    risk = [r["risk"] + r["days_since_last"] * 1e-6 for r in scored]  # ties (capped scores) broken by recency
    since = [float(r["days_since_last"]) for r in scored]
    print(f"database: {database_label()}; machine: {machine_label()}")
    print(f"import: {lines:,} lines in {import_seconds:.1f} s ({lines / import_seconds:,.0f} lines/s)")
    print(f"scan as of {cutoff}: {scan.total:,} signals {scan.raised} in {scan_seconds:.2f} s; "
          f"again ({'full' if again.full else 'incremental, nothing new'}): {again.total} new in {rescan_seconds:.2f} s; risk score: {risk_seconds:.2f} s")
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    print(f"accounts scored: {len(scored):,}, lapsed after the cutoff: {sum(labels):,} "
          f"({100 * sum(labels) / len(labels):.0f}%)")
    print(f"{'score':<26}{'ROC AUC':>8}{'precision@10%':>15}")
    for name, scores in (("reorder risk", risk), ("days since last order", since)):
        print(f"{name:<26}{roc_auc(scores, labels):>8.3f}{precision_at(scores, labels):>15.3f}")
    connection.close()


if __name__ == "__main__":
    main()
