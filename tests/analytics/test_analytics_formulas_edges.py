"""The formulas at their edges (found by mutation testing: each test here fails on one small wrong
change that the worked examples let through)."""

import pytest

from dealgate.analytics import formulas


def test_coverage_divides_by_a_gap_smaller_than_one():
    # quota 1,000.50, won 1,000: 0.50 still to win, 2 of pipeline -> 4x
    assert formulas.coverage(2, 1000.5, 1000) == pytest.approx(4.0)
    assert formulas.coverage(2, 1000, 1000) is None  # nothing left to win


def test_the_coverage_verdict_names_each_side_of_the_band_and_includes_its_edges():
    assert formulas.coverage_verdict(None) == "quota already met"
    assert formulas.coverage_verdict(2.99) == "below the 3x-4x band"
    assert formulas.coverage_verdict(3.0) == "inside the 3x-4x band"
    assert formulas.coverage_verdict(4.0) == "inside the 3x-4x band"
    assert formulas.coverage_verdict(4.01) == "above the 3x-4x band"


def test_the_top_percentile_is_the_largest_value():
    assert formulas.percentile([1, 2, 3], 1.0) == 3.0
    assert formulas.percentile([7], 0.9) == 7.0


def test_the_default_smoothing_is_worth_ten_closed_deals():
    # 3 of 4 won, configured 60%: (3 + 10 x 0.6) / (4 + 10)
    assert formulas.smoothed_probability(3, 4, 0.6) == pytest.approx(9 / 14)


def test_mape_and_bias_are_undefined_when_nothing_was_won():
    assert formulas.mape([(100, 0), (50, 0)]) is None
    assert formulas.bias([(100, 0)]) is None
    assert formulas.mape([]) is None and formulas.bias([]) is None


def test_attainment_is_won_over_quota_and_none_without_a_quota_above_zero():
    # 80,000 won of a 100,000 quota is 0.8 (80%); 130,000 is 1.3; nothing won yet is 0.0, not "none"
    assert formulas.attainment(80_000, 100_000) == 0.8
    assert formulas.attainment(130_000, 100_000) == 1.3
    assert formulas.attainment(0, 100_000) == 0.0
    assert formulas.attainment(80_000, None) is None and formulas.attainment(80_000, 0) is None
