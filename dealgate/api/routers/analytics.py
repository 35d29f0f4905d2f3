"""Analytics, read-only: the metrics, forecast and bottlenecks of the insights pages and of
`dealgate report` / `dealgate forecast`.

Thin on purpose: the figures come from the same functions as the pages and commands
(`dealgate.analytics.metrics` and `.forecast`), on a scope narrowed to what the caller may see
(`scope_for`: reps and managers see their team's deals), and are serialised the way the
commands' `--json` does (amounts as decimal strings), so the three always agree.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from ninja import Query, Router

from dealgate.analytics import forecast as forecasting
from dealgate.analytics import metrics
from dealgate.analytics.history import Scope, scope_for, with_rates
from dealgate.analytics.left_out import converted_currencies, other_currencies
from dealgate.analytics.periods import Period, parse_as_of, parse_period, period_containing
from dealgate.api.routers import ERRORS
from dealgate.api.routers.lookups import pipeline_by_key, user_by_username
from dealgate.analytics.signal_conversion import signal_conversion
from dealgate.api.schemas import AnalyticsFilters, BottlenecksOut, ForecastOut, MetricsOut, SignalConversionOut
from dealgate.cli_support import dumps
from dealgate.errors import NotFound
from dealgate.people.models import Team

router = Router(tags=["analytics"])


def _scope(user: Any, filters: AnalyticsFilters) -> Scope:
    cuts: dict[str, Any] = {"source": filters.source, "segment": filters.segment,
                            "currency": filters.currency.upper() if filters.currency else None}
    if filters.pipeline:
        cuts["pipeline_id"] = pipeline_by_key(filters.pipeline).pk
    if filters.owner:
        cuts["owner_id"] = user_by_username(filters.owner).pk
    if filters.team:
        team = Team.objects.filter(name=filters.team).first()
        if team is None:
            raise NotFound(f"No team {filters.team!r}.", details={"team": filters.team})
        cuts["team_id"] = team.pk
    return with_rates(scope_for(user, **cuts))


def _period_and_cutoff(filters: AnalyticsFilters) -> tuple[Period, Any]:
    """As the commands read --period and --as-of; a bad value is a 422 naming the field."""
    cutoff = parse_as_of(filters.as_of)
    period = parse_period(filters.period) if filters.period else period_containing(cutoff.date(), 3)
    return period, cutoff


def _request(request: Any, filters: AnalyticsFilters) -> tuple[Scope, Period, Any, dict[str, Any]]:
    scope = _scope(request.auth, filters)
    period, cutoff = _period_and_cutoff(filters)
    return scope, period, cutoff, {"period": period.label, "as_of": cutoff, "currency": scope.currency,
                                   "left_out": other_currencies(scope), "converted": converted_currencies(scope)}


def as_json(data: Any) -> Any:
    """Exactly what the commands print with --json: Decimals as strings, floats as numbers."""
    return json.loads(dumps(data))


@router.get("/metrics", response={200: MetricsOut, **ERRORS}, summary="Pipeline metrics for a period")
def get_metrics(request, filters: Query[AnalyticsFilters]):
    """Win rate, deal size, cycle, velocity, pipeline and coverage (`dealgate report metrics`)."""
    scope, period, cutoff, head = _request(request, filters)
    return {**head, "metrics": as_json(metrics.period_metrics(scope, period, cutoff))}


@router.get("/forecast", response={200: ForecastOut, **ERRORS}, summary="Forecast what will be won in a period")
def get_forecast(request, filters: Query[AnalyticsFilters],
                 method: Literal["weighted", "historical", "time-aware", "all"] = "all"):
    """Each method's expected amount, the categories per owner and the stage probabilities (`dealgate forecast`)."""
    scope, period, cutoff, head = _request(request, filters)
    methods = forecasting.METHODS if method == "all" else (method,)
    result = forecasting.forecast_report(scope, period, cutoff, methods)
    probabilities = [{"stage_id": stage_id, **row} for stage_id, row in result["probabilities"].items()]
    return {**head, "methods": as_json(result["methods"]), "categories": as_json(result["categories"]["owner"]),
            "probabilities": as_json(probabilities), "new_business": as_json(result["new_business"]),
            "close_dates": result["close_dates"]}


@router.get("/bottlenecks", response={200: BottlenecksOut, **ERRORS}, summary="Where the pipeline is stuck")
def get_bottlenecks(request, filters: Query[AnalyticsFilters]):
    """Per open stage: conversion and time in stage against the four periods before (`dealgate report bottlenecks`)."""
    scope, period, cutoff, head = _request(request, filters)
    return {**head, **as_json(metrics.bottlenecks(scope, period, cutoff))}


@router.get("/signal-conversion", response={200: SignalConversionOut, **ERRORS},
            summary="How many signals became deals, per period raised")
def get_signal_conversion(request, filters: Query[AnalyticsFilters]):
    """Converted / decided (converted + dismissed) for the signals raised in the period and the three
    before it, on the accounts the caller may see (`dealgate report signals`, the insights page).
    Owner, team and segment narrow it; pipeline, source and currency do not apply to signals."""
    scope, period, cutoff, head = _request(request, filters)
    return {**head, "periods": as_json(signal_conversion(request.auth, scope, period, cutoff))}
