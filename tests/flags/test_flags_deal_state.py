"""Next step, close date, slips, exit criteria and single-threading on open deals; none on closed deals.

The clock starts on Monday 2 November 2026; Qualify's exit criteria are "Amount estimated"
(amount > 0) and "Budget confirmed" (checklist item 'budget' with evidence).
"""

import datetime as dt

from dealgate.deals import services
from dealgate.deals.flags import compute_flags, criteria_progress


def day(n: int) -> dt.date:
    return dt.date(2026, 11, n)


def test_it_flags_an_open_deal_without_a_next_step(clock, make_deal, flags_on):
    flag = flags_on(make_deal(), day(2))["no_next_step"]
    assert (flag.label, flag.severity, flag.since) == ("No next step", "warning", None)


def test_a_next_step_is_overdue_only_after_its_due_date(clock, make_deal, flags_on, world):
    deal = make_deal()
    services.set_next_step(deal, by=world.alice, text="Send the proposal", due=day(10))
    assert not {"no_next_step", "next_step_overdue"} & set(flags_on(deal, day(10)))
    overdue = flags_on(deal, day(13))["next_step_overdue"]
    assert overdue.label == "Overdue 3d"
    assert overdue.reason == "next step 'Send the proposal' was due 10 Nov (3 days ago)"
    assert overdue.since == day(11)
    assert "no_next_step" not in flags_on(deal, day(13))


def test_it_flags_a_close_date_in_the_past_from_the_day_after(clock, make_deal, flags_on):
    deal = make_deal(expected_close_date="2026-11-09")
    assert "close_date_passed" not in flags_on(deal, day(9))
    passed = flags_on(deal, day(10))["close_date_passed"]
    assert passed.since == day(10)
    assert passed.reason.startswith("expected close date 9 Nov passed 1 day ago")


def test_it_counts_each_later_close_date_as_one_slip(clock, make_deal, flags_on, world):
    deal = make_deal(expected_close_date="2026-11-30")
    assert "slipped" not in flags_on(deal, day(2))
    services.update_deal(deal, by=world.alice, expected_close_date="2026-12-15")
    first = flags_on(deal, day(2))["slipped"]
    assert (first.label, first.severity) == ("Slipped 1x", "info")
    services.update_deal(deal, by=world.alice, expected_close_date="2026-12-10")  # earlier: not a slip
    services.update_deal(deal, by=world.alice, expected_close_date="2027-01-20")
    third = flags_on(deal, day(2))["slipped"]
    assert (third.label, third.severity) == ("Slipped 2x", "warning")
    assert third.reason == "expected close date pushed later 2 times"


def test_it_shows_the_progress_of_the_next_move_while_some_criteria_are_unmet(clock, make_deal, flags_on, world):
    """Qualify -> Propose needs Qualify's 2 exit criteria (amount > 0: met; budget: not ticked) and Propose's
    1 entry criterion (a decision maker: none): 1 of 3, labelled with the stage the move leads to."""
    deal = make_deal(amount="5000")
    missing = flags_on(deal, day(2))["missing_criteria"]
    assert missing.label == "1 of 3 for Propose"
    assert missing.reason == (
        "1 of 3 for Propose met; missing: “Budget confirmed” is not ticked yet; "
        "Decision maker identified: Needs a decision maker on the deal (none yet)"
    )
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="CFO said 50k is set aside")
    assert flags_on(deal, day(2))["missing_criteria"].label == "2 of 3 for Propose"


def test_criteria_progress_lists_each_exit_criterion_of_the_current_stage(clock, make_deal, board):
    deal = make_deal()
    progress = criteria_progress(board(deal))[deal.pk]
    assert (progress.met, progress.total, progress.next_stage) == (0, 3, "Propose")  # 2 exit + 1 entry of Propose
    assert [(r.key, r.met) for r in progress.results] == [("amount", False), ("budget", False), ("decision-maker", False)]


def test_it_flags_single_threaded_deals_from_the_configured_stage(clock, make_deal, flags_on, world, pipeline):
    pipeline.single_threaded_from = 2  # Propose
    pipeline.save(update_fields=["single_threaded_from"])
    deal = make_deal()
    assert "single_threaded" not in flags_on(deal, day(2))  # Qualify is before Propose
    buyer = services.create_contact(by=world.alice, name="Bea Buyer", account=deal.account)
    services.link_contact(deal, buyer, "decision_maker", by=world.alice)
    services.link_contact(deal, buyer, "champion", by=world.alice)  # same person twice: still one thread
    services.move_deal(deal, "propose", by=world.bob, override_reason="verbal budget")
    flag = flags_on(deal, day(2))["single_threaded"]
    assert (flag.label, flag.severity) == ("Single-threaded", "warning")
    assert flag.reason.startswith("one contact on the deal in Propose")
    services.link_contact(deal, services.create_contact(by=world.alice, name="Ian User"), "user", by=world.alice)
    assert "single_threaded" not in flags_on(deal, day(2))


def test_it_never_flags_single_threaded_when_the_pipeline_does_not_ask(clock, make_deal, flags_on, world):
    deal = make_deal()
    services.move_deal(deal, "negotiate", by=world.bob, override_reason="fast track")
    assert "single_threaded" not in flags_on(deal, day(2))


def test_closed_deals_have_no_flags(clock, make_deal, board, world):
    lost = make_deal(expected_close_date="2026-11-03")
    services.update_deal(lost, by=world.alice, expected_close_date="2026-11-04")
    services.move_deal(lost, "lost", by=world.alice, lost_reason="price")
    still_open = make_deal(expected_close_date="2026-11-03")
    flags = compute_flags(board(lost, still_open), today=day(30))
    assert flags[lost.pk] == []
    assert {"stale", "no_next_step", "close_date_passed", "missing_criteria"} <= {f.code for f in flags[still_open.pk]}


def test_flags_come_alarms_first_and_serialise_to_plain_data(clock, make_deal, flags_on, board):
    deal = make_deal(amount="100")
    flags = compute_flags(board(deal), today=day(20))[deal.pk]
    assert [f.severity for f in flags] == sorted((f.severity for f in flags), key=["alarm", "warning", "info"].index)
    assert flags[0].as_dict() == {"code": "stale", "label": "Quiet 18d",
                                  "reason": "quiet 18 days (limit 7), no next step",
                                  "since": "2026-11-10", "severity": "alarm"}
