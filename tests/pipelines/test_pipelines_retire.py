"""Retiring a stage deals have been through (decision 036), reordering in one step, and stage names.

The shared pipeline: qualify -> propose -> negotiate -> won / lost. Propose asks a decision maker to
enter and a held meeting to leave.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dealgate.analytics.history import Scope
from dealgate.analytics.metrics import funnel
from dealgate.analytics.periods import parse_period
from dealgate.audit.models import AuditEntry
from dealgate.deals.board import BoardFilters, build_board
from dealgate.deals.models import StageHistory
from dealgate.deals.selectors import stages_a_new_deal_can_start_in
from dealgate.deals.services import create_deal, create_account, first_open_stage, move_deal
from dealgate.errors import NotAllowed, ValidationFailed
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import Criterion, Stage
from dealgate.web.pipeline_settings import (
    add_stage, move_stage, remove_stage, reorder_stages, restore_stage, retire_stage, update_stage,
)


def stage(pipeline, key):
    return Stage.objects.get(pipeline=pipeline, key=key)


def keys_in_order(pipeline):
    return list(pipeline.stages.order_by("position").values_list("key", flat=True))


@pytest.fixture
def free(pipeline):
    """The pipeline without criteria, so moves go through unless a test adds one."""
    Criterion.objects.filter(stage__pipeline=pipeline).delete()
    return pipeline


def test_a_stage_without_open_deals_retires_and_leaves_the_board_the_menus_and_new_deals(world, free, make_deal):
    deal = make_deal(amount=1000)
    move_deal(deal, "propose", by=world.alice)
    move_deal(deal, "negotiate", by=world.alice)  # propose now has history and no deal
    retired = retire_stage(stage(free, "propose"), by=world.dave)
    assert retired.retired_at is not None
    board = build_board(free, world.dave, BoardFilters())
    assert [c.stage.key for c in board.columns] == ["qualify", "negotiate"]
    assert [s.key for s in stages_a_new_deal_can_start_in(free.pk)] == ["qualify", "negotiate"]
    with pytest.raises(ValidationFailed, match="Propose is retired: it takes no deals"):
        move_deal(deal, "propose", by=world.dave)
    with pytest.raises(ValidationFailed, match="Propose is retired"):
        create_deal(by=world.alice, title="New", account=create_account(by=world.alice, name="N"), pipeline=free,
                    stage="propose")
    # its history stays as it was, and the audit log says who retired it
    assert StageHistory.objects.filter(to_stage__key="propose", deal=deal).count() == 1
    entry = AuditEntry.objects.get(object_type="stage", action="retired")
    assert (entry.by, entry.object_name) == (world.dave, "Propose")


def test_the_first_open_stage_retired_new_deals_start_in_the_next(world, free, make_deal):
    retire_stage(stage(free, "qualify"), by=world.dave)
    assert first_open_stage(free).key == "propose"
    assert make_deal().stage.key == "propose"


def test_retiring_a_stage_with_open_deals_needs_a_stage_to_move_them_to(world, free, make_deal):
    make_deal(), make_deal()
    with pytest.raises(ValidationFailed, match="2 open deals are in Qualify: choose the stage to move them to "
                                               r"\(propose, negotiate\)") as refused:
        retire_stage(stage(free, "qualify"), by=world.dave)
    assert "move_deals_to" in refused.value.details
    assert stage(free, "qualify").retired_at is None
    with pytest.raises(ValidationFailed, match="other than Qualify that is not retired"):
        retire_stage(stage(free, "qualify"), by=world.dave, move_deals_to="qualify")
    with pytest.raises(ValidationFailed, match="move_deals_to"):
        retire_stage(stage(free, "qualify"), by=world.dave, move_deals_to="won")


def test_the_open_deals_move_through_the_normal_service_written_to_history_with_author(world, free, make_deal):
    deals = [make_deal(amount=10), make_deal(amount=20)]
    retire_stage(stage(free, "qualify"), by=world.dave, move_deals_to="propose")
    rows = StageHistory.objects.filter(deal__in=deals, to_stage__key="propose")
    assert sorted((r.by, r.from_stage.key, r.override) for r in rows) == [(world.dave, "qualify", False)] * 2
    assert AuditEntry.objects.filter(object_type="deal", action="moved", by=world.dave).count() == 2
    assert AuditEntry.objects.get(action="retired").note == "2 open deals moved to Propose"


def test_a_move_the_gates_refuse_retires_nothing_and_names_the_deals(world, pipeline, make_deal):
    ready = make_deal(amount=1000, title="Ready")
    blocked = make_deal(amount=1000, title="Blocked")
    # Propose's entry criterion (a decision maker) holds for neither: both are refused, nothing moves
    with pytest.raises(ValidationFailed) as refused:
        retire_stage(stage(pipeline, "qualify"), by=world.dave, move_deals_to="propose")
    message = refused.value.message
    assert message.startswith("The stage Qualify was not retired and no deal moved: 2 of 2 open deals cannot "
                              "move to Propose")
    assert f"deal {blocked.pk} Blocked: " in message and "Budget confirmed" in message
    assert {r["deal"] for r in refused.value.details["refused"]} == {ready.pk, blocked.pk}
    assert stage(pipeline, "qualify").retired_at is None
    assert not StageHistory.objects.filter(to_stage__key="propose").exists()
    # A reason forces them, each move recorded as an override with it
    retire_stage(stage(pipeline, "qualify"), by=world.dave, move_deals_to="propose",
                 override_reason="Qualify folded into Propose")
    rows = StageHistory.objects.filter(to_stage__key="propose")
    assert {(r.override, r.override_reason) for r in rows} == {(True, "Qualify folded into Propose")}


def test_only_an_admin_retires_and_won_lost_and_the_last_open_stage_stay(world, free):
    with pytest.raises(NotAllowed):
        retire_stage(stage(free, "qualify"), by=world.bob)
    with pytest.raises(ValidationFailed, match="only open stages can be retired"):
        retire_stage(stage(free, "won"), by=world.dave)
    retire_stage(stage(free, "qualify"), by=world.dave)
    retire_stage(stage(free, "propose"), by=world.dave)
    with pytest.raises(ValidationFailed, match="Negotiate is the last open stage"):
        retire_stage(stage(free, "negotiate"), by=world.dave)
    with pytest.raises(ValidationFailed, match="already retired"):
        retire_stage(stage(free, "qualify"), by=world.dave)


def test_a_restored_stage_takes_deals_again(world, free, make_deal):
    deal = make_deal()
    retire_stage(stage(free, "propose"), by=world.dave)
    with pytest.raises(ValidationFailed, match="not retired"):
        restore_stage(stage(free, "negotiate"), by=world.dave)
    restore_stage(stage(free, "propose"), by=world.dave)
    assert [c.stage.key for c in build_board(free, world.dave, BoardFilters()).columns] == [
        "qualify", "propose", "negotiate"]
    assert move_deal(deal, "propose", by=world.alice).to_stage.key == "propose"
    assert AuditEntry.objects.get(action="restored").by == world.dave


def test_no_path_asks_for_the_criteria_of_a_retired_stage(world, pipeline, make_deal):
    """Propose asks a decision maker to enter and a held meeting to leave: retired, skipping it asks neither."""
    rules = PipelineRules.load(pipeline.pk)
    before = {s.key for s in rules.required(stage(pipeline, "qualify"), stage(pipeline, "negotiate"))}
    assert {"decision-maker", "meeting"} <= before
    retire_stage(stage(pipeline, "propose"), by=world.dave)
    rules = PipelineRules.load(pipeline.pk)
    after = {s.key for s in rules.required(stage(pipeline, "qualify"), stage(pipeline, "negotiate"))}
    assert after == before - {"decision-maker", "meeting"}
    assert rules.next_open_stage(stage(pipeline, "qualify")).key == "negotiate"


def test_the_funnel_keeps_a_retired_stages_row_and_its_counts_marked_retired(world, free, make_deal):
    deal = make_deal(amount=500)
    move_deal(deal, "propose", by=world.alice)
    move_deal(deal, "negotiate", by=world.alice)
    period = parse_period(str(timezone.localdate().year))
    cutoff = timezone.now() + dt.timedelta(seconds=1)
    before = {r["stage_id"]: r for r in funnel(Scope(pipeline_id=free.pk), period, cutoff)}
    retire_stage(stage(free, "propose"), by=world.dave)
    after = {r["stage_id"]: r for r in funnel(Scope(pipeline_id=free.pk), period, cutoff)}
    propose = stage(free, "propose").pk
    assert (after[propose]["stage"], after[propose]["retired"]) == ("Propose (retired)", True)
    assert after[propose]["entered"] == before[propose]["entered"] == 1
    assert {k: v for k, v in after[propose].items() if k not in ("stage", "retired")} == \
        {k: v for k, v in before[propose].items() if k not in ("stage", "retired")}


def test_removing_a_used_stage_points_to_retiring_it(world, free, make_deal):
    move_deal(make_deal(), "propose", by=world.alice)
    with pytest.raises(ValidationFailed, match="Retire it instead"):
        remove_stage(stage(free, "qualify"), by=world.dave)


def test_reorder_puts_every_open_stage_in_place_in_one_step(world, free, make_deal):
    Pipeline = type(free)
    Pipeline.objects.filter(pk=free.pk).update(single_threaded_from=2)
    reorder_stages(free, ["negotiate", "qualify", "propose"], by=world.dave)
    assert keys_in_order(free) == ["negotiate", "qualify", "propose", "won", "lost"]
    assert [stage(free, k).position for k in ("negotiate", "qualify", "propose")] == [1, 2, 3]
    assert AuditEntry.objects.filter(object_type="stage", action="moved").count() == 3
    move_stage(stage(free, "propose"), "up", by=world.dave)  # the arrows use the same service
    assert keys_in_order(free)[:3] == ["negotiate", "propose", "qualify"]


@pytest.mark.parametrize(("keys", "message"), [
    (["qualify", "propose"], "name every open stage once: negotiate missing"),
    (["qualify", "propose", "negotiate", "qualify"], "qualify named more than once"),
    (["qualify", "propose", "won"], "'won' is not an open stage"),
    (["qualify", "propose", "nowhere"], "has no open stage 'nowhere'"),
    (["qualify", "propose", "negotiate\x00"], "NUL"),
    (["qualify", "propose", "n" * 100_000], "is longer than 50 characters"),
    ([], "name the pipeline's open stages"),
])
def test_reorder_refuses_a_list_that_is_not_every_open_stage_once(world, free, keys, message):
    with pytest.raises(ValidationFailed, match=message):
        reorder_stages(free, keys, by=world.dave)
    assert keys_in_order(free) == ["qualify", "propose", "negotiate", "won", "lost"]


def test_two_stages_never_share_a_name_and_numbers_use_the_digits_0_to_9(world, free):
    with pytest.raises(ValidationFailed, match="already has a stage named 'Propose'"):
        add_stage(free, by=world.dave, name="  propose ", probability=30)
    with pytest.raises(ValidationFailed, match="already has a stage named 'Qualify'"):
        update_stage(stage(free, "propose"), by=world.dave, name="QUALIFY", probability=60, rot_days=None,
                     exit_question="")
    with pytest.raises(ValidationFailed, match="use the digits 0-9"):
        add_stage(free, by=world.dave, name="Demo", probability="٣٠")
    with pytest.raises(ValidationFailed, match="longer than 100 characters"):
        add_stage(free, by=world.dave, name="x" * 100_000, probability=30)
    with pytest.raises(ValidationFailed, match="NUL"):
        add_stage(free, by=world.dave, name="Demo\x00", probability=30)
    assert keys_in_order(free) == ["qualify", "propose", "negotiate", "won", "lost"]
