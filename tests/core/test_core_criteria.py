"""Each criterion kind, on real deals: what makes it hold, what does not, and how it is explained."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from dealgate.deals import services
from dealgate.errors import Conflict, MoveBlocked, NotAllowed, NotFound
from dealgate.pipelines.criteria import (
    CriterionConfigError,
    CriterionSpec,
    DealFacts,
    evaluate_one,
    load_facts,
    parse_config,
)
from dealgate.pipelines.models import Criterion, CustomField


def spec(kind: str, **config) -> CriterionSpec:
    return CriterionSpec(key="c", label="C", kind=kind, config=parse_config(kind, config))


def check(deal, kind: str, **config):
    """Evaluate one criterion against the deal's facts as stored in the database."""
    return evaluate_one(spec(kind, **config), load_facts([deal.pk])[deal.pk])


# --- field ---------------------------------------------------------------------------------------

FIELD_CASES = [
    # (op, value, actual, met)
    ("set", None, Decimal("0.00"), True),
    ("set", None, None, False),
    ("set", None, "", False),
    ("true", None, True, True),
    ("true", None, "yes", False),
    ("eq", 1200, Decimal("1200.00"), True),
    ("eq", "inbound", "inbound", True),
    ("eq", "inbound", "outbound", False),
    ("in", ["referral", "inbound"], "inbound", True),
    ("in", ["referral", "inbound"], "signal", False),
    ("in", [100, 200], Decimal("200.00"), True),
    ("gt", 0, Decimal("0.01"), True),
    ("gt", 0, Decimal("0"), False),
    ("gt", 0, None, False),
    ("gte", "1000", Decimal("1000"), True),
    ("gte", 1000, Decimal("999.99"), False),
    ("lt", 50, 49, True),
    ("lt", 50, 50, False),
    ("lte", 50, 50, True),
    ("lte", 50, "fifty", False),
]


@pytest.mark.parametrize(("op", "value", "actual", "met"), FIELD_CASES)
def test_a_field_criterion_applies_its_operator(op, value, actual, met):
    config = {"field": "amount", "op": op} | ({} if value is None else {"value": value})
    facts = DealFacts(fields={"amount": actual}, stage_entered_at=timezone.now())
    result = evaluate_one(spec("field", **config), facts)
    assert result.met is met
    assert (result.missing == "") is met


@pytest.mark.parametrize(("op", "value", "actual", "met"), FIELD_CASES)
def test_a_custom_field_criterion_reads_the_deals_custom_fields(op, value, actual, met):
    config = {"field": "custom.score", "op": op} | ({} if value is None else {"value": value})
    facts = DealFacts(fields={"custom_fields": {"score": actual}}, stage_entered_at=timezone.now())
    assert evaluate_one(spec("field", **config), facts).met is met


def test_a_custom_field_criterion_gates_a_real_move(make_deal, gates, world, pipeline):
    CustomField.objects.create(key="security_review", label="Security review passed", type="boolean")
    CustomField.objects.create(key="seats", label="Seats", type="number")
    negotiate = pipeline.stages.get(key="negotiate")
    Criterion.objects.create(stage=negotiate, phase="entry", key="security", label="Security review passed",
                             kind="field", config={"field": "custom.security_review", "op": "true"}, position=1)
    Criterion.objects.create(stage=negotiate, phase="entry", key="seats", label="At least 10 seats",
                             kind="field", config={"field": "custom.seats", "op": "gte", "value": 10}, position=2)
    deal = gates.reach(make_deal(amount="5000"), "propose")
    gates.propose_exit(deal)
    services.update_deal(deal, by=world.alice, custom_fields={"security_review": False, "seats": 4})
    with pytest.raises(MoveBlocked) as excinfo:
        services.move_deal(deal, "negotiate", by=world.alice)
    assert {u["key"]: u["missing"] for u in excinfo.value.details["unmet"]} == {
        "security": "security review is not ticked",
        "seats": "seats is 4; needs at least 10",
    }
    services.update_deal(deal, by=world.alice, custom_fields={"security_review": True, "seats": 12})
    assert services.move_deal(deal, "negotiate", by=world.alice).kind == "forward"


def test_a_field_criterion_reads_built_in_fields_from_the_database(make_deal, world):
    deal = make_deal(amount="2500", source="referral", expected_close_date="2030-06-30")
    assert check(deal, "field", field="amount", op="gte", value=2500).met
    assert check(deal, "field", field="source", op="in", value=["referral", "inbound"]).met
    assert check(deal, "field", field="expected_close_date", op="set").met
    assert check(deal, "field", field="account", op="set").met
    assert not check(deal, "field", field="next_step", op="set").met
    services.set_next_step(deal, by=world.alice, text="Send the proposal", due="2030-01-15")
    assert check(deal, "field", field="next_step", op="set").met


# --- checklist -----------------------------------------------------------------------------------


def test_a_ticked_checklist_item_without_evidence_is_unmet_when_evidence_is_required(make_deal, world):
    deal = make_deal()
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="   ")
    result = check(deal, "checklist", item="budget")
    assert not result.met
    assert result.missing == "“C” is ticked but needs a note saying how you know"
    assert check(deal, "checklist", item="budget", require_evidence=False).met


def test_a_checklist_item_holds_with_evidence_and_stops_holding_when_unticked(make_deal, world):
    deal = make_deal()
    assert check(deal, "checklist", item="budget").missing == "“C” is not ticked yet"
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="Budget line 4711 approved")
    assert check(deal, "checklist", item="budget").met
    services.record_checklist_answer(deal, "budget", by=world.alice, checked=False, evidence="Budget cut")
    assert not check(deal, "checklist", item="budget").met


def test_it_refuses_a_checklist_item_that_is_not_an_item_key(make_deal, world):
    from dealgate.errors import ValidationFailed

    deal = make_deal()
    with pytest.raises(ValidationFailed) as excinfo:
        services.record_checklist_answer(deal, "Budget OK", by=world.alice, evidence="yes")
    assert "item" in excinfo.value.details


# --- activity ------------------------------------------------------------------------------------


def log(deal, kind="meeting", outcome="held", when=None):
    return services.log_activity(by=deal.owner, kind=kind, subject=f"{kind} {outcome}", deal=deal,
                                 outcome=outcome, occurred_at=when)


def test_an_activity_criterion_needs_the_right_kind_and_outcome(make_deal):
    deal = make_deal()
    log(deal, "call", "held")
    log(deal, "meeting", "no_show")
    result = check(deal, "activity", activity="meeting", outcome="held")
    assert not result.met
    assert result.missing == "Needs a meeting held with the buyer in this stage (none yet)"
    assert check(deal, "activity", activity="meeting").met  # any outcome
    log(deal, "meeting", "Held")  # stored as 'held'
    assert check(deal, "activity", activity="meeting", outcome="held").met
    assert check(deal, "activity", activity="meeting", outcome="Held").met


def test_an_activity_before_the_stage_was_entered_counts_only_for_scope_ever(make_deal):
    deal = make_deal()
    log(deal, when=deal.stage_entered_at - dt.timedelta(days=3))
    assert not check(deal, "activity", activity="meeting", outcome="held").met
    assert not check(deal, "activity", activity="meeting", outcome="held", scope="stage").met
    assert check(deal, "activity", activity="meeting", outcome="held", scope="ever").met


def test_an_activity_criterion_counts_up_to_min_count(make_deal):
    deal = make_deal()
    log(deal, "email", "replied")
    result = check(deal, "activity", activity="email", outcome="replied", min_count=2)
    assert result.missing == "Needs 2 replies to emails from the buyer in this stage (1 so far)"
    log(deal, "email", "replied")
    assert check(deal, "activity", activity="email", outcome="replied", min_count=2).met


def test_a_meeting_held_in_a_previous_stage_does_not_count_after_moving_back_in(make_deal, gates, world):
    deal = gates.reach(make_deal(amount="5000"), "propose")
    gates.propose_exit(deal)
    services.move_deal(deal, "qualify", by=world.alice)
    services.move_deal(deal, "propose", by=world.alice)
    with pytest.raises(MoveBlocked) as excinfo:
        services.move_deal(deal, "negotiate", by=world.alice)
    assert [u["key"] for u in excinfo.value.details["unmet"]] == ["meeting"]


# --- contact role --------------------------------------------------------------------------------


def test_a_contact_role_criterion_counts_contacts_with_that_role(make_deal, world):
    deal = make_deal()
    ann = services.create_contact(by=world.alice, name="Ann", account=deal.account)
    ben = services.create_contact(by=world.alice, name="Ben", account=deal.account)
    services.link_contact(deal, ann, "champion", by=world.alice)
    result = check(deal, "contact_role", role="decision_maker")
    assert result.missing == "Needs a decision maker on the deal (none yet)"
    services.link_contact(deal, ben, "decision_maker", by=world.alice)
    assert check(deal, "contact_role", role="decision_maker").met
    services.unlink_contact(deal, ben, "decision_maker", by=world.alice)
    assert not check(deal, "contact_role", role="decision_maker").met


def test_multi_threading_needs_two_different_contacts_whatever_their_roles(make_deal, world):
    deal = make_deal()
    ann = services.create_contact(by=world.alice, name="Ann", account=deal.account)
    services.link_contact(deal, ann, "champion", by=world.alice)
    services.link_contact(deal, ann, "decision_maker", by=world.alice)  # one person, two hats
    result = check(deal, "contact_role", min_count=2)
    assert result.missing == "Needs 2 people from the buyer's side on the deal (1 so far)"
    ben = services.create_contact(by=world.alice, name="Ben", account=deal.account)
    services.link_contact(deal, ben, "user", by=world.alice)
    assert check(deal, "contact_role", min_count=2).met


# --- approval ------------------------------------------------------------------------------------


def test_only_the_roles_the_criterion_names_may_approve(make_deal, world):
    deal = make_deal()
    with pytest.raises(NotAllowed) as excinfo:
        services.approve_condition(deal, "pricing_approved", by=world.alice)
    assert excinfo.value.details["approver_roles"] == ["admin", "manager"]
    assert not check(deal, "approval", condition="pricing_approved").met

    approval = services.approve_condition(deal, "pricing_approved", by=world.bob, note="Discount 10% ok")
    assert (approval.approved_by, approval.note) == (world.bob, "Discount 10% ok")
    assert check(deal, "approval", condition="pricing_approved").met


def test_a_second_approval_of_the_same_condition_is_a_conflict(make_deal, world):
    deal = make_deal()
    services.approve_condition(deal, "pricing_approved", by=world.bob)
    version = type(deal).objects.get(pk=deal.pk).version
    with pytest.raises(Conflict):
        services.approve_condition(deal, "pricing_approved", by=world.dave)
    assert type(deal).objects.get(pk=deal.pk).version == version
    assert deal.approvals.count() == 1


def test_a_manager_of_another_team_or_an_unknown_condition_is_refused(make_deal, world):
    from dealgate.people.services import create_user

    deal = make_deal()
    west_manager = create_user(username="walt", password=None, role="manager", team=world.west)
    with pytest.raises(NotAllowed):
        services.approve_condition(deal, "pricing_approved", by=west_manager)
    with pytest.raises(NotFound):
        services.approve_condition(deal, "free_lunch", by=world.bob)
    assert deal.approvals.count() == 0


def test_a_rep_may_approve_when_the_criterion_allows_reps(make_deal, world, pipeline):
    Criterion.objects.create(stage=pipeline.stages.get(key="won"), phase="entry", key="delivery",
                             label="Delivery date confirmed", kind="approval",
                             config={"condition": "delivery_confirmed", "approver_roles": ["rep", "manager"]})
    deal = make_deal()
    services.approve_condition(deal, "delivery_confirmed", by=world.alice)
    assert check(deal, "approval", condition="delivery_confirmed").met


# --- malformed configs ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "config", "names"), [
    ("field", {"field": "amount", "op": "gt"}, "value"),
    ("field", {"field": "amount", "op": "gte", "value": "lots"}, "value"),
    ("field", {"field": "amount", "op": "lt", "value": "NaN"}, "value"),
    ("field", {"field": "amount", "op": "in", "value": "inbound"}, "value"),
    ("field", {"field": "amount", "op": "between", "value": 1}, "op"),
    ("field", {"field": "budget"}, "field"),
    ("field", {"field": "custom."}, "field"),
    ("field", {"op": "set"}, "field"),
    ("checklist", {"item": "Budget OK"}, "item"),
    ("checklist", {"item": "budget", "evidence": True}, "evidence"),
    ("activity", {"activity": "lunch"}, "activity"),
    ("activity", {"activity": "meeting", "scope": "month"}, "scope"),
    ("activity", {"activity": "meeting", "min_count": 0}, "min_count"),
    ("contact_role", {"role": "sponsor"}, "role"),
    ("approval", {"condition": "pricing", "approver_roles": ["intern"]}, "approver_roles"),
    ("approval", {"condition": "pricing", "approver_roles": []}, "approver_roles"),
    ("approval", {}, "condition"),
])
def test_a_malformed_config_is_refused_with_a_message_naming_the_field(kind, config, names):
    with pytest.raises(CriterionConfigError) as excinfo:
        parse_config(kind, config)
    assert re.search(rf"(: |; ){names}(\.\d+)?: ", str(excinfo.value))
    assert str(excinfo.value).startswith(f"{kind} criterion: ")


def test_an_unknown_kind_or_a_non_object_config_is_refused():
    with pytest.raises(CriterionConfigError, match="unknown criterion kind 'vibes'; use one of field, checklist"):
        parse_config("vibes", {})
    with pytest.raises(CriterionConfigError, match="must be a JSON object, not list"):
        parse_config("field", ["amount"])


def test_a_broken_criterion_row_stops_the_move_and_says_where_it_is(make_deal, world, pipeline, snapshot):
    Criterion.objects.create(stage=pipeline.stages.get(key="negotiate"), phase="entry", key="broken",
                             label="Broken", kind="field", config={"field": "amount", "op": "gt"})
    deal = make_deal()
    before = snapshot(deal)
    with pytest.raises(CriterionConfigError) as excinfo:
        services.move_deal(deal, "lost", by=world.alice, lost_reason="price")
    assert "'Negotiate'" in str(excinfo.value) and "'broken'" in str(excinfo.value) and "value:" in str(excinfo.value)
    assert snapshot(deal) == before


def test_the_model_clean_reports_a_bad_config_on_the_config_field(pipeline):
    from django.core.exceptions import ValidationError

    row = Criterion(stage=pipeline.stages.first(), phase="exit", key="x", label="X", kind="activity",
                    config={"activity": "lunch"})
    with pytest.raises(ValidationError) as excinfo:
        row.clean()
    assert list(excinfo.value.message_dict) == ["config"]


def test_load_facts_uses_a_fixed_number_of_queries_for_many_deals(make_deal, world, django_assert_num_queries):
    deals = [make_deal(amount="100") for _ in range(5)]
    for deal in deals:
        services.record_checklist_answer(deal, "budget", by=world.alice, evidence="ok")
        log(deal)
    with django_assert_num_queries(5):
        facts = load_facts([d.pk for d in deals])
    assert all(f.checklist == {"budget": "ok"} and len(f.activities) == 1 for f in facts.values())


def test_activity_criteria_read_as_a_person_would_say_them():
    """The brief's example: one email with outcome 'replied', none logged -> "a reply to an email from the buyer";
    an outcome without its own words is quoted; "a"/"an" follows the noun; counts above one use the plural."""
    from dealgate.pipelines.criteria import activity_words

    assert activity_words("email", "replied") == "a reply to an email from the buyer"
    assert activity_words("meeting", "held", 3) == "3 meetings held with the buyer"
    assert activity_words("email", None) == "an email"
    assert activity_words("call", "busy_line", 2) == "2 calls marked “busy line”"


def test_an_unmet_email_reply_criterion_says_none_yet(make_deal):
    """No activity logged on a fresh deal: found 0 -> "(none yet)", and no internal words (outcome, 'replied')."""
    deal = make_deal()
    result = check(deal, "activity", activity="email", outcome="replied")
    assert result.missing == "Needs a reply to an email from the buyer in this stage (none yet)"
