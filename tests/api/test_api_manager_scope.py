"""The API from a team manager's chair: bob (East) reads and changes East's deals, and West's
deals do not exist for him (404: a manager learns nothing, not even that the id is taken)."""

from __future__ import annotations

import pytest

from dealgate.deals import services
from dealgate.deals.models import Deal


@pytest.fixture
def two_teams(world, make_deal):
    """East: alice's 'East fleet' (1,000). West: carol's 'West fleet' (4,000)."""
    east = make_deal(owner=world.alice, title="East fleet", amount=1000)
    west = make_deal(owner=world.carol, title="West fleet", amount=4000)
    return east, west


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["items"]]


def test_it_lists_and_searches_a_managers_team_deals_only(client, world, two_teams, auth):
    headers = auth(world.bob)
    assert _titles(client.get("/api/deals", headers=headers)) == ["East fleet"]
    assert _titles(client.get("/api/deals", {"search": "fleet"}, headers=headers)) == ["East fleet"]
    assert _titles(client.get("/api/deals", {"owner": "carol"}, headers=headers)) == []


def test_a_manager_gets_their_teams_deal_and_404_for_another_teams(client, world, two_teams, auth):
    east, west = two_teams
    headers = auth(world.bob)
    assert client.get(f"/api/deals/{east.pk}", headers=headers).json()["title"] == "East fleet"
    for path in (f"/api/deals/{west.pk}", f"/api/deals/{west.pk}/history", f"/api/deals/{west.pk}/flags",
                 f"/api/deals/{west.pk}/next-step", f"/api/deals/{west.pk}/contacts"):
        assert client.get(path, headers=headers).status_code == 404, path


def test_a_manager_cannot_change_another_teams_deal_through_the_api(client, world, two_teams, auth):
    _, west = two_teams
    headers = auth(world.bob)
    response = client.patch(f"/api/deals/{west.pk}", {"amount": "1"}, content_type="application/json",
                            headers=headers)
    assert response.status_code == 404
    response = client.post(f"/api/deals/{west.pk}/move", {"stage": "lost", "lost_reason": "price"},
                           content_type="application/json", headers=headers)
    assert response.status_code == 404
    response = client.put(f"/api/deals/{west.pk}/next-step", {"text": "Call", "due": "2026-12-24"},
                          content_type="application/json", headers=headers)
    assert response.status_code == 404
    west = Deal.objects.get(pk=west.pk)
    assert (west.amount, west.closed_at, west.next_step) == (4000, None, "")


def test_a_manager_changes_their_teams_deal_through_the_api(client, world, two_teams, auth):
    east, _ = two_teams
    response = client.patch(f"/api/deals/{east.pk}", {"amount": "1500"}, content_type="application/json",
                            headers=auth(world.bob))
    assert response.status_code == 200, response.json()
    assert Deal.objects.get(pk=east.pk).amount == 1500


def test_a_manager_reassigning_their_teams_deal_to_another_team_loses_sight_of_it(client, world, two_teams, auth):
    """Visibility follows the deal's team: once carol (West) owns it, bob no longer sees it."""
    east, _ = two_teams
    services.reassign_deal(east, world.carol, by=world.dave)
    assert _titles(client.get("/api/deals", headers=auth(world.bob))) == []
    assert client.get(f"/api/deals/{east.pk}", headers=auth(world.bob)).status_code == 404
