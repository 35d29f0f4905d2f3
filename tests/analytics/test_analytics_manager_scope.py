"""Insights figures from a team manager's chair: bob (East) counts East's deals, never West's,
on the page, through the API and at the command line, whatever team he asks for.

2026-Q3, as of 2026-11-30. East (alice): won 1,000 on Aug 1, lost 500 on Aug 10.
West (carol): won 4,000 on Aug 1 and 2,000 on Aug 15.
  bob (East manager): 1 won, 1 lost, win rate 50%, won 1,000
  dave (admin):       3 won, 1 lost, win rate 75%, won 7,000
"""

import json
from io import StringIO

import pytest
from analytics_builders import History
from django.core.management import call_command

from dealgate.analytics import metrics
from dealgate.analytics.history import scope_for
from dealgate.analytics.periods import parse_as_of, parse_period
from dealgate.api.services import create_token

Q3 = {"period": "2026-Q3", "as_of": "2026-11-30"}


@pytest.fixture
def book(world, pipeline):
    h = History(world, pipeline)
    for owner, amount, outcome, when in ((world.alice, 1000, "won", "2026-08-01"), (world.alice, 500, "lost", "2026-08-10"),
                                         (world.carol, 4000, "won", "2026-08-01"), (world.carol, 2000, "won", "2026-08-15")):
        h.move(h.deal("2026-07-01", amount, owner=owner), outcome, when)
    return h


def test_the_figures_of_a_manager_count_their_team_only(book, world):
    cutoff, period = parse_as_of(Q3["as_of"]), parse_period(Q3["period"])
    mine = metrics.period_metrics(scope_for(world.bob), period, cutoff)
    assert (mine["won"], mine["lost"], mine["win_rate"], str(mine["won_amount"])) == (1, 1, 0.5, "1000.00")
    everyone = metrics.period_metrics(scope_for(world.dave), period, cutoff)
    assert (everyone["won"], everyone["lost"], everyone["win_rate"], str(everyone["won_amount"])) == (
        3, 1, 0.75, "7000.00")


def test_the_insights_page_of_a_manager_shows_their_teams_numbers(client, book, world):
    client.force_login(world.bob)
    html = client.get("/insights/", Q3).content.decode()
    assert "Win rate (1 won, 1 lost)" in html
    html = client.get("/insights/", {**Q3, "team": world.west.pk}).content.decode()
    assert "Win rate (0 won, 0 lost)" in html  # asking for West shows nothing of West
    client.force_login(world.dave)
    assert "Win rate (3 won, 1 lost)" in client.get("/insights/", Q3).content.decode()


def test_the_metrics_api_gives_a_manager_their_teams_numbers(client, book, world):
    headers = {"Authorization": f"Bearer {create_token(user=world.bob, name='test')[1]}"}
    body = client.get("/api/metrics", Q3, headers=headers).json()["metrics"]
    assert (body["won"], body["lost"], body["won_amount"]) == (1, 1, "1000.00")
    body = client.get("/api/metrics", {**Q3, "team": "West"}, headers=headers).json()["metrics"]
    assert (body["won"], body["lost"]) == (0, 0)


def test_the_report_command_gives_a_manager_their_teams_numbers(book):
    out = StringIO()
    call_command("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30", "--user", "bob", "--json",
                 stdout=out)
    result = json.loads(out.getvalue())["groups"][0]["result"]
    assert (result["won"], result["lost"], result["won_amount"]) == (1, 1, "1000.00")
