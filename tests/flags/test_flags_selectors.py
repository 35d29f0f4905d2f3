"""deal_list and deal_detail: the reads shared by board, API and CLI, with the same visibility rules."""

import pytest
from django.contrib.auth.models import AnonymousUser

from dealgate.deals import services
from dealgate.deals.selectors import deal_detail, deal_list
from dealgate.errors import NotAllowed, NotFound, ValidationFailed


@pytest.fixture
def deals(world, make_deal):
    """alice: 'Acme renewal' (open) and 'Lost cause' (lost); bob: 'Bob big deal'; carol: 'West deal' (won)."""
    acme = services.create_account(by=world.alice, name="Acme Corp")
    lost = make_deal(title="Lost cause")
    services.move_deal(lost, "lost", by=world.alice, lost_reason="price")
    won = make_deal(owner=world.carol, title="West deal")
    services.move_deal(won, "won", by=world.dave, override_reason="signed on paper")
    return {
        "acme": make_deal(title="Acme renewal", account=acme),
        "lost": lost,
        "bob": make_deal(owner=world.bob, title="Bob big deal"),
        "won": won,
    }


def titles(queryset):
    return sorted(d.title for d in queryset)


def test_each_user_lists_only_the_deals_they_may_see(world, deals):
    assert titles(deal_list(world.alice, status="all")) == ["Acme renewal", "Bob big deal", "Lost cause"]
    assert titles(deal_list(world.carol, status="all")) == ["West deal"]
    assert titles(deal_list(world.dave, status="all")) == ["Acme renewal", "Bob big deal", "Lost cause", "West deal"]
    assert titles(deal_list(AnonymousUser(), status="all")) == []
    assert len(deal_list(None, status="all")) == 4  # the system (automation, CLI without --user)


def test_it_filters_by_status(world, deals):
    assert titles(deal_list(world.dave)) == ["Acme renewal", "Bob big deal"]
    assert titles(deal_list(world.dave, status="won")) == ["West deal"]
    assert titles(deal_list(world.dave, status="lost")) == ["Lost cause"]
    with pytest.raises(ValidationFailed, match="status: 'closed' is not one of open, won, lost, all"):
        deal_list(world.dave, status="closed")


def test_it_filters_by_pipeline_stage_owner_and_search(world, deals, pipeline):
    assert titles(deal_list(world.dave, pipeline="test", owner="bob")) == ["Bob big deal"]
    assert titles(deal_list(world.dave, pipeline=pipeline, owner=world.alice)) == ["Acme renewal"]
    assert titles(deal_list(world.dave, stage="lost", status="all")) == ["Lost cause"]
    assert titles(deal_list(world.dave, search="acme")) == ["Acme renewal"]  # account name
    assert titles(deal_list(world.dave, search="BIG")) == ["Bob big deal"]  # title
    assert titles(deal_list(world.dave, pipeline="no-such-pipeline")) == []


def test_it_pages_newest_first(world, deals):
    everything = [d.title for d in deal_list(world.dave, status="all")]
    assert everything == ["Bob big deal", "Acme renewal", "West deal", "Lost cause"]
    assert [d.title for d in deal_list(world.dave, status="all", limit=2, offset=1)] == everything[1:3]
    with pytest.raises(ValidationFailed):
        deal_list(world.dave, limit=0)


def test_a_listed_page_costs_one_query_with_its_joins(world, deals, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = [(d.stage.name, d.pipeline.key, d.owner.username, d.account.name) for d in deal_list(world.dave)]
    assert ("Qualify", "test", "alice", "Acme Corp") in rows


def test_deal_detail_gathers_everything_the_deal_page_shows(world, deals):
    deal = deals["acme"]
    buyer = services.create_contact(by=world.alice, name="Bea Buyer", account=deal.account)
    services.link_contact(deal, buyer, "decision_maker", by=world.alice)
    services.update_deal(deal, by=world.alice, amount="12000")
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="CFO confirmed")
    services.log_activity(by=world.alice, kind="meeting", subject="Proposal walkthrough", deal=deal,
                          outcome="held", contacts=[buyer])
    services.move_deal(deal, "propose", by=world.alice)
    services.move_deal(deal, "negotiate", by=world.bob, override_reason="buyer asked for terms today")
    services.approve_condition(deal, "pricing_approved", by=world.bob, note="10% discount ok")

    detail = deal_detail(deal.pk, world.alice)
    assert detail.deal.title == "Acme renewal" and detail.deal.stage.key == "negotiate"
    assert [s.key for s in detail.stages] == ["qualify", "propose", "negotiate", "won", "lost"]
    assert [(c.contact.name, c.get_role_display()) for c in detail.contacts] == [("Bea Buyer", "Decision maker")]
    assert [(h.from_stage and h.from_stage.name, h.to_stage.name, h.by.username, h.override)
            for h in detail.history] == [
        (None, "Qualify", "alice", False), ("Qualify", "Propose", "alice", False), ("Propose", "Negotiate", "bob", True),
    ]
    assert detail.history[-1].override_reason == "buyer asked for terms today"
    assert [(c.field, c.old_value, c.new_value) for c in detail.field_changes] == [("amount", "", "12000.00")]
    assert [(a.subject, [c.name for c in a.contacts.all()]) for a in detail.activities] == [
        ("Proposal walkthrough", ["Bea Buyer"])]
    assert [(a.condition, a.approved_by.username) for a in detail.approvals] == [("pricing_approved", "bob")]
    assert [(c.item, c.evidence) for c in detail.checklist] == [("budget", "CFO confirmed")]
    # Negotiate has no exit criteria; its next move is Won, whose entry asks for pricing approved (bob did)
    assert (detail.progress.met, detail.progress.total, detail.progress.next_stage) == (1, 1, "Won")
    assert "no_next_step" in {f.code for f in detail.flags}
    assert detail.can_edit is True


def test_deal_detail_refuses_a_deal_of_another_team(world, deals):
    with pytest.raises(NotAllowed, match="You may not see deal .*: it belongs to another team"):
        deal_detail(deals["acme"].pk, world.carol)
    assert deal_detail(deals["acme"].pk, world.bob).can_edit is True  # her manager


def test_deal_detail_answers_not_found_for_a_missing_or_malformed_id(world, deals):
    with pytest.raises(NotFound, match="There is no deal 999999."):
        deal_detail(999999, world.dave)
    with pytest.raises(NotFound, match="deal numbers are whole numbers"):
        deal_detail("abc", world.dave)
