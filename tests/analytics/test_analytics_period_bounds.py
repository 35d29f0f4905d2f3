import pytest

from dealgate.analytics.periods import parse_period
from dealgate.errors import ValidationFailed


@pytest.mark.parametrize("text", ["0000", "0001-Q1", "1000-01", "3000"])
def test_it_refuses_a_year_out_of_range_with_a_message(text):
    with pytest.raises(ValidationFailed, match="out of range"):
        parse_period(text)


@pytest.mark.parametrize("text,label", [("2026-q3", "2026-Q3"), ("1900-01", "1900-01"), ("2999", "2999")])
def test_it_reads_periods_at_the_edges_of_the_range(text, label):
    assert parse_period(text).label == label
