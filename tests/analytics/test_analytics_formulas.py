"""The formulas of domain.md sections 5 and 6 against their worked examples."""

from decimal import Decimal

import pytest

from dealgate.analytics import formulas
from dealgate.analytics.periods import parse_as_of, parse_period, periods_between
from dealgate.errors import ValidationFailed


def test_it_computes_the_worked_velocity_example():
    assert round(formulas.sales_velocity(50, 0.20, 10_000, 70), 2) == 1428.57


def test_it_computes_the_worked_weighted_pipeline_example():
    weighted, unweighted = formulas.weighted_pipeline([(50_000, 60), (25_000, 20), (75_000, 80)])
    assert (weighted, unweighted) == (Decimal("95000"), Decimal("150000"))


def test_a_deal_without_an_amount_adds_nothing_to_the_pipeline():
    assert formulas.weighted_pipeline([(None, 60), (10_000, 50)]) == (Decimal("5000"), Decimal("10000"))


def test_win_rate_is_won_over_closed_and_undefined_without_closed_deals():
    assert formulas.win_rate(3, 1) == 0.75
    assert formulas.win_rate(0, 0) is None


def test_velocity_is_undefined_without_a_win_rate_or_cycle():
    assert formulas.sales_velocity(10, None, 1000, 30) is None
    assert formulas.sales_velocity(10, 0.5, 1000, 0) is None


def test_coverage_divides_pipeline_by_the_quota_still_to_win():
    assert formulas.coverage(300_000, 150_000, 50_000) == 3.0
    assert formulas.coverage_verdict(3.0) == "inside the 3x-4x band"
    assert formulas.coverage_verdict(2.0) == "below the 3x-4x band"
    assert formulas.coverage(300_000, 100_000, 100_000) is None  # quota already met
    assert formulas.coverage(300_000, None, 0) is None


def test_percentiles_interpolate_between_ranks_like_percentile_cont():
    values = [17, 20, 20, 61]
    assert formulas.percentile(values, 0.5) == 20
    assert formulas.percentile(values, 0.75) == pytest.approx(30.25)
    assert formulas.percentile(values, 0.9) == pytest.approx(48.7)
    assert formulas.percentile([], 0.5) is None


def test_a_small_sample_is_smoothed_toward_the_configured_probability():
    assert formulas.smoothed_probability(3, 4, 0.6, 10) == pytest.approx(9 / 14)
    assert formulas.smoothed_probability(0, 0, 0.6, 10) == pytest.approx(0.6)
    assert formulas.smoothed_probability(900, 1000, 0.6, 10) == pytest.approx(906 / 1010)


def test_mape_and_bias_skip_periods_with_nothing_won():
    pairs = [(120, 100), (80, 100), (50, 0)]
    assert formulas.mape(pairs) == pytest.approx(0.2)
    assert formulas.bias(pairs) == pytest.approx(0.0)


def test_periods_parse_quarters_months_and_years():
    q3 = parse_period("2026-Q3")
    assert (q3.start.date().isoformat(), q3.end.date().isoformat(), q3.months) == ("2026-07-01", "2026-10-01", 3)
    assert parse_period("2026-09").last_day.isoformat() == "2026-09-30"
    assert parse_period("2026").end.date().isoformat() == "2027-01-01"
    assert parse_period("2026-Q1").shifted(-1).label == "2025-Q4"
    assert [p.label for p in periods_between("2025-11", "2026-02", 1)] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(ValidationFailed):
        parse_period("2026-13")


def test_as_of_a_day_means_up_to_the_end_of_that_day():
    assert parse_as_of("2026-09-30").isoformat() == "2026-10-01T00:00:00+00:00"
    with pytest.raises(ValidationFailed):
        parse_as_of("yesterday")
