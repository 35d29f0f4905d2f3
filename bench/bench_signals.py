"""Benchmark: order import, signal scan and the quality of the reorder-risk score on planted lapses.

    python bench/bench_signals.py --accounts 2000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/signalsbench python bench/bench_signals.py --accounts 2000

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


def account_history(rng: random.Random, cutoff: dt.date) -> tuple[str, int, list[tuple[dt.date, str, float]]]:
    """(fate, base gap, [(day, product line, revenue)]) for one account."""
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
                history.append((day, line, round(size * rng.lognormvariate(0, 0.35) / len(lines), 2)))
        step = gap * seasonal(day) * rng.lognormvariate(0, 0.3) * (3.0 if day >= slow_from else 1.0)
        if fate == "pauses" and pause[0] <= day < pause[0] + dt.timedelta(days=gap):
            step += pause[1]
        day += dt.timedelta(days=max(1, round(step)))
    return fate, gap, history


def lapsed(history: list[tuple[dt.date, str, float]], gap: int, cutoff: dt.date) -> bool:
    """What happened: fewer order days in the OUTCOME_DAYS after the cutoff than half its own rhythm gives."""
    after = {day for day, _, _ in history if cutoff <= day < cutoff + dt.timedelta(days=OUTCOME_DAYS)}
    return len(after) < 0.5 * OUTCOME_DAYS / gap


def write_csv(path: Path, accounts: int, seed: int, cutoff: dt.date) -> tuple[dict[str, bool], dict[str, str], int]:
    rng = random.Random(seed)
    truth, fates, lines = {}, {}, 0
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["account", "order_id", "ordered_at", "product", "product_line", "quantity", "revenue", "margin"])
        for number in range(accounts):
            name = f"Bench account {number:06d}"
            fate, gap, history = account_history(rng, cutoff)
            for day, line, revenue in history:
                out.writerow([name, f"{number}-{day.isoformat()}", day.isoformat(), f"{line} item", line,
                              max(1, round(revenue / 20)), revenue, round(revenue * 0.25, 2)])
                lines += 1
            buying_before = any(day < cutoff for day, _, _ in history)
            if buying_before:
                truth[name] = lapsed(history, gap, cutoff)
                fates[name] = fate
    return truth, fates, lines


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
    args = parser.parse_args()
    cutoff = dt.date.fromisoformat(args.cutoff)
    django_setup("signals")
    from django.db import connection

    from dealgate.deals.models import Account
    from dealgate.signals.importing import import_orders
    from dealgate.signals.models import OrderLine, Signal
    from dealgate.signals.risk import account_risks
    from dealgate.signals.services import scan_signals

    Signal.objects.all().delete()
    OrderLine.objects.all().delete()
    Account.objects.filter(name__startswith="Bench account ").delete()
    folder = Path(tempfile.mkdtemp(prefix="bench-signals-"))
    try:
        started = time.perf_counter()
        truth, fates, lines = write_csv(folder / "orders.csv", args.accounts, args.seed, cutoff)
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
    again = scan_signals(cutoff)
    rescan_seconds = time.perf_counter() - rescan

    scored = [r for r in rows if r["account"] in truth]
    labels = [truth[r["account"]] for r in scored]
    risk = [r["risk"] + r["days_since_last"] * 1e-6 for r in scored]  # ties (capped scores) broken by recency
    since = [float(r["days_since_last"]) for r in scored]
    print(f"database: {database_label()}; machine: {machine_label()}")
    print(f"import: {lines:,} lines in {import_seconds:.1f} s ({lines / import_seconds:,.0f} lines/s)")
    print(f"scan as of {cutoff}: {scan.total:,} signals {scan.raised} in {scan_seconds:.2f} s; "
          f"again: {again.total} new in {rescan_seconds:.2f} s; risk score: {risk_seconds:.2f} s")
    print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    print(f"accounts scored: {len(scored):,}, lapsed after the cutoff: {sum(labels):,} "
          f"({100 * sum(labels) / len(labels):.0f}%)")
    print(f"{'score':<26}{'ROC AUC':>8}{'precision@10%':>15}")
    for name, scores in (("reorder risk", risk), ("days since last order", since)):
        print(f"{name:<26}{roc_auc(scores, labels):>8.3f}{precision_at(scores, labels):>15.3f}")
    connection.close()


if __name__ == "__main__":
    main()
