"""Benchmark: the bottleneck reading (same-age conversion, decision 028) and the "left out" count of
deals in other currencies, on generated demo data.

    DEALGATE_DATA_DIR=/tmp/bench-bottlenecks python bench/bench_bottlenecks.py --deals 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bottlenecks_bench python bench/bench_bottlenecks.py --deals 100000

For pipeline b2b-7 and 2026-Q3, as of 2026-09-02 (a quarter in progress) and as of 2026-10-01 (done):
prints the bottleneck sentences and each stage's same-age conversion next to the plain cohort
conversion, and times `metrics.bottlenecks` (cold: figure cache emptied; median of --repeat) and
`left_out.other_currencies` (median of --repeat).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from _setup import database_label, django_setup, machine_label
from bench_insights import ensure

UTC = dt.timezone.utc


def median_seconds(fn, repeat: int) -> float:
    from django.core.cache import cache

    samples = []
    for _ in range(repeat):
        cache.clear()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    django_setup("bottlenecks")
    count = ensure(args.deals, 11)

    from dealgate.analytics import metrics
    from dealgate.analytics.history import Scope
    from dealgate.analytics.left_out import other_currencies
    from dealgate.analytics.periods import parse_period
    from dealgate.pipelines.models import Pipeline

    pipeline = Pipeline.objects.get(key="b2b-7")
    scope, period = Scope(pipeline_id=pipeline.pk), parse_period("2026-Q3")
    print(f"{count:,} deals; {database_label()}; {machine_label()}")
    for as_of in (dt.datetime(2026, 9, 3, tzinfo=UTC), dt.datetime(2026, 10, 1, tzinfo=UTC)):
        result = metrics.bottlenecks(scope, period, as_of)
        print(f"\nas of {as_of - dt.timedelta(days=1):%Y-%m-%d}:")
        for sentence in result["sentences"]:
            print(f"  * {sentence}")
        for s in result["stages"]:
            def pct(v):
                return "   —  " if v is None else f"{v * 100:5.1f}%"
            print(f"  {s['stage']:<24} plain {pct(s['conversion'])} of {s['entered']:>6,}   within "
                  f"{s['window_days']} d {pct(s['aged_conversion'])} of {s['aged_entered']:>6,}   before "
                  f"{pct(s['trailing_conversion'])} of {s['trailing_entered']:>6,}")
        seconds = median_seconds(lambda: metrics.bottlenecks(scope, period, as_of), args.repeat)
        print(f"  bottlenecks (cold): {seconds * 1000:.0f} ms")
    seconds = median_seconds(lambda: other_currencies(scope), args.repeat)
    print(f"\nother_currencies (one pipeline): {seconds * 1000:.1f} ms -> {other_currencies(scope)}")


if __name__ == "__main__":
    main()
