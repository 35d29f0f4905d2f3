"""Reorder-risk ordering against the accounts' own rhythm, as-of behaviour, and the commands."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from dealgate.deals.models import Account
from dealgate.signals.risk import account_risks

from .history import every, orders, d


@pytest.fixture
def three_rhythms(db):
    """As of 1 July 2026: a weekly buyer silent 40 days, a monthly one 10 days past due (still inside 1.5
    cycles), a quarterly one on time."""
    weekly, monthly, quarterly = (Account.objects.create(name=n) for n in ("Weekly", "Monthly", "Quarterly"))
    orders(weekly, every("2026-01-02", 7, 21))       # last 22 May: 40 days, usual gap 7
    orders(monthly, every("2025-12-23", 30, 6))      # last 22 May: 40 days, usual gap 30
    orders(quarterly, every("2025-04-20", 90, 5))    # last 15 April: 77 days, usual gap 90
    return weekly, monthly, quarterly


def test_it_ranks_accounts_by_how_far_past_their_own_rhythm_they_are(three_rhythms):
    ranked = account_risks(d("2026-07-01"))
    assert [r["account"] for r in ranked] == ["Weekly", "Monthly", "Quarterly"]
    assert ranked[0]["risk"] > ranked[1]["risk"] > ranked[2]["risk"]
    # the plain "days since last order" would put the quarterly buyer first
    assert max(ranked, key=lambda r: r["days_since_last"])["account"] == "Quarterly"
    assert ranked[2]["status"] == "on time" and ranked[0]["status"] == "overdue"


def test_it_gives_the_same_risk_as_of_a_date_whatever_was_ordered_later(three_rhythms):
    before = account_risks(d("2026-07-01"))
    weekly = three_rhythms[0]
    orders(weekly, ["2026-07-01", "2026-07-02"], prefix="later-")
    assert account_risks(d("2026-07-01")) == before


def test_it_prints_risk_as_json_highest_first(three_rhythms, capsys):
    call_command("accounts", "risk", "--as-of", "2026-07-01", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert [r["account"] for r in rows] == ["Weekly", "Monthly", "Quarterly"]
    assert all(isinstance(r["risk"], float) for r in rows) and rows[0]["typical_gap_days"] == 7


def test_it_scans_and_lists_signals_from_the_command_line(three_rhythms, capsys):
    call_command("signals", "scan", "--as-of", "2026-07-01")
    assert "new signal" in capsys.readouterr().out
    call_command("signals", "list", "--json")
    listed = json.loads(capsys.readouterr().out)
    assert {s["account"] for s in listed if s["kind"] == "missed_reorder"} == {"Weekly"}
    call_command("signals", "scan", "--as-of", "2026-07-01")
    assert "0 new signals" in capsys.readouterr().out
