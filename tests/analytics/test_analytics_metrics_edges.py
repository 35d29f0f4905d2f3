"""Period figures the mutation run (bench/mutation.sh metrics) showed no test reading: the
pipeline due in the period next to the whole pipeline, attainment, the verdict without a quota,
and the waterfall of a period with no events. Figures by hand in each docstring; history as in
test_analytics_metrics.py (the q3 fixture there: A, B, D won for 4,000 in Q3, C lost, F open at
5,000 due Sep 30)."""

import datetime as dt
from decimal import Decimal

import pytest
from analytics_builders import History, at

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope
from dealgate.analytics.models import Quota
from dealgate.analytics.periods import parse_period

Q3 = parse_period("2026-Q3")
LATER = at("2026-12-01")


@pytest.fixture
def q3(world, pipeline):
    """A won Jul 11 (1,000), B won Aug 31 (3,000), C lost Jul 21 (2,000), D won Jul 30 (no amount);
    F open, 5,000, due Sep 30; G open, 2,000, due Oct 1 (the day after Q3)."""
    h = History(world, pipeline)
    a = h.deal("2026-06-01", 1000)
    h.move(a, "won", "2026-07-11")
    b = h.deal("2026-07-01", 3000)
    h.move(b, "won", "2026-08-31")
    c = h.deal("2026-07-01", 2000)
    h.move(c, "lost", "2026-07-21")
    d = h.deal("2026-07-10", None)
    h.move(d, "won", "2026-07-30")
    h.deal("2026-07-15", 5000, close_date="2026-09-30")
    h.deal("2026-07-20", 2000, close_date="2026-10-01")
    return h


def test_the_pipeline_due_leaves_out_deals_expected_after_the_periods_last_day(q3):
    """Quota 10,000. Pipeline F + G = 7,000; due by Sep 30: F = 5,000. Coverage 5,000 / (10,000 -
    4,000) = 0.833; attainment 4,000 / 10,000 = 0.4."""
    Quota.objects.create(period_start=Q3.start.date(), months=3, amount=Decimal("10000"), currency="EUR")
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert (m["open_deals"], m["pipeline"], m["pipeline_due"]) == (2, Decimal("7000.00"), Decimal("5000.00"))
    assert m["coverage"] == pytest.approx(5000 / 6000)
    assert m["attainment"] == pytest.approx(0.4)
    assert m["coverage_verdict"] == "below the 3x-4x band"


def test_without_a_quota_there_is_no_coverage_or_attainment_and_the_verdict_says_so(q3):
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert (m["quota"], m["coverage"], m["attainment"]) == (None, None, None)
    assert m["coverage_verdict"] == "no quota set"


def test_a_met_quota_has_no_coverage_and_says_so(q3):
    """Quota 3,000, won 4,000: no gap left to cover; attainment 4,000 / 3,000."""
    Quota.objects.create(period_start=Q3.start.date(), months=3, amount=Decimal("3000"), currency="EUR")
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert (m["coverage"], m["coverage_verdict"]) == (None, "quota already met")
    assert m["attainment"] == pytest.approx(4000 / 3000)


def test_a_period_with_no_events_has_an_empty_waterfall_from_its_start_to_the_cutoff(world, pipeline):
    """Nothing happened in Q3: every flow and count is zero (not one), and the waterfall runs from
    Jul 1 to the as-of instant, Aug 15 12:00, the end of what is known."""
    as_of = at("2026-08-15 12:00")
    w = metrics.waterfall(Scope(), Q3, as_of)
    assert w["counts"] == {"created": 0, "moved_in": 0, "moved_out": 0, "won": 0, "lost": 0, "amount_changes": 0}
    assert (w["opening"], w["closing"], w["adds_up"]) == (Decimal("0.00"), Decimal("0.00"), True)
    assert (w["from"], w["to"]) == (dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc), as_of)
    assert metrics.waterfall(Scope(), Q3, LATER)["to"] == dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
