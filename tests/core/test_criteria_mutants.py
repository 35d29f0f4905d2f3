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
