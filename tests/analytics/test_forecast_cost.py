"""Brief G2 (issues 15/16): a cold forecast page shares its windows' work (decision 038, Cost).

A past period's forecast is needed twice on the page: with its own widened range (the backtest row)
and without it (a later period's calibration). Both now come from one window computation
(`forecast._time_aware_window`: the queries and the simulation), so the page computes fewer windows
and every figure stays what it was before the sharing.

The snapshot (tests/analytics/data/forecast_cost_snapshot.json) was written by the code BEFORE the
sharing (commit a0ed265) with DEALGATE_WRITE_SNAPSHOT=1 on the seeded planted set below; regenerate
it the same way only for a change that is meant to move the figures."""

import json
import os
import sys
from pathlib import Path

import pytest
from analytics_builders import Counted, at
from django.core.serializers.json import DjangoJSONEncoder

from dealgate.analytics import forecast
from dealgate.analytics.backtest import backtest, recent_periods
from dealgate.analytics.history import Scope
from dealgate.analytics.periods import parse_period

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_forecast_accuracy import plant  # noqa: E402

SNAPSHOT = Path(__file__).resolve().parent / "data" / "forecast_cost_snapshot.json"
OCTOBER, CUTOFF, JUDGED_AT = parse_period("2026-10"), at("2026-10-15"), at("2026-11-01")


def _page(scope: Scope) -> dict:
    """What the forecast page shows of the time-aware method and the backtest, as JSON: the point,
    the range, the calibration, the other methods' points and the recent backtest (6 months)."""
    report = forecast.forecast_report(scope, OCTOBER, CUTOFF)
    tested = backtest(scope, recent_periods(CUTOFF, 1), JUDGED_AT)
    methods = {name: {key: made[key] for key in ("expected", "already_won", "from_open", "from_new", "p10", "p50",
                                                  "p90", "calibration") if key in made}
               for name, made in report["methods"].items()}
    return json.loads(json.dumps({"methods": methods, "backtest": tested}, cls=DjangoJSONEncoder))


@pytest.fixture
def planted(db):
    """The bench's planted history (half of a month's won revenue from deals created in it, season,
    trend, a bottleneck), 2 new deals a day, seed 15."""
    pipeline_id, _ = plant(0, 0.5, 2.0, 15)
    return Scope(pipeline_id=pipeline_id)


@pytest.mark.django_db
def test_the_forecast_and_its_backtest_are_what_they_were_before_the_sharing(planted):
    made = _page(planted)
    if os.environ.get("DEALGATE_WRITE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(made, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert made["methods"]["time-aware"]["calibration"]["periods"] >= 3  # the range is widened: a real check
    assert made == expected


@pytest.mark.django_db
def test_a_cold_forecast_page_computes_each_window_once(planted, monkeypatch):
    """The page (as of 2026-10-15): October itself, its calibration's 6 windows (April-September as
    far in as the 15th), the backtest's 6 months (April-September from their first day) and their
    calibrations' windows (October 2025 - August 2026 from their first day; April-August are the
    backtest's own). Distinct windows: 1 + 6 + 12 = 19, each simulated once and each with one timing
    table. Before the sharing, the backtest's 6 were simulated twice (24 simulations)."""
    from django.core.cache import cache

    cache.clear()
    simulated, tables = Counted(forecast.open_deals), Counted(forecast._tally)
    monkeypatch.setattr(forecast, "open_deals", simulated)
    monkeypatch.setattr(forecast, "_tally", tables)
    _page(planted)
    assert (simulated.calls, tables.calls) == (19, 19)
    _page(planted)  # warm: nothing again
    assert (simulated.calls, tables.calls) == (19, 19)
