"""Period figures the mutation run (bench/mutation.sh metrics) showed no test reading: the
pipeline due in the period next to the whole pipeline, attainment, the verdict without a quota,
and the waterfall of a period with no events. Figures by hand in each docstring; history as in
test_analytics_metrics.py (the q3 fixture there: A, B, D won for 4,000 in Q3, C lost, F open at
5,000 due Sep 30)."""

import datetime as dt
from decimal import Decimal

import pytest
from analytics_builders import History, at, stuck_in_qualify

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope
from dealgate.analytics.models import Quota
from dealgate.analytics.periods import Period, parse_period
from dealgate.pipelines.models import Pipeline, Stage

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


# --- funnel, stages_of, trailing: rows read field by field -------------------------------------------


@pytest.fixture
def funnel_history(world, pipeline):
    """The q3 history of test_analytics_metrics.py, with its propose row for A and F:
    A created Jun 1 (1,000), propose Jun 11, won Jul 11; B created Jul 1 (3,000), won Aug 31;
    C created Jul 1 (2,000), lost Jul 21; D created Jul 10 (no amount), won Jul 30;
    F created Jul 15 (4,000), propose Aug 1, amount 5,000 on Aug 15, open."""
    h = History(world, pipeline)
    a = h.deal("2026-06-01", 1000)
    h.move(a, "propose", "2026-06-11")
    h.move(a, "won", "2026-07-11")
    b = h.deal("2026-07-01", 3000)
    h.move(b, "won", "2026-08-31")
    c = h.deal("2026-07-01", 2000)
    h.move(c, "lost", "2026-07-21")
    d = h.deal("2026-07-10", None)
    h.move(d, "won", "2026-07-30")
    f = h.deal("2026-07-15", 4000)
    h.move(f, "propose", "2026-08-01")
    h.change(f, "amount", 5000, "2026-08-15")
    return h


def test_the_funnel_has_one_row_per_open_stage_with_every_figure(funnel_history, pipeline):
    """Q3 as of Dec 1 (known: Oct 1). Qualify: B, C, D, F entered in Q3; B, D, F moved on (3 of 4); closed
    now B won, C lost, D won (2 of 3 won). Its stays ending in Q3: F 17, C 20, D 20, B 61 days: median
    20, p75 20 + 0.25 x 41 = 30.25, p90 20 + 0.7 x 41 = 48.7; nothing sits in it on Oct 1.
    Propose: F entered Aug 1 (1, none moved on, none closed); A's 30-day stay ended Jul 11 (one stay:
    30 at every rank); F sits there on Oct 1, 61 days, 5,000. Negotiate (retired): nothing at all, so
    zeros and no figures, and its name says it is retired. Won and Lost have no row."""
    Stage.objects.filter(pipeline=pipeline, key="negotiate").update(retired_at=at("2026-06-01"))
    stages = {s.key: s.pk for s in pipeline.stages.all()}
    common = {"pipeline": "Test pipeline"}
    rows = metrics.funnel(Scope(), Q3, LATER)
    assert rows[0] == {
        **common, "stage_id": stages["qualify"], "stage": "Qualify", "retired": False, "position": 1,
        "configured_probability": 20, "entered": 4, "advanced": 3, "conversion": 0.75, "closed": 3, "won": 2,
        "stage_to_win": pytest.approx(2 / 3), "stays": 4, "median_days": pytest.approx(20),
        "p75_days": pytest.approx(30.25), "p90_days": pytest.approx(48.7), "open_age_median": None,
        "open_deals": 0, "open_amount": Decimal("0.00")}
    assert rows[1] == {
        **common, "stage_id": stages["propose"], "stage": "Propose", "retired": False, "position": 2,
        "configured_probability": 60, "entered": 1, "advanced": 0, "conversion": 0.0, "closed": 0, "won": 0,
        "stage_to_win": None, "stays": 1, "median_days": pytest.approx(30), "p75_days": pytest.approx(30),
        "p90_days": pytest.approx(30), "open_age_median": pytest.approx(61), "open_deals": 1,
        "open_amount": Decimal("5000.00")}
    assert rows[2] == {
        **common, "stage_id": stages["negotiate"], "stage": "Negotiate (retired)", "retired": True, "position": 3,
        "configured_probability": 80, "entered": 0, "advanced": 0, "conversion": None, "closed": 0, "won": 0,
        "stage_to_win": None, "stays": 0, "median_days": None, "p75_days": None, "p90_days": None,
        "open_age_median": None, "open_deals": 0, "open_amount": Decimal("0.00")}
    assert len(rows) == 3


def test_stages_come_by_pipeline_name_then_position_and_a_pipeline_scope_keeps_to_its_own(pipeline):
    """"Another" sorts before "Test pipeline" though made after it; its stages are made out of position
    order (b at 2 first, a at 1 second), so only the position puts a first; its Won comes last."""
    other = Pipeline.objects.create(key="another", name="Another")
    Stage.objects.create(pipeline=other, key="b", name="B", position=2, probability=50)
    Stage.objects.create(pipeline=other, key="a", name="A", position=1, probability=10)
    Stage.objects.create(pipeline=other, key="w", name="W", position=3, probability=100, kind="won")
    everything = [(s.pipeline.name, s.key) for s in metrics.stages_of(Scope())]
    assert everything == [("Another", "a"), ("Another", "b"), ("Another", "w"), ("Test pipeline", "qualify"),
                          ("Test pipeline", "propose"), ("Test pipeline", "negotiate"), ("Test pipeline", "won"),
                          ("Test pipeline", "lost")]
    assert [s.key for s in metrics.stages_of(Scope(pipeline_id=other.pk))] == ["a", "b", "w"]
    assert [s.key for s in metrics.stages_of(Scope(pipeline_id=pipeline.pk))] == [
        "qualify", "propose", "negotiate", "won", "lost"]


def test_the_funnel_skips_a_closed_stage_and_goes_on_to_the_next_pipeline(pipeline):
    """"Another" (sorted first) has open A and B, then Won: the funnel skips Won and goes on to the test
    pipeline's open stages."""
    other = Pipeline.objects.create(key="another", name="Another")
    Stage.objects.create(pipeline=other, key="a", name="A", position=1, probability=10)
    Stage.objects.create(pipeline=other, key="b", name="B", position=2, probability=50)
    Stage.objects.create(pipeline=other, key="w", name="W", position=3, probability=100, kind="won")
    assert [(row["pipeline"], row["stage"]) for row in metrics.funnel(Scope(), Q3, LATER)] == [
        ("Another", "A"), ("Another", "B"), ("Test pipeline", "Qualify"), ("Test pipeline", "Propose"),
        ("Test pipeline", "Negotiate")]


def test_two_pipelines_of_the_same_name_keep_their_stages_together(db):
    """Names need not be unique: the older pipeline's stages 1, 2 come before the newer one's 1, 2."""
    first, second = (Pipeline.objects.create(key=key, name="Same") for key in ("one", "two"))
    for p in (first, second):
        for position in (1, 2):
            Stage.objects.create(pipeline=p, key=f"s{position}", name=f"{p.key} {position}", position=position,
                                 probability=10)
    assert [s.name for s in metrics.stages_of(Scope())] == ["one 1", "one 2", "two 1", "two 2"]


def test_the_trailing_span_is_the_periods_just_before():
    """Four quarters before 2026-Q3: Jul 1 2025 to Jul 1 2026, 12 months; two: Jan 1 to Jul 1 2026, 6."""
    utc = dt.timezone.utc
    assert metrics.trailing(Q3) == Period("4 periods before 2026-Q3", dt.datetime(2025, 7, 1, tzinfo=utc),
                                          dt.datetime(2026, 7, 1, tzinfo=utc), 12)
    assert metrics.trailing(Q3, 2) == Period("2 periods before 2026-Q3", dt.datetime(2026, 1, 1, tzinfo=utc),
                                             dt.datetime(2026, 7, 1, tzinfo=utc), 6)


# --- bottlenecks: every stage's comparison, and the sentences at their thresholds --------------------


def test_bottlenecks_compare_each_stage_with_the_four_quarters_before(world, pipeline):
    """Q3 as of Dec 1, 30-day window; trailing span Jul 1 2025 - Jul 1 2026.
    Qualify: 6 entered in Q3, none moved on within 30 days (the Jul 1 deal took 50): 0.0; before, 12 of
    12 within 5 days: 1.0; change -1.0. Its one Q3 stay is 50 days against a median of 5 before: +45.
    5 of the 6 open deals on Oct 1 sit there (5/6).
    Propose: 1 entered (Aug 20), not moved on: 0.0 of 1; before 12 of 12 (won 5 days after): 1.0; no
    stay ended in Q3 (median None), so no change in days; 1 of 6 open deals.
    Negotiate: nothing now or before: no figures, 0 of the 6 open deals."""
    stuck_in_qualify(world, pipeline)
    result = metrics.bottlenecks(Scope(), Q3, LATER)
    assert (result["trailing"], result["window_days"]) == ("4 periods before 2026-Q3", 30)
    keys = ("stage", "window_days", "aged_entered", "aged_advanced", "aged_conversion", "trailing_conversion",
            "trailing_entered", "trailing_median_days", "conversion_change", "median_change_days", "open_share",
            "median_days", "open_deals")
    got = [tuple(s[k] for k in keys) for s in result["stages"]]
    assert got == [
        ("Qualify", 30, 6, 0, 0.0, 1.0, 12, 5.0, -1.0, 45.0, pytest.approx(5 / 6), 50.0, 5),
        ("Propose", 30, 1, 0, 0.0, 1.0, 12, 5.0, -1.0, None, pytest.approx(1 / 6), None, 1),
        ("Negotiate", 30, 0, 0, None, None, 0, None, None, None, 0.0, None, 0),
    ]
    assert result["sentences"] == [
        "Qualify converts worst against its own history: 0% of the 6 deals that entered it this period at least "
        "30 days ago moved on within 30 days, against 100% of 12 in the four periods before (deals compared at "
        "the same age).",
        "Open deals pile up in Qualify: 5 deals (83% of the open pipeline, 5,000), a median of 89 days there so "
        "far.",  # on Oct 1 the five have sat there 91, 90, 89, 88 and 87 days
    ]


def test_bottlenecks_read_the_funnel_rows_they_are_given(world, pipeline):
    """The insights page passes the funnel it has already computed: no rows, no stages and nothing to say."""
    stuck_in_qualify(world, pipeline)
    result = metrics.bottlenecks(Scope(), Q3, LATER, funnel_rows=[])
    assert (result["stages"], result["sentences"]) == ([], ["No bottleneck: too few deals moved to compare "
                                                               "stages yet."])


def _row(stage, **figures):
    row = {"stage": stage, "entered": 0, "aged_entered": 0, "trailing_entered": 0, "aged_conversion": None,
           "trailing_conversion": None, "conversion_change": None, "median_change_days": None, "stays": 0,
           "median_days": None, "trailing_median_days": None, "open_deals": 0, "open_share": None,
           "open_amount": Decimal("0"), "open_age_median": None}
    row.update(figures)
    return row


NOTHING = ["No bottleneck: too few deals moved to compare stages yet."]


def test_the_stage_named_is_the_one_that_dropped_most_with_its_own_window_and_counts():
    """Qualify dropped 10 points, Propose 40: Propose is named, 20% of 2,000 against 60% of 1,500, 10 days."""
    stages = [_row("Qualify", aged_entered=1234, trailing_entered=5000, aged_conversion=0.5, trailing_conversion=0.6,
                   conversion_change=-0.1),
              _row("Propose", aged_entered=2000, trailing_entered=1500, aged_conversion=0.2, trailing_conversion=0.6,
                   conversion_change=-0.4)]
    assert metrics._bottleneck_sentences(stages, 10) == [
        "Propose converts worst against its own history: 20% of the 2,000 deals that entered it this period at "
        "least 10 days ago moved on within 10 days, against 60% of 1,500 in the four periods before (deals "
        "compared at the same age)."]


def test_five_deals_each_side_and_a_drop_of_exactly_two_points_are_enough():
    stage = _row("Qualify", entered=5, aged_entered=5, trailing_entered=5, aged_conversion=0.58,
                 trailing_conversion=0.6, conversion_change=-0.02)
    assert metrics._bottleneck_sentences([stage]) == [
        "Qualify converts worst against its own history: 58% of the 5 deals that entered it this period at "
        "least 30 days ago moved on within 30 days, against 60% of 5 in the four periods before (deals "
        "compared at the same age)."]
    # four deals on either side: not compared, and not "too early" either (4 entered in all)
    assert metrics._bottleneck_sentences([{**stage, "entered": 4, "aged_entered": 4}]) == NOTHING
    assert metrics._bottleneck_sentences([{**stage, "trailing_entered": 4}]) == NOTHING


def test_too_early_needs_five_entrants_five_before_and_fewer_than_five_old_enough():
    early = _row("Qualify", entered=5, aged_entered=4, trailing_entered=5)
    too_early = ("Too early to compare conversion: fewer than 5 deals entered any stage this period at least 30 "
                 "days ago, and newer ones have not had the time to move on.")
    assert metrics._bottleneck_sentences([early]) == [too_early]
    assert metrics._bottleneck_sentences([{**early, "entered": 4}]) == NOTHING
    assert metrics._bottleneck_sentences([{**early, "trailing_entered": 4}]) == NOTHING
    # five old enough but nothing to compare them with (no conversion change): not "too early"
    assert metrics._bottleneck_sentences([{**early, "aged_entered": 5}]) == NOTHING


def test_the_slowest_stage_is_named_from_five_stays_and_one_day_slower():
    """Qualify: 5 stays, 11.0 days against 10.0 (+1.0, the threshold); Propose only +0.5: Qualify."""
    stages = [_row("Qualify", stays=5, median_days=11.0, trailing_median_days=10.0, median_change_days=1.0),
              _row("Propose", stays=9, median_days=3.5, trailing_median_days=3.0, median_change_days=0.5)]
    assert metrics._bottleneck_sentences(stages) == [
        "Deals spend longer in Qualify: a median of 11.0 days, up 1.0 days on the four periods before (10.0)."]
    assert metrics._bottleneck_sentences([{**stages[0], "stays": 4}]) == NOTHING
    assert metrics._bottleneck_sentences([{**stages[0], "median_change_days": 0.9}]) == NOTHING


def test_the_pile_is_where_most_open_deals_sit():
    """Propose holds 1,200 of the open deals (75%), 2,500.70 rounds to 2,501, a median of 12.6 days to 13;
    a pile with no age yet reads 0 days."""
    stages = [_row("Qualify", open_deals=400, open_share=0.25, open_amount=Decimal("900"), open_age_median=3.0),
              _row("Propose", open_deals=1200, open_share=0.75, open_amount=Decimal("2500.70"), open_age_median=12.6)]
    assert metrics._bottleneck_sentences(stages) == [
        "Open deals pile up in Propose: 1,200 deals (75% of the open pipeline, 2,501), a median of 13 days there "
        "so far."]
    alone = _row("Negotiate", open_deals=2, open_share=1.0, open_amount=Decimal("0"))
    assert metrics._bottleneck_sentences([_row("Qualify"), alone]) == [
        "Open deals pile up in Negotiate: 2 deals (100% of the open pipeline, 0), a median of 0 days there so far."]


def test_a_share_reads_as_a_whole_percentage_and_none_as_a_dash():
    assert (metrics._pct(None), metrics._pct(0.834), metrics._pct(1.0), metrics._pct(0.0)) == ("—", "83%", "100%", "0%")


def test_a_converted_waterfall_takes_every_amount_at_the_rate_of_its_last_day(world, pipeline):
    """USD is worth 0.90 EUR from Jun 1 and 0.80 from Aug 1. X (2,000 USD, created Jun 1) is open on Jul 1;
    Y (1,000 USD) is created on Jul 10. Q3 as of Dec 1 ends Sep 30: every amount at 0.80, so opening
    1,600, created 800, closing 2,400, and it adds up. (At each day's own rate the opening would be
    1,800, the creation 900, and it would not.)"""
    from dealgate.analytics.history import with_rates
    from dealgate.analytics.rates import set_rate

    h = History(world, pipeline)
    h.deal("2026-06-01", 2000, currency="USD")
    h.deal("2026-07-10", 1000, currency="USD")
    set_rate(currency="USD", rate=Decimal("0.90"), effective_from=dt.date(2026, 6, 1), by=world.dave)
    set_rate(currency="USD", rate=Decimal("0.80"), effective_from=dt.date(2026, 8, 1), by=world.dave)
    w = metrics.waterfall(with_rates(Scope()), Q3, LATER)
    assert (w["opening"], w["created"], w["closing"], w["adds_up"]) == (
        Decimal("1600.00"), Decimal("800.00"), Decimal("2400.00"), True)
    assert w["counts"]["created"] == 1


def test_with_no_open_deal_the_pipeline_is_zero_in_cents_and_no_stage_has_a_share(world, pipeline):
    """One deal, created Jul 1 and won Jul 5: nothing open at any time after. The pipeline sums are
    money (0.00, not the integer 0), and with no open deal a stage's share of them is undefined."""
    h = History(world, pipeline)
    h.move(h.deal("2026-07-01", 1000), "won", "2026-07-05")
    summary = metrics.pipeline_summary(Scope(), LATER)
    assert (str(summary["amount"]), str(summary["weighted"]), summary["deals"]) == ("0.00", "0.00", 0)
    shares = [s["open_share"] for s in metrics.bottlenecks(Scope(), Q3, LATER)["stages"]]
    assert shares == [None, None, None]


def test_a_months_sentences_speak_of_its_ten_day_window(world, pipeline):
    """2026-08 as of Dec 1: a month compares deals 10 days after entry, against Apr-Jul. Apr 1-5 and Aug
    1-5: 5 deals each enter Qualify and move to Propose 2 days later. Qualify: 5 of 5 within 10 days,
    against 5 of 5 before: no drop, and the sentence names the 10-day window."""
    h = History(world, pipeline)
    for month in ("04", "08"):
        for day in range(1, 6):
            h.move(h.deal(f"2026-{month}-{day:02d}", 1000), "propose", f"2026-{month}-{day + 2:02d}")
    result = metrics.bottlenecks(Scope(), parse_period("2026-08"), LATER)
    assert result["sentences"][0] == ("No stage converts 2 points or more below its own history in the four "
                                      "periods before, comparing deals 10 days after they entered a stage.")
