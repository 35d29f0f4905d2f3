"""The signals API: list, act, and the risk ranking, each narrowed to what the caller may see."""

from __future__ import annotations

import datetime as dt

import pytest

from dealgate.deals.models import Account, Deal
from dealgate.signals.models import Signal

from .history import every, orders


@pytest.fixture
def alices_signal(world, pipeline):
    account = Account.objects.create(name="Alice's account", owner=world.alice)
    return Signal.objects.create(kind="expired_quote", account=account, cause_key="expired_quote:1",
                                 title="Quote Q-7 expired without an order", evidence={"quote": "Q-7"},
                                 revenue=2500, as_of=dt.date(2026, 7, 1),
                                 raised_at=dt.datetime(2026, 7, 1, tzinfo=dt.timezone.utc))


def test_it_lists_and_converts_a_reps_own_signal(client, world, alices_signal):
    client.login(username="alice", password=world.password)
    listed = client.get("/api/signals").json()
    assert [s["title"] for s in listed] == ["Quote Q-7 expired without an order"] and listed[0]["revenue"] == 2500
    response = client.post(f"/api/signals/{alices_signal.pk}/convert", content_type="application/json")
    assert response.status_code == 201
    assert response.json()["signal"]["status"] == "converted"
    assert Deal.objects.get(pk=response.json()["deal"]).source == "signal"


def test_it_answers_404_for_another_reps_signal_and_422_for_a_blank_reason(client, world, alices_signal):
    client.login(username="carol", password=world.password)
    assert client.get("/api/signals").json() == []
    assert client.post(f"/api/signals/{alices_signal.pk}/dismiss", {"reason": "x"},
                       content_type="application/json").status_code == 404
    client.logout()
    client.login(username="alice", password=world.password)
    response = client.post(f"/api/signals/{alices_signal.pk}/dismiss", {"reason": " "}, content_type="application/json")
    assert response.status_code == 422 and response.json()["details"] == {"reason": ["say why the signal is dismissed"]}


def test_it_ranks_only_the_callers_accounts_by_risk(client, world):
    mine = Account.objects.create(name="Mine", owner=world.alice)
    theirs = Account.objects.create(name="Theirs", owner=world.carol)
    orders(mine, every("2026-01-01", 7, 10))
    orders(theirs, every("2026-01-01", 7, 10))
    client.login(username="alice", password=world.password)
    rows = client.get("/api/signals/risk?as_of=2026-06-01").json()
    assert [r["account"] for r in rows] == ["Mine"] and rows[0]["typical_gap_days"] == 7
    assert client.get("/api/signals/risk?as_of=someday").status_code == 422
    client.logout()
    assert client.get("/api/signals").status_code == 401
