"""Slow (was "Stuck", decision 034): time in the current stage above the stage's historical 90th
percentile of finished stays.

Stays come from hand-built histories: deals created by the service at a chosen time, then
StageHistory rows written with bulk_create at chosen times (history is synthetic in these tests).
"""

import datetime as dt

import pytest
from django.db import connection

from dealgate.deals import flags, services
from dealgate.deals.flags import compute_flags
from dealgate.deals.models import StageHistory
from dealgate.pipelines.models import Stage
from dealgate.pipelines.stats import stage_duration_percentiles
from tests.conftest import build_test_pipeline
from tests.flags.conftest import _board

OCT_1 = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.timezone.utc)


def row(deal, from_key, to_key, at, kind="forward"):
    stages = {s.key: s for s in Stage.objects.filter(pipeline_id=deal.pipeline_id)}
    return StageHistory(deal=deal, from_stage=stages[from_key], to_stage=stages[to_key], kind=kind, at=at,
                        amount=None, currency="EUR", probability=stages[to_key].probability)


def past_qualify_stays(make_deal, clock, days):
    """One deal per duration: created in Qualify on 1 Oct, moved to Propose `days` later."""
    clock.now = OCT_1
    rows = []
    for length in days:
        deal = make_deal(title=f"History {length}d")
        rows.append(row(deal, "qualify", "propose", OCT_1 + dt.timedelta(days=length)))
    StageHistory.objects.bulk_create(rows)


def test_it_computes_stay_percentiles_per_stage_from_the_history(clock, make_deal, pipeline):
    t0 = clock.now
    a, b = make_deal(title="A"), make_deal(title="B")
    StageHistory.objects.bulk_create([
        row(a, "qualify", "propose", t0 + dt.timedelta(days=3)),
        row(a, "propose", "qualify", t0 + dt.timedelta(days=5), kind="backward"),
        row(a, "qualify", "propose", t0 + dt.timedelta(days=6)),
        row(a, "propose", "negotiate", t0 + dt.timedelta(days=10)),  # still there: not a finished stay
        row(b, "qualify", "propose", t0 + dt.timedelta(days=1.5)),
        row(b, "propose", "lost", t0 + dt.timedelta(days=2.5), kind="lost"),
    ])
    stats = stage_duration_percentiles([pipeline.pk])
    stage = {s.key: s.pk for s in pipeline.stages.all()}
    assert set(stats) == {stage["qualify"], stage["propose"]}
    qualify, propose = stats[stage["qualify"]], stats[stage["propose"]]
    # Qualify stays 1, 1.5, 3 days; Propose stays 1, 2, 4 days (linear interpolation between ranks).
    assert qualify.stays == 3 and propose.stays == 3
    assert qualify.percentiles == pytest.approx({0.5: 1.5, 0.75: 2.25, 0.9: 2.7})
    assert propose.percentiles == pytest.approx({0.5: 2.0, 0.75: 3.0, 0.9: 3.6})


def test_it_ignores_other_pipelines_and_answers_nothing_for_none(clock, make_deal, pipeline):
    other = build_test_pipeline("other")
    deal = make_deal(pipeline=other)
    StageHistory.objects.bulk_create([row(deal, "qualify", "propose", clock.now + dt.timedelta(days=2))])
    assert stage_duration_percentiles([pipeline.pk]) == {}
    assert list(stage_duration_percentiles([other.pk])) == [other.stages.get(key="qualify").pk]
    assert stage_duration_percentiles([]) == {}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont is PostgreSQL only")
def test_it_matches_postgresql_percentile_cont(clock, make_deal, pipeline):
    clock.now = OCT_1
    rows = []
    for i in range(23):
        deal = make_deal()
        rows.append(row(deal, "qualify", "propose", OCT_1 + dt.timedelta(hours=(i * 37) % 101 + 1)))
    StageHistory.objects.bulk_create(rows)
    ours = stage_duration_percentiles([pipeline.pk], percentiles=(0.1, 0.5, 0.9, 0.95))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(ARRAY[0.1, 0.5, 0.9, 0.95]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM h.at - %s) / 86400.0) "
            "FROM deals_stagehistory h WHERE h.kind = 'forward'", [OCT_1])
        expected = cursor.fetchone()[0]
    qualify = ours[pipeline.stages.get(key="qualify").pk]
    assert [qualify.percentiles[p] for p in (0.1, 0.5, 0.9, 0.95)] == pytest.approx([float(x) for x in expected])


def test_a_planned_deal_in_its_stage_longer_than_the_90th_percentile_is_flagged_slow(clock, make_deal, flags_on,
                                                                                         world):
    """Decision 034: the stuck condition is the "Slow" side of the one time flag (code "stale"). With a
    next step planned, the quiet side alone is only "waiting"; past the 90th percentile it is "Slow"."""
    past_qualify_stays(make_deal, clock, [2, 4, 6, 8, 10])  # 90th percentile: 8 + 0.6 * 2 = 9.2 days
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    services.set_next_step(deal, by=world.alice, text="Demo", due="2026-12-01")
    before = flags_on(deal, dt.date(2026, 11, 11))  # 9 days: quiet past the limit of 7, planned
    assert "stale" not in before and before["waiting"].label == "Waiting 9d"
    slow = flags_on(deal, dt.date(2026, 11, 12))  # 10 days
    assert "waiting" not in slow  # one time flag per deal
    slow = slow["stale"]
    assert slow.label == "Slow, usual 9 days"
    assert slow.severity == "warning"
    assert slow.reason == ("in Qualify 10 days, usual 9 days at most (9 in 10 of the 5 past stays there); "
                           "quiet 10 days (limit 7), next step due 1 Dec")
    assert slow.since == dt.date(2026, 11, 12)


def test_a_quiet_deal_that_is_also_slow_gets_one_flag_with_both_reasons(clock, make_deal, flags_on):
    """No next step: quiet since 10 Nov (8 days, limit 7), slow since 12 Nov (10 days > 9.2). One alarm,
    labelled by the quiet side, both reasons, since the earlier start."""
    past_qualify_stays(make_deal, clock, [2, 4, 6, 8, 10])
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    flags = compute_flags(_board(deal), today=dt.date(2026, 11, 13))[deal.pk]
    time_flags = [f for f in flags if f.code in ("stale", "waiting")]
    assert [(f.code, f.label, f.severity, f.since) for f in time_flags] == [
        ("stale", "Quiet 11d", "alarm", dt.date(2026, 11, 10))]
    assert time_flags[0].reason == ("quiet 11 days (limit 7), no next step; "
                                    "in Qualify 11 days, usual 9 days at most (9 in 10 of the 5 past stays there)")


def test_stays_of_hours_read_usual_under_a_day(clock, make_deal, flags_on, world):
    past_qualify_stays(make_deal, clock, [0.1, 0.2, 0.2, 0.3, 0.5])  # 90th percentile 0.42 days
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    services.set_next_step(deal, by=world.alice, text="Demo", due="2026-12-01")
    assert "stale" not in flags_on(deal, dt.date(2026, 11, 2))  # 0 days: not longer than 0.42
    slow = flags_on(deal, dt.date(2026, 11, 3))["stale"]
    assert slow.label == "Slow, usual under a day"
    assert slow.reason.startswith("in Qualify 1 day, usual under a day (9 in 10 of the 5 past stays there)")


def test_usual_reads_in_whole_days_rounded_and_slow_starts_after_that_many(clock, make_deal, flags_on, world):
    """Decision 040: 90th percentile 10.7 days reads "usual 11 days"; 11 days in the stage is not longer
    than that (no "in Qualify 11 days, usual 11 days at most"), 12 days is."""
    past_qualify_stays(make_deal, clock, [3, 5, 7, 9.5, 11.5])  # 90th percentile: 9.5 + 0.6 * 2 = 10.7 days
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    services.set_next_step(deal, by=world.alice, text="Demo", due="2026-12-01")
    assert "stale" not in flags_on(deal, dt.date(2026, 11, 13))  # 11 days
    slow = flags_on(deal, dt.date(2026, 11, 14))["stale"]  # 12 days
    assert slow.label == "Slow, usual 11 days"
    assert slow.reason.startswith("in Qualify 12 days, usual 11 days at most")
    assert slow.since == dt.date(2026, 11, 14)


def test_it_does_not_flag_stuck_with_fewer_than_five_finished_stays(clock, make_deal, flags_on):
    past_qualify_stays(make_deal, clock, [2, 4, 6, 8])
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    flag = flags_on(deal, dt.date(2026, 12, 30))["stale"]
    assert flag.label == "Quiet 58d" and "usual" not in flag.reason  # quiet, but no "slow" side


def test_a_window_counts_only_the_stays_that_ended_with_the_latest_moves(clock, make_deal, pipeline):
    clock.now = OCT_1
    early = make_deal(title="Early")  # history row 1: created in Qualify on 1 Oct
    clock.advance(days=30)
    middle = make_deal(title="Middle")  # row 3: 31 Oct
    clock.advance(days=10)
    late = make_deal(title="Late")  # row 5: 10 Nov
    StageHistory.objects.bulk_create([
        row(early, "qualify", "propose", OCT_1 + dt.timedelta(days=20)),  # row 2: a 20-day stay
        row(middle, "qualify", "propose", OCT_1 + dt.timedelta(days=32)),  # row 4: 2 days
        row(late, "qualify", "propose", OCT_1 + dt.timedelta(days=43)),  # row 6: 3 days
    ])
    qualify = pipeline.stages.get(key="qualify").pk
    whole = stage_duration_percentiles([pipeline.pk], percentiles=(0.5,))[qualify]
    assert whole.stays == 3 and whole.percentiles[0.5] == pytest.approx(3.0)  # 2, 3, 20
    # The latest four rows (3 to 6) end the 2- and 3-day stays; the 20-day stay ended with row 2.
    recent = stage_duration_percentiles([pipeline.pk], percentiles=(0.5,), latest_moves=4)[qualify]
    assert recent.stays == 2 and recent.percentiles[0.5] == pytest.approx(2.5)
    # A stay needs its start row only to measure it: the window counts where stays end.
    assert stage_duration_percentiles([pipeline.pk], percentiles=(0.5,), latest_moves=1)[qualify].stays == 1


def test_a_window_is_counted_per_pipeline(clock, make_deal, pipeline):
    other = build_test_pipeline("other")
    clock.now = OCT_1
    ours, theirs = make_deal(), make_deal(pipeline=other)
    StageHistory.objects.bulk_create([
        row(ours, "qualify", "propose", OCT_1 + dt.timedelta(days=4)),
        row(theirs, "qualify", "propose", OCT_1 + dt.timedelta(days=6)),  # newer, but in the other pipeline
    ])
    stats = stage_duration_percentiles([pipeline.pk, other.pk], percentiles=(0.5,), latest_moves=1)
    medians = {s.pipeline_id: s.percentiles[0.5] for s in stats.values()}
    assert medians == pytest.approx({pipeline.pk: 4.0, other.pk: 6.0})


def test_a_window_must_hold_at_least_one_move(pipeline):
    with pytest.raises(ValueError, match="latest_moves counts history rows and must be at least 1, not 0"):
        stage_duration_percentiles([pipeline.pk], latest_moves=0)


def test_the_slow_side_measures_against_the_stays_that_ended_recently(clock, make_deal, flags_on, monkeypatch,
                                                                       world):
    past_qualify_stays(make_deal, clock, [20, 22, 24, 26, 28])  # long ago the team was slow...
    clock.now = dt.datetime(2026, 11, 10, 12, tzinfo=dt.timezone.utc)
    recent = [make_deal(title=f"Recent {n}") for n in range(5)]
    StageHistory.objects.bulk_create([
        row(deal, "qualify", "propose", clock.now + dt.timedelta(days=length))
        for deal, length in zip(recent, [2, 3, 4, 5, 6])  # ...lately stays in Qualify end within a week
    ])
    clock.now = dt.datetime(2026, 11, 20, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    services.set_next_step(deal, by=world.alice, text="Demo", due="2026-12-10")
    # 90th percentile of the recent stays: 5 + 0.6 * 1 = 5.6 days; of all ten stays it is 26.2 days.
    monkeypatch.setattr(flags, "STUCK_WINDOW_MOVES", 11)  # the five recent deals' two rows each, and "Now"
    slow = flags_on(deal, dt.date(2026, 11, 30))["stale"]  # 10 days
    assert slow.reason.startswith("in Qualify 10 days, usual 6 days at most (9 in 10 of the 5 past stays there)")
    monkeypatch.setattr(flags, "STUCK_WINDOW_MOVES", 1_000)
    assert "stale" not in flags_on(deal, dt.date(2026, 11, 30))  # only waiting
