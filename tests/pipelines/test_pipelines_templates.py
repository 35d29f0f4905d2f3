"""The three shipped templates: their shape, their numbers, and that a deal can really be won."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from dealgate.deals import services as deal_services
from dealgate.deals.models import StageHistory
from dealgate.errors import MoveBlocked, ValidationFailed
from dealgate.pipelines.criteria import (
    ActivityConfig,
    ApprovalConfig,
    ChecklistConfig,
    ContactRoleConfig,
    CriterionSpec,
    FieldConfig,
)
from dealgate.pipelines.gate import PipelineRules
from dealgate.pipelines.models import Criterion, LostReason, Pipeline
from dealgate.pipelines.services import TEMPLATE_NAMES, create_pipeline_from_template, ensure_lost_reasons

ALL_KINDS = {"field", "checklist", "activity", "contact_role", "approval"}


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_it_creates_every_template_with_open_stages_first_then_won_post_sale_and_lost(db, template):
    pipeline = create_pipeline_from_template(template)
    kinds = list(pipeline.stages.order_by("position").values_list("kind", flat=True))
    assert pipeline.key == template and pipeline.template == template
    selling = kinds.index("won")
    assert set(kinds[:selling]) == {"open"} and kinds[-1] == "lost" and set(kinds[selling + 1:-1]) <= {"post"}
    assert list(pipeline.stages.order_by("position").values_list("position", flat=True)) == list(
        range(1, len(kinds) + 1))


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_every_open_stage_has_an_exit_question_goal_guidance_and_idle_limit(db, template):
    pipeline = create_pipeline_from_template(template)
    for stage in pipeline.stages.filter(kind="open"):
        assert stage.exit_question.endswith("?"), stage.key
        assert stage.goal and stage.guidance, stage.key
        assert stage.rot_days and stage.rot_days > 0, stage.key
        assert stage.criteria.filter(phase="exit").exists(), f"{stage.key} has no exit criteria"


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_probabilities_rise_through_the_open_stages_and_close_at_100_and_0(db, template):
    pipeline = create_pipeline_from_template(template)
    open_probs = list(pipeline.stages.filter(kind="open").order_by("position").values_list("probability", flat=True))
    assert open_probs == sorted(open_probs) and len(set(open_probs)) == len(open_probs)
    assert 0 < open_probs[0] and open_probs[-1] < 100
    assert pipeline.stages.get(kind="won").probability == 100
    assert pipeline.stages.get(kind="lost").probability == 0


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_each_template_holds_criteria_of_all_five_kinds(db, template):
    pipeline = create_pipeline_from_template(template)
    kinds = set(Criterion.objects.filter(stage__pipeline=pipeline).values_list("kind", flat=True))
    assert kinds == ALL_KINDS


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_winning_needs_the_handoff_record_and_approved_conditions(db, template):
    won = create_pipeline_from_template(template).stages.get(kind="won")
    entry = {c.key: c.kind for c in won.criteria.filter(phase="entry")}
    assert entry["agreed-terms"] == "checklist" and entry["delivery-expectations"] == "checklist"
    assert "approval" in entry.values()


def test_b2b_7_uses_the_reference_probabilities(db):
    pipeline = create_pipeline_from_template("b2b-7")
    probs = dict(pipeline.stages.values_list("key", "probability"))
    assert probs["lead-qualification"] == 20
    assert probs["proposal"] == 60
    assert probs["negotiation-closing"] == 80
    assert pipeline.single_threaded_from == pipeline.stages.get(key="solution-presentation").position


def test_b2b_7_qualification_asks_the_four_bant_questions(db):
    stage = create_pipeline_from_template("b2b-7").stages.get(key="lead-qualification")
    items = {c.config["item"] for c in stage.criteria.filter(kind="checklist", config__group="BANT")}
    assert items == {"budget", "authority", "need", "timeline"}


def test_b2b_9_covers_all_eight_meddpicc_items(db):
    pipeline = create_pipeline_from_template("b2b-9")
    items = {c.config["item"] for c in Criterion.objects.filter(stage__pipeline=pipeline, config__group="MEDDPICC")}
    assert items == {"metrics", "economic_buyer", "decision_criteria", "decision_process", "paper_process",
                     "identify_pain", "champion", "competition"}


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_a_multi_threading_gate_asks_for_two_contacts_of_any_role(db, template):
    pipeline = create_pipeline_from_template(template)
    configs = Criterion.objects.filter(stage__pipeline=pipeline, kind="contact_role").values_list("config", flat=True)
    assert {"role": None, "min_count": 2} in list(configs)


def test_distributor_5_gates_winning_on_the_four_close_conditions(db):
    won = create_pipeline_from_template("distributor-5").stages.get(kind="won")
    conditions = {c.config["condition"]: c.config["approver_roles"]
                  for c in won.criteria.filter(kind="approval")}
    assert set(conditions) == {"pricing_approved", "inventory_available", "delivery_date_confirmed",
                               "credit_approved"}
    assert "rep" not in conditions["pricing_approved"] and "rep" not in conditions["credit_approved"]


def test_the_same_template_can_be_used_twice_under_different_keys(db):
    first = create_pipeline_from_template("b2b-7")
    second = create_pipeline_from_template("b2b-7", key="b2b-7-emea", name="EMEA new business")
    assert second.name == "EMEA new business" and second.stages.count() == first.stages.count()
    assert Pipeline.objects.count() == 2


def test_it_refuses_a_duplicate_key_and_suggests_another(db):
    create_pipeline_from_template("b2b-9", key="sales")
    with pytest.raises(ValidationFailed) as refused:
        create_pipeline_from_template("distributor-5", key="sales")
    assert "--key" in refused.value.message and "sales" in refused.value.message
    assert Pipeline.objects.count() == 1 and Pipeline.objects.get().template == "b2b-9"


def test_it_refuses_an_unknown_template_and_lists_the_valid_ones(db):
    with pytest.raises(ValidationFailed) as refused:
        create_pipeline_from_template("b2b-8")
    for name in ("b2b-7", "b2b-9", "distributor-5"):
        assert name in refused.value.message
    assert not Pipeline.objects.exists()


def test_lost_reasons_are_seeded_once_and_edits_survive(db):
    create_pipeline_from_template("b2b-7")
    LostReason.objects.filter(key="price").update(label="Too expensive")
    ensure_lost_reasons()
    create_pipeline_from_template("b2b-9")
    keys = list(LostReason.objects.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) >= 6
    assert {"price", "no-budget", "competitor", "no-decision", "timing", "bad-fit"} <= set(keys)
    assert LostReason.objects.get(key="price").label == "Too expensive"


# Walking a deal through a whole template ------------------------------------------------------------


def satisfy(deal, spec: CriterionSpec, world) -> None:
    """Make one criterion true the way a rep (or a manager, for approvals) would: through services."""
    rep, cfg = world.alice, spec.config
    if isinstance(cfg, FieldConfig):
        if cfg.field in ("next_step", "next_step_due"):
            deal_services.set_next_step(deal, by=rep, text="Call the buyer", due=dt.date.today() + dt.timedelta(days=3))
        elif cfg.field == "amount":
            deal_services.update_deal(deal, by=rep, amount=Decimal(str(cfg.value or 0)) + 25_000)
        elif cfg.field == "expected_close_date":
            deal_services.update_deal(deal, by=rep, expected_close_date=dt.date.today() + dt.timedelta(days=60))
        elif cfg.op == "in":
            deal_services.update_deal(deal, by=rep, **{cfg.field: cfg.value[-1]})
        else:
            raise AssertionError(f"the walk does not know how to satisfy {cfg}")
    elif isinstance(cfg, ChecklistConfig):
        deal_services.record_checklist_answer(deal, cfg.item, by=rep, evidence=f"Evidence for {cfg.item}")
    elif isinstance(cfg, ActivityConfig):
        for _ in range(cfg.min_count):
            deal_services.log_activity(by=rep, kind=cfg.activity, subject=spec.label, deal=deal,
                                       outcome=cfg.outcome or "", occurred_at=timezone.now())
    elif isinstance(cfg, ContactRoleConfig):
        for n in range(cfg.min_count):
            contact = deal_services.create_contact(by=rep, name=f"{spec.key} {n}", account=deal.account)
            deal_services.link_contact(deal, contact, cfg.role or "influencer", by=rep)
    elif isinstance(cfg, ApprovalConfig):
        approver = world.alice if "rep" in cfg.approver_roles else world.bob
        deal_services.approve_condition(deal, cfg.condition, by=approver, note="Checked")


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_a_deal_walks_every_stage_to_won_once_each_gate_is_satisfied(world, template):
    pipeline = create_pipeline_from_template(template)
    account = deal_services.create_account(by=world.alice, name="Hartmann Tools")
    deal = deal_services.create_deal(by=world.alice, title="Hartmann rollout", account=account, pipeline=pipeline)
    stages = list(pipeline.stages.filter(kind__in=["open", "won"]).order_by("position"))
    rules = PipelineRules.load(pipeline.pk)
    assert deal.stage == stages[0]

    for current, target in zip(stages, stages[1:]):
        required = rules.required(current, target)
        with pytest.raises(MoveBlocked) as blocked:
            deal_services.move_deal(deal, target, by=world.alice)
        unmet = {(u["stage"], u["phase"], u["key"]) for u in blocked.value.unmet}
        assert unmet <= {(s.stage_name, s.phase, s.key) for s in required}
        satisfied = []  # winning may ask for one condition twice (a stage's exit and Won's entry)
        for spec in required:
            if (spec.stage_name, spec.phase, spec.key) in unmet and spec.config not in satisfied:
                satisfy(deal, spec, world)
                satisfied.append(spec.config)
        assert deal_services.unmet_criteria(deal, target) == []
        deal_services.move_deal(deal, target, by=world.alice)

    deal.refresh_from_db()
    assert deal.stage.kind == "won" and deal.closed_at is not None
    walked = list(StageHistory.objects.filter(deal=deal).order_by("at", "id").values_list("to_stage__key", "override"))
    assert walked == [(s.key, False) for s in stages]
