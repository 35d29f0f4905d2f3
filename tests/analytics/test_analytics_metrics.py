"""Section 5 numbers on small histories whose answers are computed by hand in the comments.

Test pipeline: qualify (20%), propose (60%), negotiate (80%), won, lost. Period: 2026-Q3
(Jul 1 - Oct 1). Dates are midnight UTC, so durations are whole days.
"""

import datetime as dt
from decimal import Decimal

import pytest
from analytics_builders import History, at, stuck_in_qualify

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope
from dealgate.analytics.models import Quota
from dealgate.analytics.periods import parse_period

Q3 = parse_period("2026-Q3")
LATER = at("2026-12-01")


@pytest.fixture
def q3(world, pipeline):
    """A: created Jun 1 (1,000), propose Jun 11, won Jul 11           -> cycle 40 days
    B: created Jul 1 (3,000), won Aug 31 straight from qualify        -> cycle 61
    C: created Jul 1 (2,000), lost Jul 21
    D: created Jul 10 (no amount), won Jul 30                          -> cycle 20
    E: created May 1 (500), lost Jun 15                                -> outside Q3
    F: carol's, created Jul 15 (4,000, close Sep 30), propose Aug 1, amount 5,000 on Aug 15, open
    """
    h = History(world, pipeline)
    deals = {}
    deals["A"] = h.deal("2026-06-01", 1000)
    h.move(deals["A"], "propose", "2026-06-11")
    h.move(deals["A"], "won", "2026-07-11")
    deals["B"] = h.deal("2026-07-01", 3000, source="referral")
    h.move(deals["B"], "won", "2026-08-31")
    deals["C"] = h.deal("2026-07-01", 2000, segment="SMB")
    h.move(deals["C"], "lost", "2026-07-21")
    deals["D"] = h.deal("2026-07-10", None)
    h.move(deals["D"], "won", "2026-07-30")
    deals["E"] = h.deal("2026-05-01", 500)
    h.move(deals["E"], "lost", "2026-06-15")
    deals["F"] = h.deal("2026-07-15", 4000, owner=world.carol, close_date="2026-09-30")
    h.move(deals["F"], "propose", "2026-08-01")
    h.change(deals["F"], "amount", 5000, "2026-08-15")
    h.deals = deals
    return h


def test_win_rate_deal_size_and_cycle_count_deals_closed_in_the_period(q3):
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert (m["won"], m["lost"], m["win_rate"]) == (3, 1, 0.75)
    assert m["won_amount"] == Decimal("4000.00")
    assert m["avg_deal_size"] == Decimal("2000.00")  # D has no amount: (1,000 + 3,000) / 2
    assert m["cycle_mean_days"] == pytest.approx((40 + 61 + 20) / 3)
    assert m["cycle_median_days"] == pytest.approx(40)


def test_velocity_multiplies_its_four_inputs(q3):
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert m["open_deals"] == 1  # F at the end of the quarter
    assert m["velocity_per_day"] == pytest.approx(1 * 0.75 * 2000 / ((40 + 61 + 20) / 3))


def test_weighted_pipeline_matches_the_worked_example(world, pipeline):
    h = History(world, pipeline)
    h.deal("2026-07-01", 50_000, stage="propose")
    h.deal("2026-07-01", 25_000, stage="qualify")
    h.deal("2026-07-01", 75_000, stage="negotiate")
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert (m["weighted_pipeline"], m["pipeline"]) == (Decimal("95000.00"), Decimal("150000.00"))


def test_coverage_is_pipeline_due_over_the_quota_still_to_win(q3):
    Quota.objects.create(period_start=Q3.start.date(), months=3, amount=Decimal("10000"), currency="EUR")
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert m["quota"] == Decimal("10000.00")
    assert m["pipeline_due"] == Decimal("5000.00")  # F, due Sep 30
    assert m["coverage"] == pytest.approx(5000 / (10000 - 4000))
    assert m["coverage_verdict"] == "below the 3x-4x band"


def test_a_quarter_quota_counts_pro_rata_for_a_month(q3, world):
    Quota.objects.create(user=world.carol, period_start=Q3.start.date(), months=3, amount=Decimal("9000"))
    september = parse_period("2026-09")
    assert metrics.period_metrics(Scope(owner_id=world.carol.pk), september, LATER)["quota"] == Decimal("3000.00")


def test_no_closed_deals_leaves_rates_undefined_not_zero(world, pipeline):
    h = History(world, pipeline)
    h.deal("2026-07-01", 1000)
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert (m["won"], m["lost"], m["win_rate"], m["avg_deal_size"], m["cycle_mean_days"]) == (0, 0, None, None, None)
    assert m["velocity_per_day"] is None


def test_time_in_stage_uses_stays_finished_in_the_period_and_ages_of_open_deals(q3, pipeline):
    times = metrics.time_in_stage(Scope(), Q3, LATER)
    qualify, propose = (pipeline.stages.get(key=k).pk for k in ("qualify", "propose"))
    # qualify stays ending in Q3: F 17, C 20, D 20, B 61 days (A's ended in June)
    assert times[qualify]["stays"] == 4
    assert times[qualify]["median"] == pytest.approx(20)
    assert times[qualify]["p75"] == pytest.approx(30.25)
    assert times[qualify]["p90"] == pytest.approx(48.7)
    # propose: A's 30-day stay ended Jul 11; F sits there since Aug 1 (61 days at Oct 1)
    assert (times[propose]["stays"], times[propose]["median"]) == (1, pytest.approx(30))
    assert (times[propose]["open_deals"], times[propose]["open_age_median"]) == (1, pytest.approx(61))


def test_a_zero_length_stay_counts_as_zero_days(world, pipeline):
    h = History(world, pipeline)
    deal = h.deal("2026-07-01", 1000)
    h.move(deal, "propose", "2026-07-01")
    h.move(deal, "negotiate", "2026-07-03")
    times = metrics.time_in_stage(Scope(), Q3, LATER)
    assert times[pipeline.stages.get(key="qualify").pk]["median"] == 0
    assert times[pipeline.stages.get(key="propose").pk]["median"] == pytest.approx(2)


def test_stage_conversion_follows_the_cohort_that_entered_in_the_period(q3, pipeline):
    conv = metrics.conversion(Scope(), Q3, LATER)
    qualify, propose = (pipeline.stages.get(key=k).pk for k in ("qualify", "propose"))
    # entered qualify in Q3: B, C, D, F; reached a later stage or won: B, D, F
    assert (conv[qualify]["entered"], conv[qualify]["advanced"]) == (4, 3)
    assert conv[qualify]["conversion"] == 0.75
    # of those now closed (B won, C lost, D won), the share won
    assert conv[qualify]["stage_to_win"] == pytest.approx(2 / 3)
    assert (conv[propose]["entered"], conv[propose]["advanced"], conv[propose]["stage_to_win"]) == (1, 0, None)


def test_a_deal_moved_back_and_forward_again_counts_once_per_stage(world, pipeline):
    h = History(world, pipeline)
    deal = h.deal("2026-07-01", 1000)
    h.move(deal, "propose", "2026-07-05")
    h.move(deal, "qualify", "2026-07-10")
    h.move(deal, "propose", "2026-07-20")
    h.move(deal, "negotiate", "2026-07-25")
    conv = metrics.conversion(Scope(), Q3, LATER)
    for key in ("qualify", "propose"):
        row = conv[pipeline.stages.get(key=key).pk]
        assert (row["entered"], row["advanced"]) == (1, 1)
    times = metrics.time_in_stage(Scope(), Q3, LATER)
    assert times[pipeline.stages.get(key="qualify").pk]["stays"] == 2  # 4 and 10 days
    assert times[pipeline.stages.get(key="qualify").pk]["median"] == pytest.approx(7)


def test_a_reopened_deal_is_counted_by_its_final_outcome_and_moves_back_into_the_pipeline(world, pipeline):
    h = History(world, pipeline)
    deal = h.deal("2026-07-01", 1000)
    h.move(deal, "lost", "2026-07-11")
    h.move(deal, "propose", "2026-07-21")  # reopened
    h.move(deal, "won", "2026-08-10")
    m = metrics.period_metrics(Scope(), Q3, LATER)
    assert (m["won"], m["lost"]) == (1, 0)
    w = metrics.waterfall(Scope(), Q3, LATER)
    assert (w["created"], w["lost"], w["moved_in"], w["won"], w["closing"]) == (
        Decimal("1000.00"), Decimal("1000.00"), Decimal("1000.00"), Decimal("1000.00"), Decimal("0.00"))
    assert w["counts"]["moved_in"] == 1
    assert w["adds_up"]


def test_the_waterfall_adds_up_exactly(q3):
    w = metrics.waterfall(Scope(), Q3, LATER)
    # opening: A (1,000, open on Jul 1); created B, C, D (none), F = 9,000; won A, B, D = 4,000; lost C
    # 2,000; F's amount 4,000 -> 5,000 = +1,000; closing: F = 5,000
    assert w["opening"] == Decimal("1000.00")
    assert w["created"] == Decimal("9000.00")
    assert (w["won"], w["lost"]) == (Decimal("4000.00"), Decimal("2000.00"))
    assert w["amount_changes"] == Decimal("1000.00")
    assert w["closing"] == Decimal("5000.00")
    assert w["opening"] + w["created"] + w["moved_in"] - w["moved_out"] - w["won"] - w["lost"] \
        + w["amount_changes"] == w["closing"]
    assert w["adds_up"]
    assert w["counts"] == {"created": 4, "moved_in": 0, "moved_out": 0, "won": 3, "lost": 1, "amount_changes": 1}


def test_figures_as_of_a_date_ignore_everything_recorded_later(q3, world):
    as_of = at("2026-09-16")

    def snapshot():
        return (metrics.period_metrics(Scope(), Q3, as_of), metrics.funnel(Scope(), Q3, as_of),
                metrics.waterfall(Scope(), Q3, as_of), metrics.bottlenecks(Scope(), Q3, as_of))

    before = snapshot()
    f = q3.deals["F"]
    q3.change(f, "amount", 7000, "2026-09-18")
    q3.move(f, "won", "2026-09-20")
    late = q3.deal("2026-09-25", 8000)
    q3.move(late, "propose", "2026-09-26")
    q3.change(f, "expected_close_date", "2026-12-31", "2026-09-17", old="2026-09-30")
    assert snapshot() == before
    assert metrics.period_metrics(Scope(), Q3, LATER)["won"] == 4


def test_the_pipeline_as_of_a_date_uses_the_amount_then(q3):
    # open: B (3,000, won Aug 31) and F (4,000, then 5,000 from Aug 15)
    assert metrics.pipeline_summary(Scope(), at("2026-08-10"))["amount"] == Decimal("7000.00")
    assert metrics.pipeline_summary(Scope(), at("2026-08-16"))["amount"] == Decimal("8000.00")


def test_deals_created_after_the_as_of_date_do_not_exist_yet(q3):
    assert metrics.pipeline_summary(Scope(), at("2026-07-12"))["deals"] == 3  # B, C, D (A won Jul 11)
    assert metrics.pipeline_summary(Scope(), at("2026-05-01"))["deals"] == 0


def test_every_figure_can_be_cut_by_owner_team_source_and_segment(q3, world):
    carol = metrics.period_metrics(Scope(owner_id=world.carol.pk), Q3, LATER)
    assert (carol["won"], carol["open_deals"], carol["pipeline"]) == (0, 1, Decimal("5000.00"))
    east = metrics.period_metrics(Scope(team_id=world.east.pk), Q3, LATER)
    assert (east["won"], east["lost"], east["open_deals"]) == (3, 1, 0)
    assert metrics.period_metrics(Scope(source="referral"), Q3, LATER)["won_amount"] == Decimal("3000.00")
    assert metrics.period_metrics(Scope(segment="SMB"), Q3, LATER)["lost"] == 1
    values = dict(metrics.distinct_cut_values(Scope(), "owner"))
    assert set(values) == {world.alice.pk, world.carol.pk}


def test_other_currencies_are_not_added_to_the_company_currency(world, pipeline):
    h = History(world, pipeline)
    h.deal("2026-07-01", 1000)
    h.deal("2026-07-01", 9000, currency="USD")
    assert metrics.pipeline_summary(Scope(), LATER)["amount"] == Decimal("1000.00")
    assert metrics.pipeline_summary(Scope(currency="USD"), LATER)["amount"] == Decimal("9000.00")


def test_a_viewer_scope_keeps_to_their_own_and_their_teams_deals(q3, world):
    from dealgate.analytics.history import scope_for

    assert metrics.period_metrics(scope_for(world.alice), Q3, LATER)["open_deals"] == 0  # F is West's
    assert metrics.period_metrics(scope_for(world.carol), Q3, LATER)["open_deals"] == 1
    assert metrics.period_metrics(scope_for(world.dave), Q3, LATER)["won"] == 3


def test_the_bottleneck_names_the_stage_and_the_numbers_behind_it(world, pipeline):
    # Q1-Q2: 6 deals a quarter go qualify -> propose in 5 days, then win; Q3: 6 enter, 1 moves on, 5 pile up
    stuck_in_qualify(world, pipeline)
    result = metrics.bottlenecks(Scope(), Q3, LATER)
    text = " ".join(result["sentences"])
    # As of Dec 1 every Q3 entrant is more than 30 days old; the one that moved took 50 days (Jul 1 ->
    # Aug 20), so 0 of 6 moved on within 30 days; before: 12 of 12, each within 5 days.
    assert ("Qualify converts worst against its own history: 0% of the 6 deals that entered it this period at "
            "least 30 days ago moved on within 30 days, against 100% of 12 in the four periods before") in text
    assert "Open deals pile up in Qualify: 5 deals" in text


@pytest.mark.parametrize("cutoff, advanced, closed, won", [
    ("2026-07-15", 0, 1, 0),  # lost on Jul 11, not yet reopened
    ("2026-07-25", 1, 0, 0),  # reopened into Propose on Jul 21: open again, and it reached a later stage
    ("2026-12-01", 1, 1, 1),  # won on Aug 10
])
def test_conversion_of_a_reopened_deal_follows_its_state_at_each_cutoff(world, pipeline, cutoff, advanced, closed, won):
    h = History(world, pipeline)
    deal = h.deal("2026-07-01", 1000)
    h.move(deal, "lost", "2026-07-11")
    h.move(deal, "propose", "2026-07-21")
    h.move(deal, "won", "2026-08-10")
    row = metrics.conversion(Scope(), Q3, at(cutoff))[pipeline.stages.get(key="qualify").pk]
    assert (row["entered"], row["advanced"], row["closed"], row["won"]) == (1, advanced, closed, won)


def test_a_drop_smaller_than_two_points_is_not_called_a_bottleneck():
    row = {"stage": "Qualify", "entered": 100, "aged_entered": 100, "trailing_entered": 100, "aged_conversion": 0.59,
           "trailing_conversion": 0.60, "conversion_change": -0.01, "median_change_days": 0.5, "stays": 50,
           "median_days": 10.5, "trailing_median_days": 10.0, "open_deals": 0}
    assert metrics._bottleneck_sentences([row]) == [
        "No stage converts 2 points or more below its own history in the four periods before, comparing deals "
        "30 days after they entered a stage."]
    worse = {**row, "aged_conversion": 0.50, "conversion_change": -0.10, "median_change_days": 3.0, "median_days": 13.0}
    text = " ".join(metrics._bottleneck_sentences([worse]))
    assert "Qualify converts worst" in text and "Deals spend longer in Qualify" in text


def _quarter_in_progress(world, pipeline, q3_stay: int) -> History:
    """Trailing: 6 deals on Feb 1-6 and 6 on May 1-6 enter Qualify and move to Propose 20 days later.
    Q3: 10 deals enter Qualify on Jul 1, 5, 9, ..., Aug 6 (every 4 days) and move on `q3_stay` days later
    if that is before the as-of instant, Aug 17 00:00 (as of Aug 16)."""
    h = History(world, pipeline)
    for month in ("02", "05"):
        for day in range(1, 7):
            h.move(h.deal(f"2026-{month}-{day:02d}", 1000), "propose", f"2026-{month}-{day + 20:02d}")
    for n in range(10):
        entered = dt.date(2026, 7, 1) + dt.timedelta(days=4 * n)
        deal = h.deal(entered.isoformat(), 1000)
        moved = entered + dt.timedelta(days=q3_stay)
        if moved < dt.date(2026, 8, 17):
            h.move(deal, "propose", moved.isoformat())
    return h


def test_a_quarter_in_progress_is_not_a_bottleneck_because_its_newest_deals_have_not_had_the_time(world, pipeline):
    """Q3 moves exactly as fast as before (20 days). As of Aug 16 the plain cohort is 7 of 10 moved on
    (the Jul 29, Aug 2 and Aug 6 entrants are 18, 14 and 10 days old): 70% against 100%, which named
    Qualify before. At the same age only the 5 deals that entered before Jul 18 (30 days before Aug 17)
    count, and all 5 moved on within 30 days: 100% against 12 of 12, so no stage is named."""
    _quarter_in_progress(world, pipeline, q3_stay=20)
    result = metrics.bottlenecks(Scope(), Q3, at("2026-08-17"))
    qualify = next(s for s in result["stages"] if s["stage"] == "Qualify")
    assert (qualify["entered"], qualify["advanced"]) == (10, 7)
    assert (qualify["aged_entered"], qualify["aged_advanced"], qualify["trailing_entered"]) == (5, 5, 12)
    assert (qualify["aged_conversion"], qualify["trailing_conversion"], qualify["conversion_change"]) == (1.0, 1.0, 0.0)
    assert result["sentences"][0] == ("No stage converts 2 points or more below its own history in the four "
                                      "periods before, comparing deals 30 days after they entered a stage.")
    assert "converts worst" not in " ".join(result["sentences"])


def test_a_real_slowdown_in_a_quarter_in_progress_is_named(world, pipeline):
    """Q3 deals now take 40 days to leave Qualify. The 5 deals of Jul 1-17 are old enough; none moved on
    within 30 days (the Jul 1 and Jul 5 ones moved after 40): 0% of 5 against 100% of 12."""
    _quarter_in_progress(world, pipeline, q3_stay=40)
    result = metrics.bottlenecks(Scope(), Q3, at("2026-08-17"))
    assert result["sentences"][0] == (
        "Qualify converts worst against its own history: 0% of the 5 deals that entered it this period at least "
        "30 days ago moved on within 30 days, against 100% of 12 in the four periods before (deals compared at "
        "the same age).")


def test_too_early_in_a_period_to_compare_says_so(world, pipeline):
    """As of Jul 20 the 5 Q3 entrants (Jul 1-17) are 3 to 19 days old: none is 30 days old, so conversion is
    not compared, and the sentence says why instead of calling Qualify a bottleneck."""
    _quarter_in_progress(world, pipeline, q3_stay=20)
    result = metrics.bottlenecks(Scope(), Q3, at("2026-07-21"))
    assert result["sentences"][0] == (
        "Too early to compare conversion: fewer than 5 deals entered any stage this period at least 30 days ago, "
        "and newer ones have not had the time to move on.")


def test_a_month_is_compared_ten_days_after_entry(world, pipeline):
    """2026-08 as of Aug 16 (cutoff Aug 17): entrants before Aug 7 count. Q3 deals of Aug 2 and Aug 6 are the
    only August ones, 2 < 5 deals: too early. The window is 10 days."""
    _quarter_in_progress(world, pipeline, q3_stay=20)
    result = metrics.bottlenecks(Scope(), parse_period("2026-08"), at("2026-08-17"))
    assert result["window_days"] == 10
    qualify = next(s for s in result["stages"] if s["stage"] == "Qualify")
    assert qualify["aged_entered"] == 2
