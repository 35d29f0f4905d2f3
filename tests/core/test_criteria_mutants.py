"""Tests written to kill the mutants of dealgate/pipelines/criteria.py that the other criteria tests
let live (`bench/mutation.sh criteria`; the equivalent ones are listed in docs/testing.md)."""

from __future__ import annotations

from collections import Counter

import pytest

from dealgate.deals import services
from dealgate.pipelines.criteria import load_facts


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
    """Two deals, each with a ticked checklist item, an approval and a linked contact. Facts for the
    first alone hold its own: item 'budget' with its evidence, one approval, one contact as
    champion; nothing of the other deal's (its item, approval and contact) leaks in or breaks it."""
    mine, other = make_deal(title="Mine"), make_deal(title="Other")
    services.record_checklist_answer(mine, "budget", by=world.alice, evidence="CFO: 50k")
    services.record_checklist_answer(other, "authority", by=world.alice, evidence="CEO signs")
    services.approve_condition(mine, "pricing_approved", by=world.bob)
    services.approve_condition(other, "pricing_approved", by=world.bob)
    services.link_contact(mine, services.create_contact(by=world.alice, name="Ann"), "champion", by=world.alice)
    services.link_contact(other, services.create_contact(by=world.alice, name="Ben"), "user", by=world.alice)
    facts = load_facts([mine.pk])
    assert list(facts) == [mine.pk]
    assert facts[mine.pk].checklist == {"budget": "CFO: 50k"}
    assert facts[mine.pk].approvals == {"pricing_approved"}
    assert (facts[mine.pk].contact_roles, facts[mine.pk].contact_count) == (Counter({"champion": 1}), 1)
