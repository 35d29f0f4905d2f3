"""Tests written to kill the mutants of dealgate/pipelines/criteria.py that the other criteria tests
let live (`bench/mutation.sh criteria`; the equivalent ones are listed in docs/testing.md)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from dealgate.deals import services
from dealgate.pipelines.criteria import CriterionSpec, DealFacts, evaluate_one, load_facts, parse_config


@pytest.mark.parametrize("grouped", [False, True], ids=["rows", "grouped"])
def test_load_facts_keeps_every_counted_kind_of_activity(make_deal, world, grouped):
    """Criteria counting held meetings and any calls: a deal with one held meeting, two calls and one
    email gets the meeting and both calls in its facts (3 activities), not the email, and not only
    the kind named last."""
    deal = make_deal()
    for kind, outcome in (("meeting", "held"), ("call", ""), ("call", "no_show"), ("email", "replied")):
        services.log_activity(by=world.alice, kind=kind, subject=kind, deal=deal, outcome=outcome)
    for counted in ([("meeting", "held"), ("call", None)], [("call", None), ("meeting", "held")]):
        facts = load_facts([deal.pk], activities=counted, group_activities=grouped)[deal.pk]
        assert Counter(kind for kind, _, _ in facts.activities) == {"call": 2, "meeting": 1}


def test_load_facts_reads_only_the_deals_asked_for(make_deal, world):
    """Two deals, each with a ticked checklist item, an approval and linked contacts. Facts for the
    first alone hold its own: item 'budget' with its evidence, one approval, two contacts as
    champion; nothing of the other deal's (its item, approval and contact) leaks in or breaks it."""
    mine, other = make_deal(title="Mine"), make_deal(title="Other")
    services.record_checklist_answer(mine, "budget", by=world.alice, evidence="CFO: 50k")
    services.record_checklist_answer(other, "authority", by=world.alice, evidence="CEO signs")
    services.approve_condition(mine, "pricing_approved", by=world.bob)
    services.approve_condition(other, "pricing_approved", by=world.bob)
    services.link_contact(mine, services.create_contact(by=world.alice, name="Ann"), "champion", by=world.alice)
    services.link_contact(mine, services.create_contact(by=world.alice, name="Al"), "champion", by=world.alice)
    services.link_contact(other, services.create_contact(by=world.alice, name="Ben"), "user", by=world.alice)
    facts = load_facts([mine.pk])
    assert list(facts) == [mine.pk]
    assert facts[mine.pk].checklist == {"budget": "CFO: 50k"}
    assert facts[mine.pk].approvals == {"pricing_approved"}
    assert (facts[mine.pk].contact_roles, facts[mine.pk].contact_count) == (Counter({"champion": 2}), 2)


def test_a_ticked_box_equals_true_and_is_shown_as_true():
    """A custom yes/no field "renewal" that is ticked (True) meets `eq true` and `in [true]`; one left
    unticked (False) does not, and the reason shows it as "false", not Python's "False"."""
    def check(op, value, actual):
        spec = CriterionSpec("renewal", "Renewal", "field",
                             parse_config("field", {"field": "custom.renewal", "op": op, "value": value}))
        facts = DealFacts(fields={"custom_fields": {"renewal": actual}}, stage_entered_at=None)
        return evaluate_one(spec, facts)

    assert check("eq", "true", True).met and check("in", ["true"], True).met
    unmet = check("eq", "true", False)
    assert not unmet.met and re.search(r"\bfalse\b", unmet.missing) and "False" not in unmet.missing
    unmet = check("eq", "false", True)
    assert not unmet.met and re.search(r"\btrue\b", unmet.missing) and "True" not in unmet.missing


def test_an_empty_value_never_meets_a_comparison():
    """An empty field meets no comparison, not even "equal to the empty text", and a missing value
    (None) is not the text "None"."""
    def met(op, value, actual):
        spec = CriterionSpec("source", "Source", "field",
                             parse_config("field", {"field": "source", "op": op, "value": value}))
        return evaluate_one(spec, DealFacts(fields={"source": actual}, stage_entered_at=None)).met

    assert not met("eq", "", "") and not met("in", [""], "")
    assert not met("eq", "None", None) and not met("in", ["None"], None)
    assert met("eq", "web", "web")


def test_the_missing_words_say_a_an_or_how_many(db):
    """'an' before a vowel, 'a' before anything else, a number above one: what a rep reads under an
    unmet criterion. No activity and no contact on the deal yet."""
    def missing(kind, config):
        spec = CriterionSpec("k", "Label", kind, parse_config(kind, config))
        facts = DealFacts(fields={}, stage_entered_at=None, activities=[], contact_roles=Counter(), contact_count=0)
        return evaluate_one(spec, facts).missing

    assert missing("contact_role", {"role": "economic_buyer"}) == "Needs an economic buyer on the deal (none yet)"
    assert missing("contact_role", {"role": "champion"}) == "Needs a champion on the deal (none yet)"
    assert missing("contact_role", {"role": "influencer", "min_count": 2}) == \
        "Needs 2 influencers on the deal (none yet)"
    assert missing("activity", {"activity": "email", "scope": "ever"}) == "Needs an email (none yet)"
    assert missing("activity", {"activity": "note"}) == "Needs a note in this stage (none yet)"
    assert missing("activity", {"activity": "email", "min_count": 3}) == "Needs 3 emails in this stage (none yet)"
    assert missing("activity", {"activity": "meeting", "outcome": "on_site"}) == \
        "Needs a meeting marked “on site” in this stage (none yet)"


def test_a_result_carries_the_criterions_key_label_kind_stage_and_phase():
    """Every kind's result names the criterion it is about: key "k", label "Label", its kind, stage
    "Propose", phase "entry"; met with no words, or unmet with the words below (no deal facts at all:
    no approval, no contact). An approval names who confirms it: "a manager or admin"."""
    import datetime as dt

    from dealgate.pipelines.criteria import Result

    def result(kind, config, **facts):
        spec = CriterionSpec("k", "Label", kind, parse_config(kind, config), "Propose", "entry")
        entered = dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc)
        return evaluate_one(spec, DealFacts(fields={}, stage_entered_at=entered, **facts))

    assert result("approval", {"condition": "pricing"}) == Result(
        "k", "Label", "approval", False, "“Label” is not confirmed yet (a manager or admin confirms it)",
        "Propose", "entry")
    assert result("approval", {"condition": "pricing"}, approvals={"pricing"}) == Result(
        "k", "Label", "approval", True, "", "Propose", "entry")
    assert result("contact_role", {}) == Result(
        "k", "Label", "contact_role", False, "Needs a person from the buyer's side on the deal (none yet)",
        "Propose", "entry")


def test_an_activity_logged_at_the_instant_of_stage_entry_counts_in_the_stage():
    """Stage entered at 12:00:00 on 4 December; a meeting held at that very instant is in the stage
    (>=), one a microsecond earlier is not."""
    import datetime as dt

    entered = dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc)
    spec = CriterionSpec("k", "Label", "activity", parse_config("activity", {"activity": "meeting", "outcome": "held"}))

    def met(when):
        return evaluate_one(spec, DealFacts(fields={}, stage_entered_at=entered,
                                            activities=[("meeting", "held", when)])).met

    assert met(entered)
    assert not met(entered - dt.timedelta(microseconds=1))


def test_outcome_key_folds_case_separators_and_outer_underscores():
    """"_No-Show_" -> "no_show" (outer underscores off), "  Left   Voicemail " -> "left_voicemail",
    None and "" -> "" (no outcome, never the text "none")."""
    from dealgate.pipelines.criteria import outcome_key

    assert outcome_key("_No-Show_") == "no_show"
    assert outcome_key("  Left   Voicemail ") == "left_voicemail"
    assert outcome_key(None) == "" and outcome_key("") == ""


def test_a_bad_config_says_each_problem_in_its_own_words_by_part():
    """Two problems in one field config: the field "custom." without a key and operator gt without a
    value. The message joins both, each after its part and without pydantic's "Value error, "; the
    details hold the same words under each part, for the form."""
    from dealgate.pipelines.criteria import CriterionConfigError

    with pytest.raises(CriterionConfigError) as excinfo:
        parse_config("field", {"field": "custom.", "op": "gt"})
    assert str(excinfo.value) == ("field criterion: field: 'custom.' must be followed by the custom field's key; "
                                  "value: operator 'gt' needs a value")
    assert excinfo.value.details == {"field": ["'custom.' must be followed by the custom field's key"],
                                     "value": ["operator 'gt' needs a value"]}


@pytest.mark.parametrize(("field", "op", "value", "actual", "words"), [
    ("expected_close_date", "set", None, None, "expected close date is not filled in"),
    ("custom.security_review", "true", None, False, "security review is not ticked"),
    ("source", "eq", "web", None, "source is empty; needs equal to web"),
    ("source", "eq", "web", "", "source is empty; needs equal to web"),
    ("source", "in", ["referral", "inbound"], "outbound", "source is outbound; needs one of referral, inbound"),
    ("custom.renewal", "in", [True], False, "renewal is false; needs one of true"),
    ("amount", "gt", 0, 0, "amount is 0; needs greater than 0"),
    ("amount", "gte", 1000, "999.99", "amount is 999.99; needs at least 1000"),
    ("probability_override", "lt", 50, 50, "probability override is 50; needs less than 50"),
    ("probability_override", "lte", 50, 51, "probability override is 51; needs at most 50"),
])
def test_an_unmet_field_criterion_says_the_value_and_what_it_needs(field, op, value, actual, words):
    """The field's name with spaces (no "custom."), its value as a rep reads it ("empty" for none or "",
    "false" for an unticked box) and the operator's words with the configured value."""
    config = {"field": field, "op": op} | ({} if value is None else {"value": value})
    if field.startswith("custom."):
        fields = {"custom_fields": {field.removeprefix("custom."): actual}}
    else:
        fields = {field: actual}
    result = evaluate_one(CriterionSpec("k", "Label", "field", parse_config("field", config)),
                          DealFacts(fields=fields, stage_entered_at=None))
    assert (result.met, result.missing) == (False, words)
