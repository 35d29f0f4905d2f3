"""Benchmark: `forecast()` for one pipeline, cold and warm, with new business and the calibrated range (issue 15).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/forecast_speed python bench/bench_forecast_speed.py --deals 100000
    DATABASE_URL=... python bench/bench_forecast_speed.py --deals 100000 --profile 25   # cProfile, threads off

Data: `generate(deals=N, seed=11, today=2026-11-24)` (generated once; `--deals` is the least the database
must hold). Timed: the three methods for the quarter after `--period` (default 2026-Q4) as of now, as
bench_insights.py times its forecast. "cold": the figure cache emptied before each run; "warm": the
same call again (the time-aware window as of now is computed again only if a span was written).
Prints the median of `--repeat` runs of each, the machine load (1 minute, `uptime`) and the figures,
so two trees can be compared number for number.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _setup import database_label, django_setup, machine_label

from bench_insights import TODAY, ensure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--period", default="2026-Q4")
    parser.add_argument("--pipeline", default="b2b-7")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=int, metavar="N", help="print the N largest cumulative entries of one "
                        "cold run under cProfile, figures one at a time (DEALGATE_ANALYTICS_THREADS=1)")
    args = parser.parse_args()
    if args.profile:
        import os

        os.environ["DEALGATE_ANALYTICS_THREADS"] = "1"
    django_setup("forecast_speed")
    from django.core.cache import cache

    from dealgate.analytics.forecast import forecast
    from dealgate.analytics.history import Scope
    from dealgate.analytics.periods import parse_as_of, parse_period
    from dealgate.pipelines.models import Pipeline

    deals = ensure(args.deals, 11)
    scope, period = Scope(pipeline_id=Pipeline.objects.get(key=args.pipeline).pk), parse_period(args.period)
    cutoff = parse_as_of(None)
    assert cutoff >= parse_as_of(TODAY), "the bench assumes the data ends before the run"
    print(f"{deals:,} deals; {database_label()}; pipeline {args.pipeline}; {period.label} as of now", flush=True)
    if args.profile:
        import cProfile
        import pstats

        cache.clear()
        profiler = cProfile.Profile()
        profiler.enable()
        forecast(scope, period, cutoff)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        return
    cold, warm, made = [], [], None
    for _ in range(args.repeat):
        cache.clear()
        began = time.perf_counter()
        made = forecast(scope, period, cutoff)
        cold.append(time.perf_counter() - began)
        began = time.perf_counter()
        forecast(scope, period, cutoff)
        warm.append(time.perf_counter() - began)
        print(f"cold {cold[-1]:.2f} s, warm {warm[-1]:.3f} s; {machine_label()}", flush=True)
    print(f"forecast {period.label}, {deals:,} deals: cold median {statistics.median(cold):.2f} s "
          f"(runs {', '.join(f'{s:.2f}' for s in cold)}), warm median {statistics.median(warm):.3f} s; "
          f"{machine_label()}")
    for name, method in made["methods"].items():
        print(f"  {name}: " + ", ".join(f"{key} {method[key]}" for key in (
            "expected", "already_won", "from_open", "from_new", "p10", "p50", "p90") if key in method))
    print(f"  calibration {made['methods']['time-aware']['calibration']}")
    print(f"  new business {made['new_business']}")


if __name__ == "__main__":
    main()
