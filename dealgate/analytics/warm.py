"""The worker computes each day's past forecasts before anyone opens the forecast page.

A forecast's range is calibrated on six past windows, each judged as many whole days into its
window as today is into the period (`forecast.calibration_windows`). So each new day asks for six
new past forecasts per pipeline, which are kept in the database once computed (decision 044). At
1,000,000 deals the first forecast page of a day took about 6 s while it computed them, and any
later one (cold) 2 s. The worker (`dealgate worker`, beside its periodic scans) computes them for
each pipeline's company-wide forecast of the current quarter, as the page asks for it, once a day.
A viewer's own scope (a rep's or manager's page) is not computed ahead: docs/decisions/053.
"""

from __future__ import annotations

import datetime as dt

from dealgate.analytics import forecast
from dealgate.analytics.history import Scope, with_rates
from dealgate.analytics.periods import page_now, period_containing


def warm_forecasts(now: dt.datetime | None = None) -> list[int]:
    """Compute the stored past windows of each pipeline's forecast page (the current quarter, as of
    now, every deal) where they are missing; returns the ids of the pipelines computed. Cheap when
    nothing is missing: a lookup of the stored windows per pipeline."""
    from django.db.models import Exists, OuterRef

    from dealgate.deals.models import Deal
    from dealgate.pipelines.models import Pipeline

    cutoff = page_now(now)
    period = period_containing(cutoff.date(), 3)
    windows = forecast.calibration_windows(period, cutoff)
    config = forecast.Settings()
    computed = []
    # Pipelines with a deal, found through the deals' pipeline index: not a scan of every deal each round.
    with_deals = Pipeline.objects.filter(Exists(Deal.objects.filter(pipeline=OuterRef("pk")))).order_by("pk")
    for pipeline_id in with_deals.values_list("pk", flat=True):
        scope = with_rates(Scope(pipeline_id=pipeline_id))
        if all(forecast._time_aware_window.is_stored(scope, past, at, config, True) for past, at in windows):
            continue
        forecast.forecast_report(scope, period, cutoff, groups=("owner", "team"))
        computed.append(pipeline_id)
    return computed
