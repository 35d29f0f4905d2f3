"""Issue 15 (forecast speed): the new-business figures of many cutoffs from one pass are the
numbers each cutoff's own queries give (new_business.new_business_of_windows against the
per-cutoff new_business), and a cold forecast asks for them in one pass."""

import sys
from pathlib import Path

import pytest
from analytics_builders import at

from dealgate.analytics import forecast, new_business
from dealgate.analytics.history import Scope
from dealgate.analytics.periods import parse_period

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_forecast_accuracy import plant  # noqa: E402


@pytest.fixture
def planted(db):
    """The bench's planted history (season, trend, half of a month's wins from deals created in it),
    2 new deals a day, seed 15: two years, so the seasonal rate factor applies."""
    pipeline_id, _ = plant(0, 0.5, 2.0, 15)
    return Scope(pipeline_id=pipeline_id)


def _windows():
    """The calibration windows of a month and of a quarter (cutoffs mid-window and at midnight),
    a period already over at its cutoff, one far ahead, and a cutoff before any deal."""
    return [*forecast.calibration_windows(parse_period("2026-10"), at("2026-10-15")),
            *forecast.calibration_windows(parse_period("2026-Q4"), at("2026-10-01")),
            (parse_period("2026-10"), at("2026-10-15")), (parse_period("2026-09"), at("2026-10-15")),
            (parse_period("2027-Q1"), at("2026-11-30")), (parse_period("2024-12"), at("2024-11-01")),
            (parse_period("2025-01"), at("2024-12-10"))]


@pytest.mark.django_db
def test_one_pass_gives_each_cutoffs_own_numbers(planted):
    windows = _windows()
    shared = new_business.new_business_of_windows(planted, windows)
    alone = [new_business.new_business.uncached(planted, period, cutoff) for period, cutoff in windows]
    assert sum(1 for made in alone if made["expected"] > 0) >= 10  # real figures, not empty ones
    assert {made["rate_basis"] for made in alone} >= {"season", "trend"}
    # Every count and basis is the same, every amount the same to the cent. The one pass takes each
    # cutoff's days watched as (days to the latest cutoff) - (the cutoff's days to it): on SQLite
    # the very numbers the per-cutoff query gives; on PostgreSQL, with microseconds, they can differ
    # in the last binary digit, so the floats are compared to 1e-12.
    for one, other in zip(shared, alone):
        assert {k: v for k, v in one.items() if isinstance(v, (int, str))} == \
            {k: v for k, v in other.items() if isinstance(v, (int, str))}
        assert round(one["expected"], 2) == round(other["expected"], 2)
        assert {k: v for k, v in one.items() if isinstance(v, float)} == \
            {k: pytest.approx(v, rel=1e-12, abs=1e-12) for k, v in other.items() if isinstance(v, float)}


def _record_sql(monkeypatch, name: str) -> list[str]:
    """Every SQL text new_business sends through its `name` helper, still run for real."""
    sent: list[str] = []
    real = getattr(new_business, name)
    monkeypatch.setattr(new_business, name, lambda sql, params, *rest: sent.append(sql) or real(sql, params, *rest))
    return sent


@pytest.mark.django_db
def test_a_cold_forecast_reads_the_creation_spans_once_for_all_its_windows(planted, monkeypatch):
    """forecast() for a month: its own window and its calibration's 6. Each cutoff alone would read
    them with 3 queries (7 x 3); together: 2, and none once the figures are stored."""
    from django.core.cache import cache

    cache.clear()
    calls = _record_sql(monkeypatch, "fetch")
    rows, arrays = _record_sql(monkeypatch, "fetch_rows"), _record_sql(monkeypatch, "fetch_floats")
    made = forecast.forecast(planted, parse_period("2026-10"), at("2026-10-15"))
    assert made["new_business"]["expected"] > 0
    assert calls == []  # no per-cutoff query
    assert len([sql for sql in rows + arrays if "deals_statespan" in sql]) == 2
    forecast.forecast(planted, parse_period("2026-10"), at("2026-10-15"))
    assert len([sql for sql in rows + arrays if "deals_statespan" in sql]) == 2
