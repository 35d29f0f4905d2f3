"""The command line from a team manager's chair (`--user bob`): East's deals, never West's."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dealgate.deals.models import Deal


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def two_teams(world, make_deal):
    """East: alice's 'East fleet' (1,000). West: carol's 'West fleet' (4,000)."""
    return (make_deal(owner=world.alice, title="East fleet", amount=1000),
            make_deal(owner=world.carol, title="West fleet", amount=4000))


def test_it_lists_a_managers_team_deals_only(two_teams):
    rows = json.loads(run("deals", "list", "--json", "--user", "bob"))
    assert [r["title"] for r in rows] == ["East fleet"]
    assert json.loads(run("deals", "list", "--json", "--user", "bob", "--owner", "carol")) == []


def test_it_shows_a_manager_their_teams_deal_and_hides_another_teams(two_teams):
    east, west = two_teams
    assert f"Deal {east.pk}: East fleet" in run("deal", "show", str(east.pk), "--user", "bob")
    with pytest.raises(CommandError, match=f"No deal {west.pk}"):
        run("deal", "show", str(west.pk), "--user", "bob")


def test_it_refuses_a_manager_moving_another_teams_deal(two_teams):
    _, west = two_teams
    with pytest.raises(CommandError):
        run("move", str(west.pk), "lost", "--lost-reason", "price", "--user", "bob")
    west = Deal.objects.select_related("stage").get(pk=west.pk)
    assert (west.stage.key, west.closed_at) == ("qualify", None)


def test_it_lets_a_manager_move_their_teams_deal(two_teams):
    east, _ = two_teams
    out = run("move", str(east.pk), "lost", "--lost-reason", "price", "--user", "bob")
    assert "Qualify -> Lost" in out
    assert Deal.objects.select_related("stage").get(pk=east.pk).stage.key == "lost"
