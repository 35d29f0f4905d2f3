"""Tests written to kill the mutants of dealgate/deals/flags.py that the other flag tests let live
(`bench/mutation.sh flags`; the equivalent ones are listed in docs/testing.md).

Dates: 2 November 2026 is a Monday, so 7 Nov is a Saturday and 8 Nov a Sunday. The clock starts
on Monday 2 November at noon UTC, when each deal is created.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.deals import services
from dealgate.deals.flags import add_business_days, compute_flags, short_date, with_date_flags
from dealgate.deals.models import Deal


def day(n: int, month: int = 11) -> dt.date:
    return dt.date(2026, month, n)


# --- dates ----------------------------------------------------------------------------------------


def test_short_date_shows_the_year_only_when_it_is_not_this_year():
    """27 Nov 2026: no year when today is in 2026; the year when today is in another year."""
    assert short_date(day(27), today=day(1, 12)) == "27 Nov"  # the pages' one format (dealgate.words.day)
    assert short_date(day(27), today=dt.date(2027, 1, 4)) == "27 Nov 2026"
    assert short_date(dt.date(2027, 1, 4), today=day(27)) == "4 Jan 2027"


def test_zero_business_days_after_a_weekend_day_is_that_day():
    """business_days_between(Sat 7 Nov, Sat 7 Nov) is already 0, so the day it first reaches 0 is
    Saturday itself, not the Friday before (the weekend step-back is for whole weeks only)."""
    assert add_business_days(day(7), 0) == day(7)
    assert add_business_days(day(8), 0) == day(8)
    assert add_business_days(day(7), 5) == day(13)  # a whole week from Saturday: Fri 13 (Sat 14 steps back)


# --- reasons --------------------------------------------------------------------------------------


def test_an_idle_deal_whose_next_step_has_no_due_date_is_stale_and_says_so(clock, make_deal, flags_on):
    """The service never leaves a next step without a due date, but older data can (the flags handle
    it): 8 idle days on 10 Nov (limit 7), stale, not waiting, and the reason says why."""
    deal = make_deal()
    Deal.objects.filter(pk=deal.pk).update(next_step="Call the CFO", next_step_due=None)
    flags = flags_on(deal, day(10))
    assert "waiting" not in flags
    assert flags["stale"].reason == "quiet 8 days (limit 7), next step has no due date"


def test_a_due_date_without_a_next_step_does_not_make_an_idle_deal_waiting(clock, make_deal, flags_on):
    """A due date (20 Nov, in the future) but no next-step text: nothing is scheduled, so the deal
    idle 8 days on 10 Nov is stale, and the reason says there is no next step."""
    deal = make_deal()
    Deal.objects.filter(pk=deal.pk).update(next_step="", next_step_due=day(20))
    flags = flags_on(deal, day(10))
    assert "waiting" not in flags
    assert flags["stale"].reason == "quiet 8 days (limit 7), no next step"


# --- the SQL filter, one reason per deal --------------------------------------------------------


def test_the_sql_filter_catches_each_date_flag_on_its_own(clock, make_deal, pipeline):
    """On Wed 4 Nov no deal is idle (2 days, limit 7). Each deal below has exactly one date flag,
    so every OR branch of the filter is needed on its own:
    - "No text, due set": no next-step text but a due date (24 Nov) -> no_next_step;
    - "No due date": text, no due date -> no_next_step;
    - "Overdue": due 3 Nov -> next_step_overdue;
    - "Close date passed": next step due 24 Nov, close date 3 Nov -> close_date_passed;
    - "Slipped once": next step due 24 Nov, close date 30 Nov, one slip -> slipped;
    - "Clean": next step due 24 Nov, close date 30 Nov, no slip -> nothing, left out."""
    fine = {"next_step": "Demo", "next_step_due": day(24), "expected_close_date": day(30), "close_date_slips": 0}
    states = {
        "No text, due set": {**fine, "next_step": ""},
        "No due date": {**fine, "next_step_due": None},
        "Overdue": {**fine, "next_step_due": day(3)},
        "Close date passed": {**fine, "expected_close_date": day(3)},
        "Slipped once": {**fine, "close_date_slips": 1},
        "Clean": fine,
    }
    for title, values in states.items():
        Deal.objects.filter(pk=make_deal(title=title).pk).update(**values)
    today = day(4)
    by_sql = sorted(d.title for d in with_date_flags(Deal.objects.all(), pipeline.stages.all(), business_days=False,
                                                     today=today))
    assert by_sql == ["Close date passed", "No due date", "No text, due set", "Overdue", "Slipped once"]
    deals = list(Deal.objects.select_related("stage", "pipeline"))
    codes = {d.title: [f.code for f in compute_flags([d], today=today)[d.pk]
                       if f.code not in ("missing_criteria", "single_threaded")] for d in deals}
    assert codes == {"No text, due set": ["no_next_step"], "No due date": ["no_next_step"],
                     "Overdue": ["next_step_overdue"], "Close date passed": ["close_date_passed"],
                     "Slipped once": ["slipped"], "Clean": []}


# --- slow (was stuck) ----------------------------------------------------------------------------------------


def test_a_deal_exactly_at_a_whole_90th_percentile_is_not_slow(clock, make_deal, flags_on, world):
    """Past stays of 2, 4, 6, 8 and 8 days: the 90th percentile sits at 0.9 * 4 = 3.6 between the
    4th and 5th stay, 8 + 0.6 * (8 - 8) = 8.0 days, shown as "8". A deal 8 days in Qualify is not
    slow (not longer than 8); at 9 days it is, since the 9th day after entering. A next step is planned,
    so the quiet side (limit 7) is only "waiting" and the slow side decides the flag."""
    from tests.flags.test_flags_stuck import past_qualify_stays

    past_qualify_stays(make_deal, clock, [2, 4, 6, 8, 8])
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    services.set_next_step(deal, by=world.alice, text="Demo", due="2026-12-01")
    assert "stale" not in flags_on(deal, day(10))  # 8 days
    slow = flags_on(deal, day(11))["stale"]  # 9 days
    assert slow.reason == ("in Qualify 9 days, usual 8 days at most (9 in 10 of the 5 past stays there); "
                           "quiet 9 days (limit 7), next step due 1 Dec")
    assert (slow.label, slow.since, slow.severity) == ("Slow, usual 8 days", day(11), "warning")


def test_a_90th_percentile_of_exactly_one_day_reads_1_day_not_under_a_day(clock, make_deal, flags_on, world):
    """Five past stays of exactly 1 day: the 90th percentile is 1.0 day, a whole day, so the usual stay
    reads "1 day" (rounded half up: floor(1.0 + 0.5) = 1), not "under a day" (which is for stays under
    1 day). The deal entered Qualify on Monday 2 Nov at noon: on Tuesday 3 Nov it is 1 day in (not
    longer than 1), so not slow; on Wednesday 4 Nov it is 2 days in, slow since that day (2 Nov + 1 + 1).
    Quiet only 2 days of its limit 7, and a next step planned, so the slow side alone makes the flag.
    (Kills `_slow`'s `p90 > 1` and `p90 >= 2`, which read 1.0 day as "under a day".)"""
    from tests.flags.test_flags_stuck import past_qualify_stays

    past_qualify_stays(make_deal, clock, [1, 1, 1, 1, 1])
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    services.set_next_step(deal, by=world.alice, text="Demo", due="2026-12-01")
    assert "stale" not in flags_on(deal, day(3))  # 1 day: not longer than 1
    slow = flags_on(deal, day(4))["stale"]
    assert (slow.label, slow.reason, slow.since, slow.severity) == (
        "Slow, usual 1 day", "in Qualify 2 days, usual 1 day at most (9 in 10 of the 5 past stays there)", day(4),
        "warning")


# --- plain data -----------------------------------------------------------------------------------


def test_a_flag_without_a_start_day_serialises_since_as_none(clock, make_deal, flags_on):
    """No next step has no start day (it is not an episode that began on a date): since is None."""
    deal = make_deal()
    assert flags_on(deal, day(3))["no_next_step"].as_dict() == {
        "code": "no_next_step", "label": "No next step",
        "reason": "no next step is set; add the next action and its due date", "since": None, "severity": "warning",
    }


# --- every field of each flag ---------------------------------------------------------------------


def _fields(flags):
    return [(f.code, f.label, f.reason, f.since, f.severity) for f in flags]


def _missing(deal, board) -> list[str]:
    """What each unmet criterion of the deal's next move still needs, in the words of the criteria module
    (another branch rewords them); the flag's reason puts "Label: " before those that do not name
    their criterion."""
    from dealgate.deals.flags import criteria_progress

    return [r.missing for r in criteria_progress(board(deal))[deal.pk].results if not r.met]


def test_each_date_flag_in_full_and_in_order(clock, make_deal, board):
    """Created Mon 2 Nov with no amount; a next step with no due date; close date Thu 5 Nov pushed
    later once. On Mon 9 Nov: idle 7 days (limit 7), so not stale; the close date passed 4 days
    ago (since 6 Nov). Warnings come first in the order of CODES (no_next_step, then
    close_date_passed), then the infos (slipped, missing_criteria). The next move is Qualify ->
    Propose (decision 029): Qualify's two exit criteria (amount, budget) plus Propose's one entry
    criterion (a decision maker) = 3, none met: "0 of 3 for Propose". The budget's words already
    quote its label, so only the amount and the decision maker get "Label: " before them."""
    deal = make_deal()
    Deal.objects.filter(pk=deal.pk).update(next_step="Send terms", next_step_due=None,
                                           expected_close_date=day(5), close_date_slips=1)
    amount, budget, decision_maker = _missing(deal, board)
    assert amount.startswith("amount is empty") and budget.startswith("“Budget confirmed”")
    assert decision_maker.startswith("Needs a decision maker")
    assert _fields(compute_flags(board(deal), today=day(9))[deal.pk]) == [
        ("no_next_step", "No due date", "next step 'Send terms' has no due date", None, "warning"),
        ("close_date_passed", "Close date passed",
         "expected close date 5 Nov passed 4 days ago; update it or close the deal", day(6), "warning"),
        ("slipped", "Slipped 1x", "expected close date pushed later once", None, "info"),
        ("missing_criteria", "0 of 3 for Propose",
         f"0 of 3 for Propose met; missing: Amount estimated: {amount}; {budget}; "
         f"Decision maker identified: {decision_maker}", None, "info"),
    ]


def test_one_day_late_is_said_in_the_singular(clock, make_deal, board):
    """Next step due Sun 8 Nov and close date Sun 8 Nov, looked at on Mon 9 Nov (idle 7 days: not
    stale): both 1 day late, both since 9 Nov. The deal has an amount, so 1 of the 3 criteria of the
    move to Propose is met (amount; not the budget, not Propose's decision maker): "1 of 3 for Propose"."""
    deal = make_deal(amount="5000")
    Deal.objects.filter(pk=deal.pk).update(next_step="Demo", next_step_due=day(8), expected_close_date=day(8))
    budget, decision_maker = _missing(deal, board)
    assert _fields(compute_flags(board(deal), today=day(9))[deal.pk]) == [
        ("next_step_overdue", "Overdue 1d", "next step 'Demo' was due 8 Nov (1 day ago)", day(9), "warning"),
        ("close_date_passed", "Close date passed",
         "expected close date 8 Nov passed 1 day ago; update it or close the deal", day(9), "warning"),
        ("missing_criteria", "1 of 3 for Propose",
         f"1 of 3 for Propose met; missing: {budget}; Decision maker identified: {decision_maker}", None, "info"),
    ]


def test_single_threaded_from_the_first_stage_with_no_contact(clock, make_deal, board, pipeline):
    """single_threaded_from = 1: a deal in Qualify (position 1) with no contact at all is flagged,
    and says "no contact". With a due next step, an amount and the budget ticked, the only other flag is
    the next move's one unmet criterion: Propose's decision maker, which needs a contact (2 of 3 for
    Propose; an info, so after the warning)."""
    pipeline.single_threaded_from = 1
    pipeline.save(update_fields=["single_threaded_from"])
    deal = make_deal(amount="5000")
    Deal.objects.filter(pk=deal.pk).update(next_step="Demo", next_step_due=day(20))

    services.record_checklist_answer(deal, "budget", by=deal.owner, evidence="CFO confirmed")
    assert _fields(compute_flags(board(deal), today=day(3))[deal.pk]) == [
        ("single_threaded", "Single-threaded",
         "no contact on the deal in Qualify; link at least 2 people from the buyer's side", None, "warning"),
        ("missing_criteria", "2 of 3 for Propose",
         "2 of 3 for Propose met; missing: Decision maker identified: Needs a decision maker on the deal (none yet)",
         None, "info"),
    ]


def test_a_next_move_without_criteria_has_no_progress_to_show(clock, make_deal, board, world):
    """Negotiate's next move is Won: Negotiate has no exit criteria, and once the admin deletes Won's
    one entry criterion (pricing approved) the move needs nothing: progress "0 of 0 for Won", no
    results, and no missing-criteria flag."""
    from dealgate.deals import services
    from dealgate.deals.flags import criteria_progress
    from dealgate.pipelines.models import Criterion
    from dealgate.web import pipeline_settings

    deal = make_deal()
    services.move_deal(deal, "negotiate", by=world.bob, override_reason="fast track")
    pipeline_settings.delete_criterion(Criterion.objects.get(key="pricing"), by=world.dave)
    progress = criteria_progress(board(deal))[deal.pk]
    assert (progress.met, progress.total, progress.results, progress.label) == (0, 0, [], "0 of 0 for Won")
    assert "missing_criteria" not in {f.code for f in compute_flags(board(deal), today=day(3))[deal.pk]}


def test_without_a_day_given_flags_are_computed_for_today(clock, make_deal, board):
    """The clock says 10 Nov: a deal created on 2 Nov is 8 days idle, stale since 10 Nov."""
    deal = make_deal()
    clock.set(day(10))
    stale = compute_flags(board(deal))[deal.pk][0]
    assert (stale.code, stale.label, stale.since) == ("stale", "Quiet 8d", day(10))


def test_flags_and_progress_answers_for_closed_deals_too(clock, make_deal, board, world):
    """The deal page asks for a lost deal alone: no flags ([] under its id, not a missing key), and
    its progress (a closed deal has no next move; Lost has no exit criteria: "0 of 0", no stage
    named). Asked with an open deal beside it, the open one gets its flags (on 3 Nov: no next step,
    0 of the 3 criteria of the move to Propose met)."""
    from dealgate.deals import services
    from dealgate.deals.flags import flags_and_progress

    lost = make_deal(title="Lost")
    services.move_deal(lost, "lost", by=world.alice, lost_reason="price")
    flags, progress = flags_and_progress(board(lost), today=day(3))
    assert flags == {lost.pk: []}
    assert (progress[lost.pk].met, progress[lost.pk].total, progress[lost.pk].label) == (0, 0, "0 of 0")
    still_open = make_deal(title="Open")
    flags, progress = flags_and_progress(board(lost, still_open), today=day(3))
    assert flags[lost.pk] == []
    assert [f.code for f in flags[still_open.pk]] == ["no_next_step", "missing_criteria"]
    assert sorted(progress) == sorted([lost.pk, still_open.pk])
    assert (progress[still_open.pk].met, progress[still_open.pk].total) == (0, 3)


def test_a_next_move_with_one_criterion_shows_0_of_1(clock, make_deal, flags_on, world):
    """Propose's next move is Negotiate: Propose's one exit criterion (a meeting held in the stage)
    plus Negotiate's entry criteria (none). No meeting is logged: "0 of 1 for Negotiate"."""
    from dealgate.deals import services

    deal = make_deal()
    services.move_deal(deal, "propose", by=world.bob, override_reason="customer asked for a proposal")
    assert flags_on(deal, day(3))["missing_criteria"].label == "0 of 1 for Negotiate"


# --- flags as of a day in another year than the clock's, and the slow side's edges ---------------


def test_flags_as_of_a_day_in_the_next_year_give_last_years_dates_their_year(clock, make_deal, flags_on):
    """Flags computed for Monday 4 January 2027 (a catch-up run, `worker --now`) while the clock still
    says 2 Nov 2026: dates are shown against the day the flags are for, not the clock. Both deals were
    created Mon 2 Nov 2026 and never touched since: 63 days idle on 4 Jan (30 to 2 Dec, 31 to 2 Jan,
    2 more), limit 7.
    - Overdue: next step due Mon 28 Dec 2026 (7 days before), close date Wed 30 Dec 2026 (5 days
      before, passed since 31 Dec): both dates with their year, since 2026 is not the flags' year.
    - Planned: next step due Fri 8 Jan 2027, the flags' own year: no year ("8 Jan")."""
    overdue, planned = make_deal(title="Overdue"), make_deal(title="Planned")
    Deal.objects.filter(pk=overdue.pk).update(next_step="Call", next_step_due=dt.date(2026, 12, 28),
                                              expected_close_date=dt.date(2026, 12, 30))
    Deal.objects.filter(pk=planned.pk).update(next_step="Demo", next_step_due=dt.date(2027, 1, 8))
    new_year = dt.date(2027, 1, 4)
    flags = flags_on(overdue, new_year)
    assert flags["next_step_overdue"].reason == "next step 'Call' was due 28 Dec 2026 (7 days ago)"
    assert flags["close_date_passed"].reason == (
        "expected close date 30 Dec 2026 passed 5 days ago; update it or close the deal")
    assert flags["close_date_passed"].since == dt.date(2026, 12, 31)
    assert flags["stale"].reason == "quiet 63 days (limit 7), next step overdue since 28 Dec 2026"
    assert flags_on(planned, new_year)["waiting"].reason == "quiet 63 days (limit 7), next step due 8 Jan"


def test_a_90th_percentile_between_half_a_day_and_a_day_reads_under_a_day(clock, make_deal, flags_on):
    """Five past stays of 18 hours: the 90th percentile is 0.75 day, under a whole day, so the usual
    stay reads "under a day" and a deal is slow from its first day (rounding 0.75 half up to 1 would
    wait a day more). Entered Qualify Mon 2 Nov at noon: on Tue 3 Nov it is 1 day in, slow since
    that day; idle 1 day of its limit 7, so the slow side alone makes the flag."""
    from tests.flags.test_flags_stuck import past_qualify_stays

    past_qualify_stays(make_deal, clock, [0.75] * 5)
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    slow = flags_on(deal, day(3))["stale"]
    assert (slow.label, slow.reason, slow.since, slow.severity) == (
        "Slow, usual under a day", "in Qualify 1 day, usual under a day (9 in 10 of the 5 past stays there)",
        day(3), "warning")


def test_a_quiet_and_slow_deal_is_flagged_since_the_earlier_of_the_two(clock, make_deal, flags_on):
    """Five past stays of 2 days: usual 2 days, so a deal that entered Qualify Mon 2 Nov is slow since
    Thu 5 Nov (2 Nov + 2 + 1). With no next step and no activity it is quiet since Tue 10 Nov
    (2 Nov + 7 + 1). On Wed 11 Nov both hold (9 days): one alarm, quiet first, and the episode began
    on 5 Nov, the earlier start."""
    from tests.flags.test_flags_stuck import past_qualify_stays

    past_qualify_stays(make_deal, clock, [2] * 5)
    clock.now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.timezone.utc)
    deal = make_deal(title="Now")
    stale = flags_on(deal, day(11))["stale"]
    assert (stale.label, stale.reason, stale.since, stale.severity) == (
        "Quiet 9d", "quiet 9 days (limit 7), no next step; in Qualify 9 days, usual 2 days at most "
        "(9 in 10 of the 5 past stays there)", day(5), "alarm")


def test_a_next_move_whose_criteria_all_hold_has_no_missing_criteria_flag(clock, make_deal, flags_on, world):
    """The move Qualify -> Propose needs an amount, the budget ticked with a note (Qualify's exit) and a decision
    maker (Propose's entry). With the first two: "2 of 3 for Propose". With the decision maker linked
    too, 3 of 3 hold: nothing is missing, so there is no flag (not a "3 of 3" flag missing nothing)."""
    deal = make_deal(amount="5000")
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="CFO said so on the call")
    assert flags_on(deal, day(3))["missing_criteria"].label == "2 of 3 for Propose"
    contact = services.create_contact(by=world.alice, name="Dana Buyer", account=deal.account)
    services.link_contact(deal, contact, "decision_maker", by=world.alice)
    assert "missing_criteria" not in flags_on(deal, day(3))
