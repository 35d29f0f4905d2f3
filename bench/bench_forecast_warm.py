"""The first forecast page view of a day, with and without the worker's warm-up (decision 053, issue 15).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/forecast_1m python bench/bench_forecast_warm.py [--runs 2]

Uses the database bench_forecast_speed.py fills (e.g. `--deals 1000000 --copy-from 100000`). Per run:
every stored figure deleted and the figure cache cleared (a new day: no past window kept), then
`forecast_report` of b2b-7's current quarter as of now, as the page asks for it ("without the
worker"); the same again after `warm_forecasts()` has run ("after it"), and how long the warm-up
itself took. Prints seconds and the machine load.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import database_label, django_setup, machine_label  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--pipeline", default="b2b-7")
    args = parser.parse_args()
    django_setup("forecast_speed")
    from django.core.cache import cache

    from dealgate.analytics import forecast
    from dealgate.analytics.history import Scope, with_rates
    from dealgate.analytics.models import StoredFigure
    from dealgate.analytics.periods import page_now, period_containing
    from dealgate.analytics.warm import warm_forecasts
    from dealgate.deals.models import Deal
    from dealgate.pipelines.models import Pipeline

    scope = with_rates(Scope(pipeline_id=Pipeline.objects.get(key=args.pipeline).pk))
    print(f"{Deal.objects.count():,} deals; {database_label()}; pipeline {args.pipeline}", flush=True)
    for _ in range(args.runs):
        cutoff = page_now()
        period = period_containing(cutoff.date(), 3)

        def page() -> float:
            began = time.perf_counter()
            forecast.forecast_report(scope, period, cutoff, groups=("owner", "team"))
            return time.perf_counter() - began

        StoredFigure.objects.all().delete()
        cache.clear()
        without = page()
        StoredFigure.objects.all().delete()
        cache.clear()
        began = time.perf_counter()
        warmed = warm_forecasts()
        warming = time.perf_counter() - began
        cache.clear()
        after = page()
        print(f"first view of a day without the worker {without:.2f} s; the worker's warm-up {warming:.2f} s "
              f"({len(warmed)} pipelines); first view after it {after:.2f} s; {machine_label()}", flush=True)


if __name__ == "__main__":
    main()
