"""What a move must meet, asked of the rules directly (dealgate.pipelines.gate.PipelineRules).

Test pipeline: qualify (exit: amount, budget) -> propose (entry: decision-maker; exit: meeting)
-> negotiate (none) -> won (entry: pricing) / lost.
"""

from __future__ import annotations

import pytest

from dealgate.pipelines.gate import PipelineRules, rules_version
from dealgate.pipelines.models import Stage
from dealgate.pipelines.services import create_pipeline_from_template


@pytest.fixture
def rules(pipeline):
    return PipelineRules.load(pipeline.pk)


def stages(rules) -> dict[str, Stage]:
    return {s.key: s for s in rules.stages.values()}


def keys(specs) -> list[str]:
    return [spec.key for spec in specs]


def test_moving_on_from_a_stage_needs_its_exit_criteria_not_its_entry_criteria_again(rules):
    s = stages(rules)
    assert keys(rules.required(s["propose"], s["negotiate"])) == ["meeting"]


def test_skipping_stages_needs_every_skipped_stages_entry_and_exit_in_order(rules):
    s = stages(rules)
    assert keys(rules.required(s["qualify"], s["negotiate"])) == ["amount", "budget", "decision-maker", "meeting"]
    assert keys(rules.required(s["qualify"], s["propose"])) == ["amount", "budget", "decision-maker"]


def test_staying_put_or_moving_back_needs_nothing(rules):
    s = stages(rules)
    assert rules.required(s["propose"], s["propose"]) == []
    assert rules.required(s["negotiate"], s["qualify"]) == []
    assert rules.direction(s["negotiate"], s["qualify"]) == "backward"


def test_won_needs_the_whole_path_still_ahead_and_lost_needs_nothing(rules):
    s = stages(rules)
    # qualify's exit, propose's entry and exit (negotiate has none), then Won's entry: no shortcut.
    assert keys(rules.required(s["qualify"], s["won"])) == ["amount", "budget", "decision-maker", "meeting", "pricing"]
    assert keys(rules.required(s["negotiate"], s["won"])) == ["pricing"]
    assert rules.required(s["propose"], s["lost"]) == []


def test_reopening_to_the_stage_a_deal_closed_from_or_before_it_is_free(rules):
    s = stages(rules)
    assert rules.direction(s["lost"], s["propose"]) == "reopened"
    assert rules.required(s["lost"], s["propose"], reopened_from=s["propose"]) == []
    assert rules.required(s["lost"], s["qualify"], reopened_from=s["propose"]) == []


def test_reopening_past_the_stage_a_deal_closed_from_needs_what_moving_on_from_there_would(rules):
    s = stages(rules)
    assert keys(rules.required(s["lost"], s["negotiate"], reopened_from=s["propose"])) == ["meeting"]


def test_a_reopened_from_stage_changes_nothing_for_a_move_that_is_not_a_reopening(rules):
    s = stages(rules)
    assert keys(rules.required(s["qualify"], s["negotiate"], reopened_from=s["propose"])) == [
        "amount", "budget", "decision-maker", "meeting"]


def test_it_refuses_a_stage_of_another_pipeline_on_either_side(rules, db):
    other = create_pipeline_from_template("b2b-7")
    foreign = other.stages.order_by("position").first()
    s = stages(rules)
    for from_stage, to_stage in ((foreign, s["propose"]), (s["propose"], foreign)):
        with pytest.raises(ValueError, match="are not both stages of this pipeline"):
            rules.required(from_stage, to_stage)


def test_the_next_open_stage_skips_nothing_and_ends_before_won(rules):
    s = stages(rules)
    assert rules.next_open_stage(s["qualify"]).key == "propose"
    assert rules.next_open_stage(s["propose"]).key == "negotiate"
    assert rules.next_open_stage(s["negotiate"]) is None


def test_a_pipeline_that_does_not_exist_has_no_rules_version(db):
    assert rules_version(987654321) is None


def test_the_same_rules_object_is_served_while_the_version_holds(pipeline):
    first = PipelineRules.load(pipeline.pk)
    assert PipelineRules.load(pipeline.pk) is first
