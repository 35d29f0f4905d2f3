"""The account page shows what was agreed when a deal was won (the Won handoff record): each handoff
item with its evidence and the handoff note, to the account team."""

from __future__ import annotations

import re

import pytest

from dealgate.deals import services as deal_services
from dealgate.deals.models import Account
from dealgate.pipelines.services import create_pipeline_from_template


@pytest.fixture
def distributor(db):
    return create_pipeline_from_template("distributor-5")


def win(pipeline, account, owner, *, terms: str | None, handoff: str, by):
    deal = deal_services.create_deal(by=owner, title=f"{account.name} order", account=account, pipeline=pipeline,
                                     amount=12000)
    if terms is not None:
        deal_services.record_checklist_answer(deal, "agreed_terms", by=owner, evidence=terms)
    deal_services.move_deal_with_handoff(deal, "won", by=by, override_reason="credit cleared by phone", handoff=handoff)
    return deal


def handoff_section(client, user, password, account) -> str:
    client.force_login(user)
    response = client.get(f"/accounts/{account.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    client.logout()
    return page[page.index('id="handoff"'):page.index("</section>", page.index('id="handoff"'))] \
        if 'id="handoff"' in page else ""


def test_the_account_owner_reads_the_handoff_record_of_a_deal_another_team_won(client, world, distributor):
    """Alice (East) wins on Carol's (West) account: Carol cannot open the deal, but the record is hers to act on."""
    account = Account.objects.create(name="Harbour Supplies", owner=world.carol)
    deal = win(distributor, account, world.alice, terms="Net 30, 4% off list on fasteners for 12 months",
               handoff="First delivery 14 Dec to the Harbour St depot; pallets only.", by=world.bob)
    carols = handoff_section(client, world.carol, world.password, account)
    assert "Agreed at the win" in carols and "Harbour Supplies order" in carols
    assert re.search(r"agreed price, scope and terms written down for the delivery team</dt><dd>Net 30, 4% off list "
                     r"on fasteners for 12 months</dd>", carols)
    assert re.search(r"delivery dates and service expectations recorded</dt><dd><span class=\"muted\">Not recorded",
                     carols)
    assert "First delivery 14 Dec to the Harbour St depot; pallets only." in carols
    assert f'href="/deals/{deal.pk}/"' not in carols  # the deal stays Alice's team's: no link to a 404
    alices = handoff_section(client, world.alice, world.password, account)
    assert f'href="/deals/{deal.pk}/"' in alices and "Net 30" in alices


def test_a_rep_who_does_not_own_the_account_sees_only_the_wins_she_may_see(client, world, distributor):
    """Alice's account: her own win (hidden from Carol) and an open deal of Carol's (so Carol sees the account)."""
    account = Account.objects.create(name="Quay Tools", owner=world.alice)
    win(distributor, account, world.alice, terms=None, handoff="Ship to the north gate.", by=world.bob)
    deal_services.create_deal(by=world.carol, title="Quay follow-up", account=account, pipeline=distributor)
    assert handoff_section(client, world.carol, world.password, account) == ""
    alices = handoff_section(client, world.alice, world.password, account)
    assert "Ship to the north gate." in alices
    assert alices.count("Not recorded") == 2  # neither handoff item ticked
