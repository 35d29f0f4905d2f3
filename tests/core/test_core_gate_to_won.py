"""Winning is the last step forward: no shortcut past the open stages' gates (issue 11, section 1).

The test pipeline (tests/conftest.py): qualify exit {amount, budget}, propose entry {decision-maker}
and exit {meeting}, negotiate (no criteria), won entry {pricing}.
"""

from __future__ import annotations

import pytest

from dealgate.deals.models import StageHistory
from dealgate.deals.services import create_account, create_deal, move_deal, unmet_criteria
from dealgate.errors import MoveBlocked, NotAllowed
from dealgate.pipelines.services import create_pipeline_from_template


def unmet(excinfo) -> list[tuple[str, str, str]]:
    return [(item["stage"], item["phase"], item["key"]) for item in excinfo.value.details["unmet"]]


def test_it_refuses_winning_from_the_first_stage_with_unmet_path_criteria(make_deal, world, snapshot):
    deal = make_deal()
    before = snapshot(deal)
    with pytest.raises(MoveBlocked) as excinfo:
        move_deal(deal, "won", by=world.alice)
    assert unmet(excinfo) == [
        ("Qualify", "exit", "amount"), ("Qualify", "exit", "budget"),
        ("Propose", "entry", "decision-maker"), ("Propose", "exit", "meeting"),
        ("Won", "entry", "pricing"),
    ]
    assert snapshot(deal) == before


def test_it_refuses_winning_from_prospecting_with_unmet_path_criteria(world):
    """The b2b-7 template: a deal in Prospecting needs every selling stage's gates to be won."""
    pipeline = create_pipeline_from_template("b2b-7")
    deal = create_deal(by=world.alice, title="Shortcut", account=create_account(by=world.alice, name="Acme"),
                       pipeline=pipeline)
    with pytest.raises(MoveBlocked) as excinfo:
        move_deal(deal, "won", by=world.alice)
    stages = [stage for stage, _, _ in unmet(excinfo)]
    # Prospecting exit 2, Lead Qualification exit 5, Needs Analysis exit 5, Solution Presentation
    # 1 + 3, Proposal 2 + 3, Negotiation & Closing 1 + 3, Won entry 4 (3 handoff items + pricing).
    assert len(stages) == 2 + 5 + 5 + 4 + 5 + 4 + 4
    assert list(dict.fromkeys(stages)) == ["Prospecting", "Lead Qualification", "Needs Analysis",
                                           "Solution Presentation", "Proposal", "Negotiation & Closing", "Won"]
    assert ("Negotiation & Closing", "exit", "contract-signed") in unmet(excinfo)
    assert deal.history.count() == 1


def test_winning_from_the_middle_needs_the_stages_still_ahead_only(make_deal, gates, world):
    deal = gates.reach(make_deal(amount="5000"), "propose")
    assert [(u["stage"], u["key"]) for u in unmet_criteria(deal, deal.pipeline.stages.get(key="won"))] == [
        ("Propose", "meeting"), ("Won", "pricing")]
    gates.propose_exit(deal)
    gates.won_entry(deal)
    row = move_deal(deal, "won", by=world.alice)
    assert (row.kind, row.from_stage.key, row.override) == ("won", "propose", False)


def test_a_manager_override_with_a_reason_wins_from_the_first_stage_and_is_marked(make_deal, gates, world):
    deal = make_deal()
    gates.won_entry(deal)  # Won's own entry criteria hold; the stages on the way do not
    with pytest.raises(MoveBlocked):
        move_deal(deal, "won", by=world.bob)
    row = move_deal(deal, "won", by=world.bob, override_reason="Signed on paper at the trade fair")
    deal.refresh_from_db()
    assert deal.stage.key == "won" and deal.closed_at == row.at
    assert (row.kind, row.override, row.override_reason, row.by) == (
        "won", True, "Signed on paper at the trade fair", world.bob)


def test_a_rep_cannot_override_a_win_past_the_gates(make_deal, gates, world, snapshot):
    deal = make_deal()
    gates.won_entry(deal)
    before = snapshot(deal)
    with pytest.raises(NotAllowed):
        move_deal(deal, "won", by=world.alice, override_reason="trust me")
    assert snapshot(deal) == before


def test_a_lost_deal_won_again_needs_the_gates_from_the_stage_it_was_lost_in(make_deal, gates, world):
    deal = gates.reach(make_deal(amount="5000"), "propose")
    move_deal(deal, "lost", by=world.alice, lost_reason="price")
    with pytest.raises(MoveBlocked) as excinfo:
        move_deal(deal, "won", by=world.alice)
    assert unmet(excinfo) == [("Propose", "exit", "meeting"), ("Won", "entry", "pricing")]


def test_a_reopened_deal_is_won_only_through_the_gates_still_ahead(make_deal, world):
    deal = make_deal()
    move_deal(deal, "lost", by=world.alice, lost_reason="price")
    move_deal(deal, "qualify", by=world.alice)  # reopened, free: it was lost from Qualify
    with pytest.raises(MoveBlocked) as excinfo:
        move_deal(deal, "won", by=world.alice)
    assert [key for _, _, key in unmet(excinfo)] == ["amount", "budget", "decision-maker", "meeting", "pricing"]
    assert StageHistory.objects.filter(deal=deal).count() == 3


def test_the_api_answers_409_listing_each_unmet_criterion_of_the_path_with_its_stage(make_deal, world, client):
    from dealgate.api.services import create_token

    deal = make_deal()
    token = create_token(user=world.alice, name="test")[1]
    response = client.post(f"/api/deals/{deal.pk}/move", {"stage": "won"}, content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "move_blocked"
    assert [(u["stage"], u["phase"], u["key"]) for u in body["details"]["unmet"]] == [
        ("Qualify", "exit", "amount"), ("Qualify", "exit", "budget"),
        ("Propose", "entry", "decision-maker"), ("Propose", "exit", "meeting"),
        ("Won", "entry", "pricing"),
    ]


def test_the_cli_lists_each_unmet_criterion_of_the_path_with_its_stage(make_deal, world):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    deal = make_deal()
    with pytest.raises(CommandError) as excinfo:
        call_command("move", str(deal.pk), "won", "--user", "alice", stdout=io.StringIO())
    lines = str(excinfo.value).splitlines()
    assert lines[0] == f"{deal.title} cannot move to Won: 5 criteria not met."
    assert [line.split("[")[1].split("]")[0] for line in lines[1:]] == [
        "Qualify exit", "Qualify exit", "Propose entry", "Propose exit", "Won entry"]
