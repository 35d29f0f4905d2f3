"""Moves and their gates, written for the mutants of dealgate/deals/services.py (move_deal,
unmet_criteria, _closed_from, _require_edit, _history_row) that survived tests/core and
tests/test_smoke_services.py: each refusal's whole message and details, the history row, audit
entry and rules job a move leaves, and where a closed deal is taken to have closed from. Expected
values are worked out by hand from the rules in the docstrings (see tests/conftest.py for the test
pipeline), not read back from the code."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dealgate.audit.models import AuditEntry
from dealgate.deals import services
from dealgate.deals.models import Deal, StageHistory
from dealgate.errors import Conflict, MoveBlocked, NotAllowed
from tests.conftest import build_test_pipeline
from tests.core.test_deal_services_mutants import audit, audit_by, refusal


def unmet_keys(deal: Deal, stage_key: str) -> list[str]:
    """The keys of the criteria between the deal (read fresh) and one of its pipeline's stages."""
    fresh = Deal.objects.get(pk=deal.pk)
    return [u["key"] for u in services.unmet_criteria(fresh, fresh.pipeline.stages.get(key=stage_key))]


# --- who may move, and what a refusal says ---------------------------------------------------------


def test_a_move_by_someone_who_may_not_edit_the_deal_names_it(world, make_deal, snapshot):
    """carol is a rep of team West; alice's deal "Fleet" belongs to team East, so carol may not
    change it: NotAllowed "carol may not change deal <id> (Fleet).", details {"deal": <id>}, and
    the deal stays as it was. (Kills _require_edit 9, 11-13: the details.)"""
    deal = make_deal(owner=world.alice, title="Fleet", amount="100")
    before = snapshot(deal)
    with pytest.raises(NotAllowed) as excinfo:
        services.move_deal(deal, "lost", by=world.carol, lost_reason="price")
    assert (excinfo.value.message, excinfo.value.details) == (
        f"carol may not change deal {deal.pk} (Fleet).", {"deal": deal.pk})
    assert snapshot(deal) == before


def test_a_move_to_the_stage_the_deal_is_in_is_a_conflict_naming_it(world, make_deal):
    """A new deal stands in Qualify (key qualify); moving it to Qualify again is a Conflict whose
    details name the deal and its current stage's key. (Kills move_deal 61, 63-67.)"""
    deal = make_deal()
    with pytest.raises(Conflict) as excinfo:
        services.move_deal(deal, "qualify", by=world.alice)
    assert (excinfo.value.message, excinfo.value.details) == (
        f"Deal {deal.pk} is already in Qualify.", {"deal": deal.pk, "current_stage": "qualify"})


def test_a_stage_of_another_pipeline_is_refused_by_move_and_by_unmet_criteria(world, make_deal):
    """The deal is in pipeline "Test pipeline"; the Won stage of a second pipeline ("other") is
    not one of its stages. move_deal resolves a Stage of another pipeline against the deal's own
    pipeline, which refuses it as "stage 'Won' is not in pipeline 'Test pipeline'" (kills
    move_deal 23, which took the foreign stage as resolved); unmet_criteria refuses it on the
    field "stage" with "stage 'Won' is not in this deal's pipeline" (kills unmet_criteria 2, 3,
    6, 7)."""
    deal = make_deal(amount="100")
    foreign_won = build_test_pipeline("other").stages.get(key="won")
    assert refusal(services.move_deal, deal, foreign_won, by=world.bob, override_reason="CFO signed") == (
        "stage: stage 'Won' is not in pipeline 'Test pipeline'",
        {"stage": ["stage 'Won' is not in pipeline 'Test pipeline'"]})
    assert refusal(services.unmet_criteria, deal, foreign_won) == (
        "stage: stage 'Won' is not in this deal's pipeline", {"stage": ["stage 'Won' is not in this deal's pipeline"]})
    assert Deal.objects.get(pk=deal.pk).stage.key == "qualify"


def test_a_move_blocked_by_one_criterion_says_criterion(world, make_deal):
    """Qualify -> Propose needs amount > 0 and budget ticked (Qualify's exit) and a decision maker
    (Propose's entry). With an amount of 100 and budget ticked, only the decision maker is
    missing: "Fleet cannot move to Propose: 1 criterion not met." (singular). (Kills move_deal
    106, 111, 112.)"""
    deal = make_deal(title="Fleet", amount="100")
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="CFO email")
    with pytest.raises(MoveBlocked) as excinfo:
        services.move_deal(deal, "propose", by=world.alice)
    assert excinfo.value.message == "Fleet cannot move to Propose: 1 criterion not met."
    assert (excinfo.value.details["deal"], excinfo.value.details["to_stage"]) == (deal.pk, "propose")
    assert [u["key"] for u in excinfo.value.unmet] == ["decision-maker"]


# --- lost notes ------------------------------------------------------------------------------------


def test_a_lost_note_may_be_300_characters_and_no_more(world, make_deal, snapshot):
    """A lost note is at most 300 characters: 301 is refused on the field lost_note with
    "is longer than 300 characters" and the deal stays in Qualify; 300 are stored. (Kills
    move_deal 150, 155, 156, 157.)"""
    deal = make_deal(amount="100")
    before = snapshot(deal)
    assert refusal(services.move_deal, deal, "lost", by=world.alice, lost_reason="price", lost_note="n" * 301) == (
        "lost_note: is longer than 300 characters", {"lost_note": ["is longer than 300 characters"]})
    assert snapshot(deal) == before
    services.move_deal(deal, "lost", by=world.alice, lost_reason="price", lost_note="n" * 300)
    assert Deal.objects.get(pk=deal.pk).lost_note == "n" * 300


def test_a_won_deal_keeps_no_lost_note(world, make_deal, gates):
    """A lost note belongs to a lost deal only: a win keeps none, even when the caller sends one
    (the API passes whatever the form held). Winning from Negotiate with every gate met stores
    lost_note "" and no lost reason, and the audit entry has no note. (Kills move_deal 148, which
    kept the note, and 158, which stored "XXXX".)"""
    deal = make_deal(amount="100")
    gates.reach(deal, "negotiate")
    gates.won_entry(deal)
    services.move_deal(deal, "won", by=world.alice, lost_note="Signed after the demo")
    fresh = Deal.objects.get(pk=deal.pk)
    assert (fresh.stage.key, fresh.lost_note, fresh.lost_reason) == ("won", "", None)
    assert audit(deal, "won") == [("stage", "Negotiate", "Won", "")]


# --- what a move writes ----------------------------------------------------------------------------


def test_history_rows_keep_the_currency_and_are_neither_overrides_nor_imported(world, make_deal):
    """A deal created by alice with 100 USD: its "created" row carries amount 100.00 and currency
    USD, no override (empty reason) and is not imported (it was made here); so does the Qualify ->
    Lost move. (Kills _history_row 1 and 2, the defaults, and 22, the currency.)"""
    deal = make_deal(amount="100", currency="usd")
    services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    rows = StageHistory.objects.filter(deal=deal).order_by("at", "id")
    assert list(rows.values_list("kind", "amount", "currency", "override", "override_reason", "imported")) == [
        ("created", Decimal("100.00"), "USD", False, "", False),
        ("lost", Decimal("100.00"), "USD", False, "", False)]


def test_a_move_is_audited_by_its_mover_at_the_moment_of_the_move(world, make_deal):
    """alice moves her deal back from Propose to Qualify: one "moved" audit entry by alice, dated
    the instant the history row and the deal's stage_entered_at carry. (Kills move_deal 202,
    by=None, and 206, 214, no time given: the entry would be dated later.)"""
    deal = make_deal(amount="100")
    services.move_deal(deal, "propose", by=world.bob, override_reason="CFO said yes on the phone")
    row = services.move_deal(deal, "qualify", by=world.alice)
    assert audit(deal, "moved")[-1] == ("stage", "Propose", "Qualify", "")
    assert audit_by(deal, "moved") == ["bob", "alice"]
    entry = AuditEntry.objects.filter(object_type="deal", object_id=deal.pk, action="moved").order_by("id").last()
    assert entry.at == row.at == Deal.objects.get(pk=deal.pk).stage_entered_at


def test_a_move_queues_one_moved_event_naming_the_deal_and_its_history_row(world, make_deal):
    """A move queues exactly one rules job, run_rules("moved", <the deal's id>, "history:<id of the
    history row the move wrote>"), in the database queue. (Kills move_deal 230-232, 236, 237.)"""
    from django_tasks_db.models import DBTaskResult

    deal = make_deal(amount="100")
    DBTaskResult.objects.all().delete()
    row = services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    assert [(job.task_path, job.args_kwargs) for job in DBTaskResult.objects.all()] == [
        ("dealgate.automation.jobs.run_rules", {"args": ["moved", deal.pk, f"history:{row.pk}"], "kwargs": {}})]


# --- where a closed deal closed from ---------------------------------------------------------------


def test_a_deal_won_from_lost_reopens_from_the_open_stage_it_lost_from(world, make_deal):
    """alice loses her deal (amount 100) from Qualify; bob then wins it from Lost by override. Its
    latest move is Lost -> Won, from a closed stage; the open stage it closed from is still Qualify
    (its latest move out of an open stage). Reopening it to Propose is then like moving Qualify ->
    Propose: budget (Qualify's exit; the amount is met) and the decision maker (Propose's entry)
    are unmet. (Kills _closed_from 10, which took Lost as the stage it closed from: nothing
    required.)"""
    deal = make_deal(amount="100")
    services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    services.move_deal(deal, "won", by=world.bob, override_reason="They came back and signed")
    assert unmet_keys(deal, "propose") == ["budget", "decision-maker"]
    assert unmet_keys(deal, "qualify") == []  # back to where it closed from: free


def test_a_closed_deal_reopens_from_its_own_history_not_another_deals(world, make_deal):
    """Deal A (amount 100) is lost from Qualify. Afterwards deal B is moved Qualify -> Propose (bob,
    override) and back Propose -> Qualify (alice): the latest move out of an open stage of any deal
    is B's, out of Propose. A still closed from Qualify, so reopening it to Propose needs budget and
    the decision maker. (Kills _closed_from 9, which read B's row: Propose to Propose is free.)"""
    deal_a, deal_b = make_deal(amount="100"), make_deal(amount="100")
    services.move_deal(deal_a, "lost", by=world.alice, lost_reason="price")
    services.move_deal(deal_b, "propose", by=world.bob, override_reason="CFO said yes on the phone")
    services.move_deal(deal_b, "qualify", by=world.alice)
    assert unmet_keys(deal_a, "propose") == ["budget", "decision-maker"]


def imported_move(deal: Deal, from_key: str, to_key: str, kind: str, at: dt.datetime) -> StageHistory:
    """A history row as an import writes it (dealgate/imports/services.py): imports add moves dated
    before the history already there, so a row written later may be dated earlier."""
    stages = {stage.key: stage for stage in deal.pipeline.stages.all()}
    return StageHistory.objects.create(
        deal=deal, from_stage=stages[from_key], to_stage=stages[to_key], kind=kind, at=at, by=None,
        amount=deal.amount, currency=deal.currency, probability=stages[to_key].probability, imported=True)


def test_the_stage_a_deal_closed_from_is_its_latest_move_by_date_not_by_insertion(world, make_deal):
    """The deal is lost from Qualify now; an import then adds an earlier move Propose -> Negotiate
    dated a day before. The latest move out of an open stage by date is still the loss, out of
    Qualify, so reopening to Propose needs budget and the decision maker. (Kills _closed_from 4,
    which ordered by insertion only and took the imported row, out of Propose: nothing required.)"""
    deal = make_deal(amount="100")
    lost = services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    imported_move(deal, "propose", "negotiate", "forward", lost.at - dt.timedelta(days=1))
    assert unmet_keys(deal, "propose") == ["budget", "decision-maker"]


def test_moves_at_the_same_instant_are_told_apart_by_the_later_row(world, make_deal):
    """bob moves the deal (amount 100) Qualify -> Propose by override, alice loses it from Propose;
    an import then records a loss out of Qualify dated the same instant. Of two moves at one
    instant the later row counts: the deal closed from Qualify, so reopening to Propose needs budget
    and the decision maker. (Pins the tie-break that _closed_from 5 drops; that mutant leaves ties
    to the database's order, which on SQLite happens to return the later row first, so it is not
    caught there.)"""
    deal = make_deal(amount="100")
    services.move_deal(deal, "propose", by=world.bob, override_reason="CFO said yes on the phone")
    lost = services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    imported_move(deal, "qualify", "lost", "lost", lost.at)
    assert unmet_keys(deal, "propose") == ["budget", "decision-maker"]


def test_a_closed_deal_with_no_move_out_of_an_open_stage_wins_through_every_open_stage(world, make_deal, pipeline):
    """The deal is lost from Qualify; an admin then makes Qualify a post-sale phase at position 6
    (the stage order check suggests exactly that for a misplaced open stage, and accepts it). The
    deal's only move out of a stage is now out of a post-sale one: it closed from no open stage.
    Winning it then passes every open stage from the first, Propose: the decision maker (Propose's
    entry), the meeting (Propose's exit), pricing (Won's entry). (Kills _closed_from 18, which read
    from_stage off a missing row and crashed.)"""
    from dealgate.pipelines.services import stage_order_problems

    deal = make_deal(amount="100")
    services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    pipeline.stages.filter(key="qualify").update(kind="post", position=6)
    assert stage_order_problems(pipeline.stages.all()) == []
    assert unmet_keys(deal, "won") == ["decision-maker", "meeting", "pricing"]
