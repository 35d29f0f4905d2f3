"""Forecast accuracy on pipeline histories with a planted truth, and on the demo data (issue 15).

    python bench/bench_forecast_accuracy.py [--per-day 8] [--shares 0.1,0.3,0.5,0.8] [--demo-deals 3000] [--years 4]

Each generated set is one pipeline (qualify 20%, propose 50%, negotiate 75%, won, lost) with
`--years` of history up to 2026-12-01 (4: from 2022-12-01), written the way an import of past deals
is (bulk rows, spans rebuilt), with a known truth:

  * new deals a day: `--per-day` x (1 + 30% a year of trend) x (1 + 25% seasonality, peak in spring);
  * fast deals (won 50%, closed after 1 + Exp(4) days: mostly inside the month they were created
    in) and slow deals (won 30%, closed after LogNormal(median 70 days, sigma 0.5)); the share of
    fast deals is set so that about the target share of a month's won revenue comes from deals
    created in that month (the table prints the share actually measured);
  * a bottleneck: a deal that enters propose between 2026-05-01 and 2026-07-31 stays there three
    times as long;
  * amounts LogNormal(median 10,000, sigma 0.8); the rep's expected close date is the true close
    day x a random 0.6-1.6 stretch, missing for one deal in five, never logged as changed.

Every method is backtested month-ahead (from the month a year after the history starts to 2026-10,
forecast at each month's start) and quarter-ahead (from the first quarter starting 10 months after
it to 2026-Q3), as `dealgate backtest` does, on each set and on the demo data
(`--demo-deals` deals, seed 7, today 2026-11-24, each demo pipeline). Prints MAPE, bias and range
coverage per method, and the accuracy of the number the forecast page leads with: at each
period's start, the method with the lowest MAPE over the 6 months (4 quarters) before it.
A fresh database under bench/.data/forecast_accuracy (or DATABASE_URL's) is used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import shutil
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, database_label, django_setup, machine_label  # noqa: E402

UTC = dt.timezone.utc
END = dt.datetime(2026, 12, 1, tzinfo=UTC)
START = END.replace(year=END.year - 4)  # --years sets it before anything is planted or judged
BOTTLENECK = (dt.datetime(2026, 5, 1, tzinfo=UTC), dt.datetime(2026, 8, 1, tzinfo=UTC))


def fast_share_for(target: float) -> float:
    """Share of fast deals so that about `target` of a month's won revenue is from that month's new
    deals: fast deals win 50% and ~85% of them inside their month; slow deals win 30%, almost never
    inside it. target = 0.5 x 0.85 f / (0.5 f + 0.3 (1 - f))."""
    a, b, c = 0.5 * 0.85, 0.5, 0.3
    return min(1.0, target * c / (a - target * (b - c)))


def plant(index: int, share: float, per_day: float, seed: int, years: int = 2) -> tuple[int, float]:
    """One planted pipeline with `years` of history up to END; returns its id and the measured
    new-business share. (The tests that plant a set keep the two years their figures were made with.)"""
    from dealgate.deals.models import Account, Deal, StageHistory
    from dealgate.deals.timeline import refresh_spans
    from dealgate.people.models import Profile
    from dealgate.pipelines.models import Pipeline, Stage
    from django.contrib.auth import get_user_model

    rng = random.Random(seed)
    pipeline = Pipeline.objects.create(key=f"planted-{index}", name=f"Planted {share:.0%} new business")
    stages = {}
    for position, (key, kind, probability) in enumerate(
            (("qualify", "open", 20), ("propose", "open", 50), ("negotiate", "open", 75), ("won", "won", 100),
             ("lost", "lost", 0)), start=1):
        stages[key] = Stage.objects.create(pipeline=pipeline, key=key, name=key.title(), position=position,
                                           kind=kind, probability=probability)
    user = get_user_model().objects.create(username=f"planted{index}")
    Profile.objects.get_or_create(user=user)
    account = Account.objects.create(name=f"Planted {index}", owner=user)
    fast = fast_share_for(share)
    plans = []
    start = END.replace(year=END.year - years)
    day = start
    while day < END:
        elapsed = (day - start).days / 365
        rate = per_day * (1 + 0.3 * elapsed) * (1 + 0.25 * math.sin(2 * math.pi * (day.month - 1) / 12))
        for _ in range(_poisson(rng, rate)):
            created = day + dt.timedelta(seconds=rng.uniform(0, 86400))
            is_fast = rng.random() < fast
            won = rng.random() < (0.5 if is_fast else 0.3)
            days = 1 + rng.expovariate(1 / 4) if is_fast else rng.lognormvariate(math.log(70), 0.5)
            amount = Decimal(str(round(rng.lognormvariate(math.log(10_000), 0.8), 2)))
            moves = [(created, "qualify")]
            at = created
            for key, part in (("propose", 0.3), ("negotiate", 0.4), ("won" if won else "lost", 0.3)):
                stay = days * part
                if moves[-1][1] == "propose" and BOTTLENECK[0] <= moves[-1][0] < BOTTLENECK[1]:
                    stay *= 3
                at = at + dt.timedelta(days=stay)
                moves.append((at, key))
            close_day = (created + dt.timedelta(days=(at - created).total_seconds() / 86400
                                                * rng.uniform(0.6, 1.6))).date()
            plans.append((created, amount, [m for m in moves if m[0] < END],
                          None if rng.random() < 0.2 else close_day))
        day += dt.timedelta(days=1)
    deals = Deal.objects.bulk_create([Deal(
        title=f"P{index}-{i}", account=account, owner=user, pipeline=pipeline, stage=stages[moves[-1][1]],
        amount=amount, currency="EUR", expected_close_date=close, created_at=created,
        stage_entered_at=moves[-1][0], closed_at=moves[-1][0] if moves[-1][1] in ("won", "lost") else None,
    ) for i, (created, amount, moves, close) in enumerate(plans)], batch_size=2000)
    rows = []
    for deal, (created, amount, moves, _) in zip(deals, plans):
        previous = None
        for at, key in moves:
            stage = stages[key]
            kind = "created" if previous is None else stage.kind if stage.kind != "open" else "forward"
            rows.append(StageHistory(deal=deal, from_stage=previous, to_stage=stage, kind=kind, at=at, amount=amount,
                                     currency="EUR", probability=stage.probability, imported=True))
            previous = stage
    # bulk_create of history refreshes the spans of the deals it touches, chunk by chunk
    for start in range(0, len(rows), 5000):
        StageHistory.objects.bulk_create(rows[start:start + 5000])
    refresh_spans(pipeline_id=pipeline.pk)
    same_month = total = Decimal(0)
    for created, amount, moves, _ in plans:
        if moves[-1][1] == "won":
            total += amount
            if (created.year, created.month) == (moves[-1][0].year, moves[-1][0].month):
                same_month += amount
    return pipeline.pk, float(same_month / total) if total else 0.0


def measured_share(pipeline_id: int) -> float:
    """Share of the won revenue from deals won in the month they were created in."""
    from dealgate.deals.models import Deal

    same = total = Decimal(0)
    for created, closed, amount in Deal.objects.filter(pipeline_id=pipeline_id, stage__kind="won").values_list(
            "created_at", "closed_at", "amount"):
        total += amount
        same += amount if (created.year, created.month) == (closed.year, closed.month) else 0
    return float(same / total) if total else 0.0


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p < limit:
            return k
        k += 1


def leading(rows: list[dict], methods: tuple[str, ...], window: int) -> list[tuple[str, dict]]:
    """For each period, the method the page would have led with at its start: the lowest MAPE over
    the `window` periods before (the first period, with none before it: time-aware)."""
    from dealgate.analytics import formulas
    from dealgate.analytics.backtest import column

    picks = []
    for i, row in enumerate(rows):
        before = rows[max(0, i - window):i]
        scored = [(formulas.mape((r[column(m)], r["actual"]) for r in before), methods.index(m), m) for m in methods]
        scored = [s for s in scored if s[0] is not None]
        picks.append((min(scored)[2] if scored else "time-aware", row))
    return picks


def backtested_range(start: dt.datetime, warm_up_months: int, months: int) -> tuple[str, str]:
    """First and last period backtested: the first that starts `warm_up_months` or more after the
    history does (and on a period boundary), the last that ends before 2026-11."""
    index = start.year * 12 + start.month - 1 + warm_up_months
    index += -index % months
    last = {1: "2026-10", 3: "2026-09"}[months]
    return f"{index // 12}-{index % 12 + 1:02d}", last


def judge(pipeline_id: int, label: str, share: str, start: dt.datetime) -> list[list[str]]:
    from dealgate.analytics import formulas
    from dealgate.analytics.backtest import backtest, column
    from dealgate.analytics.forecast import METHODS
    from dealgate.analytics.history import Scope
    from dealgate.analytics.periods import parse_as_of, periods_between

    lines = []
    for horizon, first, last, months, window in (("month", *backtested_range(start, 12, 1), 1, 6),
                                                 ("quarter", *backtested_range(start, 10, 3), 3, 4)):
        began = time.perf_counter()
        tested = backtest(Scope(pipeline_id=pipeline_id), periods_between(first, last, months), parse_as_of(None))
        took = time.perf_counter() - began
        summary = tested["summary"]
        cells = [f"{summary[m]['mape']:.0%} / {summary[m]['bias']:+.0%}" if summary[m]["mape"] is not None else "—"
                 for m in METHODS]
        coverage = summary["time-aware"].get("coverage")
        picks = leading(tested["rows"], METHODS, window)
        pairs = [(row[column(m)], row["actual"]) for m, row in picks]
        lead_mape, lead_bias = formulas.mape(pairs), formulas.bias(pairs)
        names = sorted({m for m, _ in picks}, key=METHODS.index)
        lines.append([label, share, horizon, str(sum(1 for r in tested["rows"] if r["actual"])), *cells,
                      "—" if coverage is None else f"{coverage:.0%}", "+".join(names),
                      "—" if lead_mape is None else f"{lead_mape:.0%} / {lead_bias:+.0%}", f"{took:.1f}"])
        print(" | ".join(lines[-1]), flush=True)
    return lines


def calibration_cost(pipeline_key: str, runs: int = 3) -> None:
    """Cold `forecast()` for 2026-10 as of 2026-10-01 with the range calibration and with it stubbed
    to no widening (decision 038), then the forecast page's figures cold (2026-10 as of 2026-10-15:
    the forecast with its categories, the 6-month backtest and the commit accuracy, as
    `forecast_page` asks for them), `runs` times each, figure cache cleared before each; medians of the
    wall time and of this process's CPU time (on SQLite the database's work too; less noisy than the
    wall time on a loaded machine)."""
    import statistics

    from django.core.cache import cache

    from dealgate.analytics import forecast
    from dealgate.analytics.backtest import backtest, recent_periods
    from dealgate.analytics.history import Scope
    from dealgate.analytics.periods import parse_period
    from dealgate.analytics.together import together
    from dealgate.pipelines.models import Pipeline

    scope, period = Scope(pipeline_id=Pipeline.objects.get(key=pipeline_key).pk), parse_period("2026-10")
    page_cutoff = period.start + dt.timedelta(days=14)

    def page() -> None:
        together(lambda: forecast.forecast_report(scope, period, page_cutoff, groups=("owner", "team")),
                 lambda: backtest(scope, recent_periods(page_cutoff, 1), page_cutoff),
                 lambda: forecast.commit_accuracy(scope, period, page_cutoff))

    real = forecast.calibration
    none = lambda *args, **kwargs: {"widen": 0.0, "periods": 0, "error": None, "model": None}  # noqa: E731
    cases = (("forecast 2026-10 cold, with calibration", lambda: forecast.forecast(scope, period, period.start), real),
             ("forecast 2026-10 cold, without (no widening)", lambda: forecast.forecast(scope, period, period.start),
              none),
             ("forecast page 2026-10 as of 10-15 cold", page, real))
    took: dict[str, list[float]] = {}
    used: dict[str, list[float]] = {}  # this process's CPU (SQLite works in it; threads included)
    try:
        for _ in range(runs):
            for label, call, calibration in cases:
                forecast.calibration = calibration
                cache.clear()
                began, cpu = time.perf_counter(), time.process_time()
                call()
                took.setdefault(label, []).append(time.perf_counter() - began)
                used.setdefault(label, []).append(time.process_time() - cpu)
                print(f"{pipeline_key} {label}: {took[label][-1]:.2f} s (CPU {used[label][-1]:.2f} s); "
                      f"{machine_label()}", flush=True)
    finally:
        forecast.calibration = real
    for label, seconds in took.items():
        print(f"{pipeline_key} {label}: median {statistics.median(seconds):.2f} s, CPU "
              f"{statistics.median(used[label]):.2f} s, of {len(seconds)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=float, default=8.0)
    parser.add_argument("--shares", default="0.1,0.3,0.5,0.8")
    parser.add_argument("--demo-deals", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--years", type=int, default=4,
                        help="history of each planted set, up to 2026-12-01 (with --reuse: the same as when generated)")
    parser.add_argument("--reuse", action="store_true", help="backtest the sets an earlier run generated")
    parser.add_argument("--cost", metavar="PIPELINE_KEY",
                        help="with --reuse: only time a cold forecast with and without the range calibration, and the "
                             "forecast page's figures cold (3 runs each, medians)")
    args = parser.parse_args()
    import os

    global START
    START = END.replace(year=END.year - args.years)
    if "DATABASE_URL" not in os.environ and not args.reuse:
        shutil.rmtree(ROOT / "bench" / ".data" / "forecast_accuracy", ignore_errors=True)
    django_setup("forecast_accuracy")
    if args.cost:
        calibration_cost(args.cost)
        return
    from dealgate.demo.generator import generate
    from dealgate.pipelines.models import Pipeline

    began = time.perf_counter()
    sets = []
    for index, share in enumerate(float(s) for s in args.shares.split(",")):
        if args.reuse:
            pipeline = Pipeline.objects.get(key=f"planted-{index}")
            sets.append((pipeline.pk, f"planted {share:.0%}", f"{measured_share(pipeline.pk):.0%}"))
            continue
        pipeline_id, measured = plant(index, share, args.per_day, args.seed + index, args.years)
        sets.append((pipeline_id, f"planted {share:.0%}", f"{measured:.0%}"))
    demo = []
    if args.demo_deals and not args.reuse:
        generate(deals=args.demo_deals, seed=7, today=dt.date(2026, 11, 24))
    if args.demo_deals:
        demo = [(p.pk, f"demo {p.key}", "?") for p in Pipeline.objects.exclude(key__startswith="planted-")]
    print(f"generated in {time.perf_counter() - began:.0f} s; {database_label()}; {machine_label()}")
    header = ["Data", "New-business share", "Horizon", "Periods", "Weighted MAPE / bias", "Historical MAPE / bias",
              "Time-aware MAPE / bias", "Time-aware P10-P90 coverage", "Led with", "Lead MAPE / bias", "Backtest s"]
    print(" | ".join(header))
    # the demo's history is about two years long: its periods are those of a 2-year planted set
    demo_start = END.replace(year=END.year - 2)
    rows = [line for pipeline_id, label, share, start in [(*s, START) for s in sets] + [(*d, demo_start) for d in demo]
            for line in judge(pipeline_id, label, share, start)]
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n{database_label()}; {machine_label()}")


if __name__ == "__main__":
    main()
