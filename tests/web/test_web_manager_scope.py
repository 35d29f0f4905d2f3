"""A team manager sees and changes their own team's deals and nothing of another team's.

bob manages East (alice's team); carol is on West. Every page that lists, counts or opens deals
must show bob East's deal and hide West's; a manager who saw every team would pass every test
written about reps and admins, so each place is checked from bob's chair.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from dealgate.deals import services
from dealgate.deals.models import Deal
from dealgate.errors import NotAllowed


@pytest.fixture
def two_teams(world, make_deal):
    """East: alice's 'East fleet' (1,000) at Eastwind, contact Erin East.
    West: carol's 'West fleet' (4,000) at Westwind, contact Wanda West."""
    eastwind = services.create_account(by=world.alice, name="Eastwind")
    westwind = services.create_account(by=world.carol, name="Westwind")
    east = make_deal(owner=world.alice, title="East fleet", amount=1000, account=eastwind)
    west = make_deal(owner=world.carol, title="West fleet", amount=4000, account=westwind)
    services.create_contact(by=world.alice, name="Erin East", account=eastwind)
    services.create_contact(by=world.carol, name="Wanda West", account=westwind)
    return east, west


def _html(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, url
    return response.content.decode()


def _csv_titles(response) -> list[str]:
    rows = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    return [row["title"] for row in rows]


def test_it_lists_a_managers_team_deals_and_hides_another_teams(client, world, two_teams):
    client.force_login(world.bob)
    html = _html(client, reverse("web:deals"))
    assert "East fleet" in html and "West fleet" not in html
    html = _html(client, reverse("web:deals"), q="fleet")  # the search matches both titles
    assert "East fleet" in html and "West fleet" not in html
    html = _html(client, reverse("web:deals"), owner="carol")
    assert "West fleet" not in html


def test_the_csv_export_of_a_manager_holds_only_their_teams_rows(client, world, two_teams):
    client.force_login(world.bob)
    assert _csv_titles(client.get(reverse("web:deals"), {"format": "csv"})) == ["East fleet"]
    assert _csv_titles(client.get(reverse("web:deals"), {"format": "csv", "q": "westwind"})) == []


def test_it_shows_a_manager_their_teams_accounts_and_contacts_only(client, world, two_teams):
    east, west = two_teams
    client.force_login(world.bob)
    html = _html(client, reverse("web:accounts"))
    assert "Eastwind" in html and "Westwind" not in html
    html = _html(client, reverse("web:contacts"))
    assert "Erin East" in html and "Wanda West" not in html
    assert client.get(reverse("web:account", args=[east.account_id])).status_code == 200
    assert client.get(reverse("web:account", args=[west.account_id])).status_code == 404


def test_the_board_of_a_manager_holds_their_teams_cards_only(client, world, two_teams):
    east, west = two_teams
    client.force_login(world.bob)
    html = _html(client, reverse("web:board", args=["test"]))
    assert "East fleet" in html and "West fleet" not in html
    html = _html(client, reverse("web:column", args=["test", east.stage_id]))
    assert "East fleet" in html and "West fleet" not in html


def test_a_manager_opens_their_teams_deal_and_gets_404_for_another_teams(client, world, two_teams):
    east, west = two_teams
    client.force_login(world.bob)
    assert client.get(reverse("web:deal", args=[east.pk])).status_code == 200
    for url in (reverse("web:deal", args=[west.pk]), reverse("web:panel", args=[west.pk, "menu"])):
        assert client.get(url).status_code == 404, url


def test_a_manager_cannot_change_another_teams_deal_from_the_web(client, world, two_teams):
    _, west = two_teams
    client.force_login(world.bob)
    lost = west.pipeline.stages.get(key="lost").pk
    response = client.post(reverse("web:move", args=[west.pk]), {"to": lost, "lost_reason": "price"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 404
    for action, data in (("next_step", {"next_step": "Call them", "next_step_due": "2026-12-24"}),
                         ("activity", {"kind": "call", "subject": "Chased"}),
                         ("checklist", {"item": "budget", "evidence": "Heard so"})):
        assert client.post(reverse("web:deal_action", args=[west.pk, action]), data).status_code == 404, action
    west = Deal.objects.get(pk=west.pk)
    assert (west.stage.key, west.closed_at, west.next_step) == ("qualify", None, "")
    assert not west.activities.exists() and not west.checklist_answers.exists()


def test_a_manager_changes_their_teams_deal_from_the_web(client, world, two_teams):
    east, _ = two_teams
    client.force_login(world.bob)
    response = client.post(reverse("web:deal_action", args=[east.pk, "activity"]),
                           {"kind": "call", "subject": "Checked in with the buyer"})
    assert response.status_code in (200, 302)
    assert list(east.activities.values_list("subject", flat=True)) == ["Checked in with the buyer"]


def test_the_services_refuse_a_manager_changing_another_teams_deal(world, two_teams):
    """The last line: whatever a view lets through, the service checks who is asking."""
    east, west = two_teams
    with pytest.raises(NotAllowed):
        services.update_deal(west, by=world.bob, amount=1)
    with pytest.raises(NotAllowed):
        services.move_deal(west, "lost", by=world.bob, lost_reason="price")
    assert Deal.objects.get(pk=west.pk).amount == 4000
    assert Deal.objects.get(pk=west.pk).closed_at is None
    services.update_deal(east, by=world.bob, amount=1500)  # their own team's: allowed
    assert Deal.objects.get(pk=east.pk).amount == 1500
