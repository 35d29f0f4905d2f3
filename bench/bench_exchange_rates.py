"""Benchmark: what converting other currencies with dated exchange rates (decision 035) costs the
figures, on generated demo data (whose deals are partly in USD).

    DEALGATE_DATA_DIR=/tmp/bench-rates python bench/bench_exchange_rates.py --deals 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rates_bench python bench/bench_exchange_rates.py --deals 20000

For pipeline b2b-7, 2026-Q3 as of 2026-10-01: period metrics, the waterfall and the weighted
forecast (cold: figure cache emptied; median of --repeat), once with no rate (USD deals left out)
and once with two USD rates (converted); prints both results' won and open amounts. The rates are
written before and removed after the run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

from _setup import database_label, django_setup, machine_label
from bench_insights import ensure, timed

UTC = dt.timezone.utc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    django_setup("rates")
    count = ensure(args.deals, 11)

    from dealgate.analytics import forecast, metrics
    from dealgate.analytics.history import Scope, with_rates
    from dealgate.analytics.models import ExchangeRate
    from dealgate.analytics.periods import parse_period
    from dealgate.analytics.rates import set_rate
    from dealgate.pipelines.models import Pipeline

    pipeline = Pipeline.objects.get(key="b2b-7")
    period, as_of = parse_period("2026-Q3"), dt.datetime(2026, 10, 1, tzinfo=UTC)
    print(f"{count:,} deals; {database_label()}; {machine_label()}; load {os.getloadavg()[0]:.1f}")
    ExchangeRate.objects.all().delete()
    for label in ("no rate", "USD rates"):
        if label == "USD rates":
            set_rate(currency="USD", rate="0.95", effective_from="2026-01-01", by=None)
            set_rate(currency="USD", rate="0.92", effective_from="2026-08-01", by=None)
        scope = with_rates(Scope(pipeline_id=pipeline.pk))
        seconds_m, result = timed(lambda: metrics.period_metrics(scope, period, as_of), args.repeat)
        seconds_w, bridge = timed(lambda: metrics.waterfall(scope, period, as_of), args.repeat)
        seconds_f, fc = timed(lambda: forecast.weighted_forecast(scope, parse_period("2026-Q4"), as_of), args.repeat)
        print(f"{label:>9}: metrics {seconds_m * 1000:.0f} ms (won {result['won']:,} for {result['won_amount']:,}, "
              f"open {result['open_deals']:,} for {result['pipeline']:,}); waterfall {seconds_w * 1000:.0f} ms "
              f"(adds up: {bridge['adds_up']}); weighted forecast {seconds_f * 1000:.0f} ms; load "
              f"{os.getloadavg()[0]:.1f}")
    ExchangeRate.objects.all().delete()


if __name__ == "__main__":
    main()
