"""Stale and waiting: idle days against the stage's rot_days (Qualify: 7), calendar or business days.

The clock starts on Monday 2 November 2026 at noon, when each deal is created (its last touch).
"""

import datetime as dt

import pytest

from dealgate.deals import services
from dealgate.deals.flags import add_business_days, business_days_between

MON_2 = dt.date(2026, 11, 2)


def day(n: int) -> dt.date:
    return dt.date(2026, 11, n)


def test_it_does_not_flag_a_deal_idle_exactly_rot_days(clock, make_deal, flags_on):
    deal = make_deal()
    flags = flags_on(deal, day(9))  # 7 idle days, limit 7
    assert "stale" not in flags and "waiting" not in flags


def test_it_flags_a_deal_idle_one_day_past_rot_days_as_stale_since_that_day(clock, make_deal, flags_on):
    deal = make_deal()
    stale = flags_on(deal, day(10))["stale"]
    assert stale.severity == "alarm"
    assert stale.label == "Quiet 8d"
    assert stale.reason == "quiet 8 days (limit 7), no next step"
    assert stale.since == day(10)


def test_the_stale_episode_keeps_its_start_date_while_it_lasts(clock, make_deal, flags_on):
    deal = make_deal()
    assert flags_on(deal, day(10))["stale"].since == flags_on(deal, day(20))["stale"].since == day(10)


def test_an_activity_restarts_the_idle_count(clock, make_deal, flags_on, world):
    deal = make_deal()
    clock.set(day(5))
    services.log_activity(by=world.alice, kind="call", subject="Checked in", deal=deal)
    assert "stale" not in flags_on(deal, day(12))  # 7 days after the call
    stale = flags_on(deal, day(13))["stale"]
    assert (stale.label, stale.since) == ("Quiet 8d", day(13))


def test_a_stage_change_restarts_the_idle_count(clock, make_deal, flags_on, world):
    deal = make_deal()
    clock.set(day(6))
    services.move_deal(deal, "propose", by=world.bob, override_reason="customer asked for a proposal")
    # Propose allows 10 idle days: from Friday 6 Nov that is Monday 16 Nov.
    assert "stale" not in flags_on(deal, day(16))
    assert flags_on(deal, day(17))["stale"].reason == "quiet 11 days (limit 10), no next step"


def test_a_next_step_due_in_the_future_makes_an_idle_deal_waiting_not_stale(clock, make_deal, flags_on, world):
    deal = make_deal()
    services.set_next_step(deal, by=world.alice, text="Call the CFO", due=day(13))
    flags = flags_on(deal, day(12))
    assert "stale" not in flags
    waiting = flags["waiting"]
    assert waiting.severity == "info"
    assert waiting.label == "Waiting 10d"
    assert waiting.reason == "quiet 10 days (limit 7), next step due 13 Nov"
    assert waiting.since == day(10)


def test_a_next_step_due_today_still_counts_as_waiting(clock, make_deal, flags_on, world):
    deal = make_deal()
    services.set_next_step(deal, by=world.alice, text="Call the CFO", due=day(12))
    flags = flags_on(deal, day(12))
    assert flags["waiting"].reason == "quiet 10 days (limit 7), next step due today"
    assert "stale" not in flags


def test_an_overdue_next_step_leaves_the_idle_deal_stale_and_says_so(clock, make_deal, flags_on, world):
    deal = make_deal()
    services.set_next_step(deal, by=world.alice, text="Call the CFO", due=day(11))
    flags = flags_on(deal, day(12))
    assert "waiting" not in flags
    assert flags["stale"].reason == "quiet 10 days (limit 7), next step overdue since 11 Nov"


def test_a_stage_without_rot_days_never_goes_stale(clock, make_deal, flags_on, pipeline):
    pipeline.stages.filter(key="qualify").update(rot_days=None)
    deal = make_deal()
    assert "stale" not in flags_on(deal, day(30))


class TestBusinessDays:
    @pytest.fixture(autouse=True)
    def business_day_pipeline(self, pipeline):
        pipeline.business_days = True
        pipeline.save(update_fields=["business_days"])

    def test_it_skips_weekends_when_counting_idle_days(self, clock, make_deal, flags_on):
        deal = make_deal()  # Monday 2 Nov
        # Wed 11 Nov: 9 calendar days but 7 business days (3, 4, 5, 6, 9, 10, 11): not stale yet.
        assert "stale" not in flags_on(deal, day(11))
        stale = flags_on(deal, day(12))["stale"]
        assert stale.label == "Quiet 8bd"
        assert stale.reason == "quiet 8 business days (limit 7), no next step"
        assert stale.since == day(12)

    def test_a_weekend_adds_no_idle_days(self, clock, make_deal, flags_on):
        deal = make_deal()
        assert flags_on(deal, day(13))["stale"].label == "Quiet 9bd"  # Friday
        assert flags_on(deal, day(15))["stale"].label == "Quiet 9bd"  # Sunday
        assert flags_on(deal, day(16))["stale"].label == "Quiet 10bd"  # Monday

    def test_a_deal_last_touched_on_a_saturday_starts_counting_on_monday(self, clock, make_deal, flags_on):
        clock.set(dt.date(2026, 11, 7))  # Saturday
        deal = make_deal()
        # Mon 9 .. Tue 17 Nov is 7 business days; Wed 18 is the 8th.
        assert "stale" not in flags_on(deal, day(17))
        assert flags_on(deal, day(18))["stale"].since == day(18)


def test_business_day_helpers_agree_with_counting_day_by_day():
    for start_offset in range(7):
        start = MON_2 + dt.timedelta(days=start_offset)
        for length in range(0, 30):
            end = start + dt.timedelta(days=length)
            by_hand = sum(1 for i in range(1, length + 1) if (start + dt.timedelta(days=i)).weekday() < 5)
            assert business_days_between(start, end) == by_hand
        for wanted in range(1, 16):
            first = add_business_days(start, wanted)
            assert business_days_between(start, first) == wanted
            assert business_days_between(start, first - dt.timedelta(days=1)) == wanted - 1
