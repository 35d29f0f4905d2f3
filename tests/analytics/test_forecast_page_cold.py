"""Decision 049 (issue 16): a cold forecast page reuses the backtest's past forecasts and judges its
windows in one scan, with the same figures as the direct computation.

* `backtest.forecast_made`: what the backtest reads of a forecast made at a past period's start,
  kept in the database like the time-aware windows (decision 044).
* `metrics.won_amounts`: what was won in several periods as known at a cutoff, from one scan; each
  equal to `outcomes(...)["won_amount"]`."""

import sys
from decimal import Decimal
from pathlib import Path

import pytest
from analytics_builders import Counted, History, at, stuck_in_qualify
from django.core.cache import cache

from dealgate.analytics import backtest as backtest_module
from dealgate.analytics import forecast
from dealgate.analytics.backtest import backtest, recent_periods
from dealgate.analytics.history import Scope
from dealgate.analytics.metrics import outcomes, won_amounts
from dealgate.analytics.models import StoredFigure
from dealgate.analytics.periods import parse_period
from dealgate.pipelines.models import Pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_forecast_accuracy import plant  # noqa: E402

CUTOFF, JUDGED_AT = at("2026-10-15"), at("2026-11-01")


@pytest.mark.django_db
def test_won_amounts_are_each_periods_won_amount_from_one_scan(world, pipeline):
    history = stuck_in_qualify(world, pipeline)  # Feb 11-16 and May 11-16: six wins of 1,000 each
    reopened = history.deal("2026-01-05", 3000)
    history.move(reopened, "won", "2026-02-20")
    history.move(reopened, "propose", "2026-03-10")  # won in February, reopened in March
    lost = history.deal("2026-01-06", 5000)
    history.move(lost, "lost", "2026-02-21")
    scope = Scope(pipeline_id=pipeline.pk)
    periods = tuple(parse_period(label) for label in ("2026-02", "2026-03", "2026-05", "2026-Q1", "2026-Q2",
                                                      "2026-Q3", "2026-06"))
    # hand-derived: as of December the reopened deal is open again; as of March 1st it was won in February
    assert won_amounts(scope, periods, at("2026-12-01")) == tuple(
        Decimal(v) for v in ("6000.00", "0.00", "6000.00", "6000.00", "6000.00", "0.00", "0.00"))
    assert won_amounts(scope, periods[:1], at("2026-03-01")) == (Decimal("9000.00"),)
    assert won_amounts(scope, periods[2:3], at("2026-05-13")) == (Decimal("2000.00"),)  # May 11 and 12 so far
    for cutoff in (at("2026-03-01"), at("2026-05-13"), at("2026-12-01")):
        assert won_amounts(scope, periods, cutoff) == tuple(outcomes(scope, p, cutoff)["won_amount"] for p in periods)
    assert won_amounts(scope, (), at("2026-12-01")) == ()


@pytest.fixture
def planted(db):
    """The planted history of tests/analytics/test_forecast_cost.py (seed 15)."""
    pipeline_id, _ = plant(0, 0.5, 2.0, 15)
    return Scope(pipeline_id=pipeline_id)


def _cold_backtest(scope: Scope, monkeypatch) -> tuple[dict, int]:
    """The page's backtest (the 6 months before October 2026) with the per-process cache emptied, as a
    new process sees it, and how many forecasts it made."""
    cache.clear()
    made = Counted(backtest_module.forecast)
    monkeypatch.setattr(backtest_module, "forecast", made)
    tested = backtest(scope, recent_periods(CUTOFF, 1), JUDGED_AT)
    monkeypatch.undo()
    return tested, made.calls


@pytest.mark.django_db
def test_the_backtests_forecasts_are_stored_with_the_figures_of_the_direct_forecast(planted, monkeypatch):
    StoredFigure.objects.all().delete()
    first, computed = _cold_backtest(planted, monkeypatch)
    assert computed == 6
    periods = recent_periods(CUTOFF, 1)
    for period, row in zip(periods, first["rows"]):
        direct = forecast.forecast(planted, period, period.start)["methods"]
        assert row["weighted"] == direct["weighted"]["expected"]
        assert row["historical"] == direct["historical"]["expected"]
        assert row["time_aware"] == direct["time-aware"]["expected"]
        assert (row["p10"], row["p90"]) == (direct["time-aware"]["p10"], direct["time-aware"]["p90"])
        assert row["actual"] == outcomes(planted, period, JUDGED_AT)["won_amount"]
    assert sum(1 for row in first["rows"] if row["actual"]) >= 3  # a real backtest: months with wins
    again, computed = _cold_backtest(planted, monkeypatch)
    assert computed == 0  # a new process finds them stored
    assert again == first


@pytest.mark.django_db
def test_a_rewrite_recomputes_the_backtested_forecasts_made_after_it(planted, world, monkeypatch):
    first, _ = _cold_backtest(planted, monkeypatch)
    history = History(world, Pipeline.objects.get(pk=planted.pipeline_id))
    deal = history.deal("2026-06-01", 250_000)  # an import of older events: a note from 2026-06-01
    history.move(deal, "won", "2026-06-10")
    made, computed = _cold_backtest(planted, monkeypatch)
    assert computed == 3  # July, August and September were made after June 1st; April to June before
    StoredFigure.objects.all().delete()
    cache.clear()
    assert made == backtest(planted, recent_periods(CUTOFF, 1), JUDGED_AT)
    assert made["rows"][2]["actual"] == first["rows"][2]["actual"] + Decimal("250000.00")  # June won it


@pytest.mark.django_db
def test_categories_per_owner_and_per_team_come_from_one_scan(world, pipeline, monkeypatch):
    history = History(world, pipeline)
    for owner, created, amount, close, category, won_on in (
            (world.alice, "2026-09-01", 1000, "2026-11-20", "commit", None),
            (world.alice, "2026-09-02", 2000, "2026-12-15", "best_case", None),
            (world.alice, "2026-09-03", 500, "2026-10-31", "commit", "2026-10-10"),
            (world.alice, "2026-09-04", 4000, "2027-01-15", "commit", None),  # due after the quarter
            (world.carol, "2026-09-05", 3000, "2026-12-01", "commit", None),
            (world.carol, "2026-09-06", 700, "2026-10-31", "pipeline", "2026-10-20"),
            (world.bob, "2026-09-07", 800, "2026-11-30", "pipeline", None)):
        deal = history.deal(created, amount, owner=owner, close_date=close, category=category)
        if won_on:
            history.move(deal, "won", won_on)
    scope, q4, cutoff = Scope(pipeline_id=pipeline.pk), parse_period("2026-Q4"), at("2026-11-01")
    scans = Counted(forecast.fetch)
    monkeypatch.setattr(forecast, "fetch", scans)
    rows = forecast._category_rows(scope, q4, cutoff, "owner") + forecast._category_rows(scope, q4, cutoff, "team")
    assert scans.calls == 1 and rows
    monkeypatch.undo()

    def amounts(by: str) -> dict[str, tuple[Decimal, ...]]:
        return {row["name"]: tuple(row[k] for k in ("won", "commit", "best_case", "pipeline"))
                for row in forecast.categories(scope, q4, cutoff, by)}

    d = Decimal
    assert amounts("owner") == {"Alice": (d("500.00"), d("1000.00"), d("2000.00"), d("0.00")),
                                "Bob": (d("0.00"), d("0.00"), d("0.00"), d("800.00")),
                                "Carol": (d("700.00"), d("3000.00"), d("0.00"), d("0.00"))}
    assert amounts("team") == {"East": (d("500.00"), d("1000.00"), d("2000.00"), d("800.00")),
                               "West": (d("700.00"), d("3000.00"), d("0.00"), d("0.00"))}


@pytest.mark.django_db
def test_fetch_floats_reads_the_numbers_the_rows_hold():
    """PostgreSQL reads them from a binary COPY: the same doubles as the rows, NULL as nan."""
    import numpy as np

    from dealgate.analytics.history import days_between, fetch_floats, fetch_rows, ts

    sql = (f"SELECT 1099511627776 AS a, {days_between('%(start)s', '%(end)s')} AS b, NULL AS c "
           "UNION ALL SELECT 3, -0.125, 7")
    params = {"start": ts(at("2026-01-01")), "end": ts(at("2026-03-04 05:06:07.123456"))}
    made = fetch_floats(sql, params, 3)
    rows = fetch_rows(sql, params)
    assert made.shape == (2, 3)
    assert np.array_equal(made, np.array(rows, dtype=float), equal_nan=True)
    assert made[0, 0] == 2 ** 40 and np.isnan(made[0, 2]) and made[1, 2] == 7.0
    assert made[0, 1] == pytest.approx(62 + (5 * 3600 + 6 * 60 + 7.123456) / 86400, abs=1e-6)  # SQLite: ms
    assert fetch_floats(sql + " ORDER BY 1 LIMIT 0", params, 3).shape == (0, 3)
