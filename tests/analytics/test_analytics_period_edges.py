"""Events exactly on a period's edge. Periods are half-open [start, end): a deal won at 00:00 on
1 October is Q4's, one won at the last microsecond of 30 September is Q3's, and nothing is counted
in two quarters. Worked out by hand below; the test pipeline is qualify, propose, negotiate, won, lost.
"""

import pytest
from analytics_builders import History, at

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope
from dealgate.analytics.periods import parse_as_of, parse_period

Q3, Q4 = parse_period("2026-Q3"), parse_period("2026-Q4")
LATER = at("2026-12-01")
LAST_OF_Q3 = "2026-09-30 23:59:59.999999"
FIRST_OF_Q4 = "2026-10-01 00:00"


@pytest.fixture
def edges(world, pipeline):
    """A: created Jul 1 00:00 (100), open in qualify          -> created in Q3 (the start is inside)
    B: created Jun 30 23:59:59.999999 (200),
       won Oct 1 00:00                                       -> opening of Q3; won in Q4
    C: created Oct 1 00:00 (400), open in qualify            -> created in Q4, not Q3
    D: created Aug 1 (800), won Sep 30 23:59:59.999999       -> won in Q3
    E: created Aug 1 (1,600), propose Oct 1 00:00            -> enters propose in Q4
    F: created Aug 1 (3,200), propose Sep 30 23:59:59.999999 -> enters propose in Q3
    """
    h = History(world, pipeline)
    h.deal("2026-07-01 00:00", 100)
    b = h.deal("2026-06-30 23:59:59.999999", 200)
    h.move(b, "won", FIRST_OF_Q4)
    h.deal(FIRST_OF_Q4, 400)
    d = h.deal("2026-08-01", 800)
    h.move(d, "won", LAST_OF_Q3)
    e = h.deal("2026-08-01", 1600)
    h.move(e, "propose", FIRST_OF_Q4)
    f = h.deal("2026-08-01", 3200)
    h.move(f, "propose", LAST_OF_Q3)
    return h


def test_the_period_itself_is_half_open():
    assert Q3.contains(at(LAST_OF_Q3)) and not Q3.contains(at(FIRST_OF_Q4))
    assert Q4.contains(at(FIRST_OF_Q4)) and Q3.end == Q4.start == at(FIRST_OF_Q4)
    assert parse_as_of("2026-09-30") == at(FIRST_OF_Q4)  # "as of Sep 30": up to the end of that day


def test_a_deal_won_at_midnight_on_the_first_of_october_counts_in_q4_only(edges):
    q3, q4 = metrics.outcomes(Scope(), Q3, LATER), metrics.outcomes(Scope(), Q4, LATER)
    assert (q3["won"], str(q3["won_amount"])) == (1, "800.00")  # D only
    assert (q4["won"], str(q4["won_amount"])) == (1, "200.00")  # B only


def test_a_win_at_the_cutoff_instant_is_not_yet_known(edges):
    """As of Sep 30 the cutoff is Oct 1 00:00: B's win at that instant has not happened yet."""
    m = metrics.period_metrics(Scope(), Q3, parse_as_of("2026-09-30"))
    assert (m["won"], m["open_deals"]) == (1, 4)  # D won; A, B, E, F open; C not created yet
    assert str(m["pipeline"]) == "5100.00"  # 100 + 200 + 1,600 + 3,200


def test_the_waterfall_puts_each_edge_event_in_exactly_one_quarter(edges):
    q3 = metrics.waterfall(Scope(), Q3, LATER)
    # Opening Jul 1: B (200). Created in Q3: A 100 + D 800 + E 1,600 + F 3,200. Won: D 800.
    # Closing Oct 1: A 100 + B 200 + E 1,600 + F 3,200 = 5,100 = 200 + 5,700 - 800.
    assert [str(q3[k]) for k in ("opening", "created", "won", "closing")] == ["200.00", "5700.00", "800.00", "5100.00"]
    assert (q3["counts"]["created"], q3["counts"]["won"], q3["adds_up"]) == (4, 1, True)
    q4 = metrics.waterfall(Scope(), Q4, LATER)
    # Opening Oct 1 = Q3's closing 5,100. Created: C 400. Won: B 200. Closing: 5,100 + 400 - 200.
    assert [str(q4[k]) for k in ("opening", "created", "won", "closing")] == ["5100.00", "400.00", "200.00", "5300.00"]
    assert (q4["counts"]["created"], q4["counts"]["won"], q4["adds_up"]) == (1, 1, True)


def test_conversion_cohorts_take_a_stage_entry_at_midnight_into_the_next_quarter(edges, pipeline):
    qualify, propose = (pipeline.stages.get(key=k).pk for k in ("qualify", "propose"))
    q3 = metrics.conversion(Scope(), Q3, LATER)
    # Entered qualify in Q3: A (Jul 1 00:00), D, E, F. Advanced before Dec 1: D (won), E, F.
    assert (q3[qualify]["entered"], q3[qualify]["advanced"]) == (4, 3)
    assert q3[propose]["entered"] == 1  # F; E entered on Oct 1
    q4 = metrics.conversion(Scope(), Q4, LATER)
    assert (q4[qualify]["entered"], q4[qualify]["advanced"]) == (1, 0)  # C
    assert q4[propose]["entered"] == 1  # E


def test_a_stay_ending_on_the_edge_counts_in_the_quarter_it_ends_in(edges, pipeline):
    qualify = pipeline.stages.get(key="qualify").pk
    q3 = metrics.time_in_stage(Scope(), Q3, LATER)[qualify]
    # Stays in qualify ending in Q3: D and F, each Aug 1 -> Sep 30 23:59:59.999999 (61 days less 1 us).
    assert q3["stays"] == 2 and q3["median"] == pytest.approx(61, abs=1e-6)
    q4 = metrics.time_in_stage(Scope(), Q4, LATER)[qualify]
    # Ending in Q4: B (Jun 30 23:59:59.999999 -> Oct 1: 92 days) and E (Aug 1 -> Oct 1: 61 days).
    assert q4["stays"] == 2 and q4["median"] == pytest.approx((92 + 61) / 2, abs=1e-6)
