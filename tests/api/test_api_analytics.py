"""GET /api/metrics, /api/forecast and /api/bottlenecks: the numbers of `dealgate report` and
`dealgate forecast --json`, as of a day, limited to what the caller may see."""

from __future__ import annotations

import json
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

# The small history the command tests use, imported the way pytest imports that module when it
# collects it (its folder on sys.path), so both runs share one module. East (alice): one deal won
# on Aug 1 (12,500), one lost on Jul 20 (3,000); West (carol): one open deal of 40,000 in commit, due Sep 30.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analytics"))
from test_analytics_cli_and_pages import book  # noqa: E402, F401  (a fixture)
from test_analytics_left_out import dollars  # noqa: E402, F401  (a fixture: 3 USD deals, 1 GBP, none in EUR)

Q3 = {"period": "2026-Q3", "as_of": "2026-11-30"}


def cli_json(*args, user):
    out = StringIO()
    call_command(*args, "--json", "--user", user.username, stdout=out)
    return json.loads(out.getvalue())


def get(client, auth, user, path, **query):
    response = client.get(path, query, headers=auth(user))
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.mark.parametrize("user", ["dave", "carol"])
def test_metrics_are_what_report_metrics_prints(client, auth, world, book, user):
    who = getattr(world, user)
    answer = get(client, auth, who, "/api/metrics", **Q3)
    printed = cli_json("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30", user=who)
    assert answer["metrics"] == printed["groups"][0]["result"]
    assert (answer["period"], answer["as_of"][:10]) == ("2026-Q3", "2026-12-01")


def test_metrics_count_won_and_lost_by_hand(client, auth, world, book):
    m = get(client, auth, world.dave, "/api/metrics", **Q3)["metrics"]
    assert (m["won"], m["lost"], m["won_amount"], m["win_rate"]) == (1, 1, "12500.00", 0.5)
    assert (m["open_deals"], m["pipeline"]) == (1, "40000.00")


def test_metrics_see_only_what_was_recorded_by_as_of(client, auth, world, book):
    m = get(client, auth, world.dave, "/api/metrics", period="2026-Q3", as_of="2026-07-15")["metrics"]
    assert (m["won"], m["lost"], m["won_amount"], m["open_deals"], m["pipeline"]) == (0, 0, "0.00", 2, "15500.00")


def test_a_rep_sees_only_their_teams_numbers(client, auth, world, book):
    carols = get(client, auth, world.carol, "/api/metrics", **Q3)["metrics"]
    assert (carols["won"], carols["lost"], carols["won_amount"], carols["pipeline"]) == (0, 0, "0.00", "40000.00")
    alices = get(client, auth, world.alice, "/api/metrics", **Q3)["metrics"]
    assert (alices["won"], alices["open_deals"], alices["pipeline"]) == (1, 0, "0.00")
    asked_for_east = get(client, auth, world.carol, "/api/metrics", owner="alice", **Q3)["metrics"]
    assert (asked_for_east["won"], asked_for_east["lost"]) == (0, 0)


# From new deals, as of Aug 1 (cutoff Aug 2, 60 days to the end of Q3): the history is 32 days deep
# (first deal Jul 1), so the rate is deals created in those 32 days / 32. A deal created on day t
# (mid-day) counts if won within 59.5 - t days; the only won deal took 31 days, and the only deal
# watched for 31.5 days or more is that one (Jul 1), so t = 28 alone gets 12,500 per deal created.
# dave sees 3 deals: 3/32 x 12,500 = 1,171.88; bob (East) 2: 2/32 x 12,500 = 781.25.
@pytest.mark.parametrize(("user", "weighted", "new"), [
    ("dave", "21671.88", "1171.88"),  # won 12,500 + carol's 40,000 due Sep 30 at 20% + new
    ("bob", "13281.25", "781.25"),  # bob (East) does not see carol's (West) deal
])
def test_forecast_is_what_the_forecast_command_prints(client, auth, world, book, user, weighted, new):
    who = getattr(world, user)
    answer = get(client, auth, who, "/api/forecast", period="2026-Q3", as_of="2026-08-01")
    printed = cli_json("forecast", "--period", "2026-Q3", "--as-of", "2026-08-01", user=who)
    for name, method in printed["methods"].items():
        given = {k: v for k, v in answer["methods"][name].items() if v is not None}
        assert given == {k: v for k, v in method.items() if not k.startswith("by_")}
    assert answer["categories"] == printed["categories"]
    assert {p["stage_id"]: {k: v for k, v in p.items() if k != "stage_id"} for p in answer["probabilities"]} == \
        {int(k): v for k, v in printed["probabilities"].items()}
    assert answer["methods"]["weighted"]["expected"] == weighted
    assert answer["methods"]["weighted"]["from_new"] == answer["methods"]["time-aware"]["from_new"] == new
    assert (answer["new_business"], answer["close_dates"]) == (printed["new_business"], printed["close_dates"])


def test_forecast_computes_only_the_method_asked_for(client, auth, world, book):
    answer = get(client, auth, world.dave, "/api/forecast", period="2026-Q3", as_of="2026-08-01", method="weighted")
    assert answer["methods"] == {"weighted": {  # 12,500 + 40,000 x 20% + 3/32 x 12,500 (above)
        "expected": "21671.88", "already_won": "12500.00", "from_open": "8000.00", "from_new": "1171.88",
        "open_deals": None, "p10": None, "p50": None, "p90": None, "calibration": None}}


def test_bottlenecks_are_what_report_bottlenecks_prints(client, auth, world, book):
    answer = get(client, auth, world.dave, "/api/bottlenecks", **Q3)
    printed = cli_json("report", "bottlenecks", "--period", "2026-Q3", "--as-of", "2026-11-30", user=world.dave)
    result = printed["groups"][0]["result"]
    assert (answer["stages"], answer["sentences"], answer["trailing"]) == (
        result["stages"], result["sentences"], result["trailing"])
    assert "Qualify" in [s["stage"] for s in answer["stages"]]


@pytest.mark.parametrize(("query", "field"), [
    ({"period": "Q3"}, "period"), ({"period": "2026-13"}, "period"), ({"as_of": "2026-02-30"}, "as_of"),
])
@pytest.mark.parametrize("path", ["/api/metrics", "/api/forecast", "/api/bottlenecks"])
def test_it_refuses_a_bad_period_or_day_with_the_error_shape(client, auth, world, path, query, field):
    response = client.get(path, query, headers=auth(world.alice))
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert set(response.json()) == {"code", "message", "details"} and field in response.json()["details"]


def test_it_answers_404_for_a_team_that_does_not_exist(client, auth, world):
    response = client.get("/api/metrics", {"team": "North"}, headers=auth(world.dave))
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/metrics", "/api/forecast", "/api/bottlenecks"])
def test_it_refuses_a_call_without_a_token(client, book, path):
    response = client.get(path, Q3)
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_the_api_names_what_it_left_out(client, auth, world, dollars):
    for path in ("/api/metrics", "/api/bottlenecks", "/api/forecast"):
        answer = client.get(path, {"period": "2026-Q3", "as_of": "2026-11-30"}, headers=auth(world.dave)).json()
        assert answer["left_out"] == [{"currency": "USD", "deals": 3}, {"currency": "GBP", "deals": 1}], path
