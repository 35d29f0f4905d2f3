"""What the gate asks in the cases the gate mutation run found untested: a closed deal won again, retired
stages on a path, the next move from every kind of stage, post-sale phases, and a pipeline with no Won stage.

Base pipeline (tests/conftest.py): qualify (exit: amount, budget) -> propose (entry: decision-maker;
exit: meeting) -> negotiate (none) -> won (entry: pricing) / lost. Each test adds what it needs and
states the expected values, worked out from the rules in gate.py's docstring and domain.md section 2.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import Criterion, Pipeline, Stage


def stages(rules) -> dict[str, Stage]:
    return {s.key: s for s in rules.stages.values()}


def keys(specs) -> list[str]:
    return [spec.key for spec in specs]


def checklist(stage: Stage, phase: str, key: str, position: int = 0) -> Criterion:
    return Criterion.objects.create(stage=stage, phase=phase, key=key, label=key.capitalize(),
                                    kind="checklist", config={"item": key, "group": "BANT"},
                                    position=position)


@pytest.fixture
def rules(pipeline):
    return PipelineRules.load(pipeline.pk)


def test_a_lost_deal_won_again_starts_from_the_open_stage_it_closed_from(rules):
    """Lost -> Won, closed from propose: propose's exit (meeting), negotiate's (none), then Won's entry
    (pricing) = [meeting, pricing]. Closed from negotiate: only Won's entry = [pricing]."""
    s = stages(rules)
    assert keys(rules.required(s["lost"], s["won"], reopened_from=s["propose"])) == ["meeting", "pricing"]
    assert keys(rules.required(s["lost"], s["won"], reopened_from=s["negotiate"])) == ["pricing"]


def test_a_closed_deal_with_no_stage_it_closed_from_meets_every_open_stage_when_won(pipeline):
    """Imported closed (no stage it closed from), Lost -> Won: from before the first open stage, so
    qualify's entry (intro) and exit (amount, budget), propose's entry (decision-maker) and exit
    (meeting), negotiate's (none), then Won's entry (pricing)."""
    checklist(pipeline.stages.get(key="qualify"), "entry", "intro")
    rules = PipelineRules.load(pipeline.pk)
    s = stages(rules)
    assert keys(rules.required(s["lost"], s["won"])) == [
        "intro", "amount", "budget", "decision-maker", "meeting", "pricing"]
    assert keys(rules.required(s["lost"], s["won"], reopened_from=None)) == [
        "intro", "amount", "budget", "decision-maker", "meeting", "pricing"]


@pytest.fixture
def retired_propose_rules(pipeline):
    """propose retired; negotiate given an entry criterion (terms) so the path goes on after propose."""
    checklist(pipeline.stages.get(key="negotiate"), "entry", "terms")
    Stage.objects.filter(pipeline=pipeline, key="propose").update(retired_at=timezone.now())
    return PipelineRules.load(pipeline.pk)


def test_moving_over_a_retired_stage_skips_its_criteria_and_not_the_stages_after_it(retired_propose_rules):
    """propose retired (decision 036: no path passes through it). qualify -> negotiate: qualify's exit
    (amount, budget), nothing of propose, negotiate's entry (terms). qualify -> won: the same, plus
    negotiate's exit (none) and Won's entry (pricing)."""
    s = stages(retired_propose_rules)
    assert keys(retired_propose_rules.required(s["qualify"], s["negotiate"])) == [
        "amount", "budget", "terms"]
    assert keys(retired_propose_rules.required(s["qualify"], s["won"])) == [
        "amount", "budget", "terms", "pricing"]


def test_a_deal_leaving_a_retired_stage_meets_its_exit_criteria(retired_propose_rules):
    """A lost deal that closed from propose (since retired) is asked propose's exit criteria when it
    leaves: reopened to negotiate, propose's exit (meeting) + negotiate's entry (terms); won, the same
    plus negotiate's exit (none) and Won's entry (pricing)."""
    s = stages(retired_propose_rules)
    assert keys(retired_propose_rules.required(s["lost"], s["negotiate"], reopened_from=s["propose"])) == [
        "meeting", "terms"]
    assert keys(retired_propose_rules.required(s["lost"], s["won"], reopened_from=s["propose"])) == [
        "meeting", "terms", "pricing"]


def test_a_post_sale_stage_is_its_own_direction_and_no_move_there_requires_anything(pipeline):
    """A move to a post-sale stage is "post_sale" (move_deal refuses it) whatever it starts from, and
    asks nothing here."""
    Stage.objects.create(pipeline=pipeline, key="onboard", name="Onboarding", position=6, kind="post",
                         probability=100)
    rules = PipelineRules.load(pipeline.pk)
    s = stages(rules)
    assert rules.direction(s["qualify"], s["onboard"]) == "post_sale"
    assert rules.direction(s["won"], s["onboard"]) == "post_sale"
    assert rules.required(s["qualify"], s["onboard"]) == []


def test_the_next_move_from_each_open_stage_is_the_next_open_stage_then_won(rules):
    """decision 029: the next open stage, or Won from the last, with what `required` asks of that move.
    qualify -> propose: qualify's exit + propose's entry = [amount, budget, decision-maker];
    propose -> negotiate: [meeting]; negotiate -> won: negotiate's exit (none) + Won's entry = [pricing]."""
    s = stages(rules)
    moves = {key: rules.next_move(s[key]) for key in ("qualify", "propose", "negotiate")}
    assert {key: (target.key, keys(specs)) for key, (target, specs) in moves.items()} == {
        "qualify": ("propose", ["amount", "budget", "decision-maker"]),
        "propose": ("negotiate", ["meeting"]),
        "negotiate": ("won", ["pricing"]),
    }


def test_a_closed_stage_has_no_next_move_only_its_own_exit_criteria(pipeline):
    """Won has no exit criteria: (None, []). Lost given one exit criterion (reviewed): (None, [reviewed])."""
    checklist(pipeline.stages.get(key="lost"), "exit", "reviewed")
    rules = PipelineRules.load(pipeline.pk)
    s = stages(rules)
    assert rules.next_move(s["won"]) == (None, [])
    target, specs = rules.next_move(s["lost"])
    assert (target, keys(specs)) == (None, ["reviewed"])


def test_post_sale_phases_are_the_handoff_record_then_each_post_sale_stage_in_order(pipeline):
    """decision 010. Won's entry: pricing (approval, position 0), delivery (checklist, 1), terms
    (checklist, 2): the handoff record is its checklist items in order, [delivery, terms]. Then
    onboard (position 6: entry kickoff, exit training) and adopt (position 7: no criteria), each its
    entry then exit criteria."""
    won = pipeline.stages.get(key="won")
    # Created out of order (terms before delivery, adopt before onboard): the order is by position.
    checklist(won, "entry", "terms", position=2)
    checklist(won, "entry", "delivery", position=1)
    Stage.objects.create(pipeline=pipeline, key="adopt", name="Adoption", position=7, kind="post",
                         probability=100)
    onboard = Stage.objects.create(pipeline=pipeline, key="onboard", name="Onboarding", position=6,
                                   kind="post", probability=100)
    checklist(onboard, "exit", "training")
    checklist(onboard, "entry", "kickoff")
    phases = PipelineRules.load(pipeline.pk).post_sale_phases()
    assert [(stage.key, title, keys(specs)) for stage, title, specs in phases] == [
        ("won", "Handoff record", ["delivery", "terms"]),
        ("onboard", "Onboarding", ["kickoff", "training"]),
        ("adopt", "Adoption", []),
    ]


@pytest.fixture
def no_won_rules(db):
    """A pipeline still being built one stage at a time (the admin allows it; `dealgate check` reports
    it): first (exit: ready) -> last (exit: done) and Lost, no Won stage."""
    pipeline = Pipeline.objects.create(key="no-won", name="No Won yet")
    first = Stage.objects.create(pipeline=pipeline, key="first", name="First", position=1, probability=20)
    last = Stage.objects.create(pipeline=pipeline, key="last", name="Last", position=2, probability=60)
    Stage.objects.create(pipeline=pipeline, key="lost", name="Lost", position=3, kind="lost", probability=0)
    checklist(first, "exit", "ready")
    checklist(last, "exit", "done")
    return PipelineRules.load(pipeline.pk)


def test_without_a_won_stage_the_last_open_stage_has_no_next_move_only_its_exit_criteria(no_won_rules):
    """first -> last: first's exit (ready) + last's entry (none). From last there is no next open stage
    and no Won: (None, last's exit criteria) = (None, [done])."""
    s = stages(no_won_rules)
    target, specs = no_won_rules.next_move(s["first"])
    assert (target.key, keys(specs)) == ("last", ["ready"])
    target, specs = no_won_rules.next_move(s["last"])
    assert (target, keys(specs)) == (None, ["done"])


def test_without_a_won_stage_there_is_no_post_sale_phase(no_won_rules):
    """No Won stage, so no handoff record, and no post-sale stage: no phases."""
    assert no_won_rules.post_sale_phases() == []


def test_a_deal_lost_from_a_stage_retired_since_at_the_end_meets_its_exit_criteria_when_won(pipeline):
    """negotiate, the last open stage, given an exit criterion (signed) and then retired. A deal lost
    from it, then won, is asked negotiate's exit (signed) and Won's entry (pricing), as a deal lost
    from a retired stage in between is (the test before). Before the fix, the path to Won stopped at
    the last open stage still in use (propose), so negotiate's exit was never asked: [pricing]."""
    checklist(pipeline.stages.get(key="negotiate"), "exit", "signed")
    Stage.objects.filter(pipeline=pipeline, key="negotiate").update(retired_at=timezone.now())
    rules = PipelineRules.load(pipeline.pk)
    s = stages(rules)
    assert keys(rules.required(s["lost"], s["won"], reopened_from=s["negotiate"])) == ["signed", "pricing"]
