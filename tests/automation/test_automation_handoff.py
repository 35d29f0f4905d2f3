"""Distributor close: when a deal is won, the handoff record reaches the account team (the shipped rule,
run by the real worker)."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from dealgate.automation.engine import handoff_record
from dealgate.automation.models import Notification, Rule
from dealgate.deals import services as deal_services
from dealgate.deals.models import Account
from dealgate.pipelines.services import create_pipeline_from_template

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def won_deal(world):
    """Alice wins a distributor deal on an account Carol looks after, with evidence for one handoff item."""
    pipeline = create_pipeline_from_template("distributor-5")
    account = Account.objects.create(name="Harbour Supplies", owner=world.carol)
    deal = deal_services.create_deal(by=world.alice, title="Harbour fasteners", account=account, pipeline=pipeline,
                                     amount=12000)
    deal_services.record_checklist_answer(deal, "agreed_terms", by=world.alice,
                                          evidence="Net 30, 4% off list on fasteners for 12 months")
    deal_services.move_deal_with_handoff(deal, "won", by=world.bob, override_reason="credit cleared by phone",
                                         handoff="First delivery 14 Dec to the Harbour St depot; pallets only.")
    return deal


def test_the_distributor_template_ships_the_handoff_rule(db):
    pipeline = create_pipeline_from_template("distributor-5")
    rule = Rule.objects.get(pipeline=pipeline, trigger="deal_won")
    assert [a["to"] for a in rule.actions] == ["account_owner", "manager"] and rule.enabled


def test_the_handoff_record_reaches_the_account_owner_and_the_manager(world, won_deal):
    assert not Notification.objects.filter(title__contains="handoff").exists()  # not inside the request
    call_command("worker", batch=True, interval=0)
    notes = Notification.objects.filter(title="Harbour fasteners won: the handoff record").order_by("user__username")
    assert [n.user.username for n in notes] == ["bob", "carol"]
    assert notes[0].deal == won_deal  # Bob manages the deal's team
    # Carol (another team) cannot open the deal: her notification opens the account.
    assert (notes[1].deal, notes[1].link) == (None, f"/accounts/{won_deal.account_id}/")
    assert notes[1].body == (
        "Harbour Supplies bought. What was agreed at the win:\n"
        "Handoff: agreed price, scope and terms written down for the delivery team: Net 30, 4% off list on "
        "fasteners for 12 months\n"
        "Handoff: delivery dates and service expectations recorded: not recorded\n"
        "Handoff note: First delivery 14 Dec to the Harbour St depot; pallets only.")
    call_command("worker", batch=True, interval=0)
    assert notes.count() == 2  # once per win


def test_a_deal_without_a_handoff_record_says_so(world, pipeline, make_deal):
    assert handoff_record(make_deal(amount=10)) == "No handoff record was written at the win."


def test_the_inbox_shows_the_handoff_record_line_by_line(client, world, won_deal):
    call_command("worker", batch=True, interval=0)
    client.login(username="carol", password=world.password)
    page = client.get("/inbox/").content.decode()
    assert "What was agreed at the win:<br>Handoff: agreed price" in page
