"""Distributor retention: the account page says whether a won account then reorders on schedule, from its
cadence counted from the win."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dealgate import words
from dealgate.deals import services as deal_services
from dealgate.deals.models import Account, Deal
from dealgate.signals.views import order_rhythm

from .history import d, every, orders


def win(account, world, pipeline, on: dt.date) -> Deal:
    deal = deal_services.create_deal(by=world.alice, title="First order", account=account, pipeline=pipeline, amount=5)
    deal_services.move_deal(deal, "won", by=world.bob, override_reason="tested elsewhere")
    closed = dt.datetime.combine(on, dt.time(12), tzinfo=timezone.get_current_timezone())
    Deal.objects.filter(pk=deal.pk).update(closed_at=closed)  # the win's date, for a history set in 2026
    return deal


@pytest.fixture
def monthly(world):
    """Six orders 30 days apart, the last on 31 May: typical gap 30, tolerance 8."""
    account = Account.objects.create(name="Harbour Supplies", owner=world.alice)
    orders(account, every("2026-01-01", 30, 6))
    return account


@pytest.mark.parametrize("as_of, status", [("2026-07-01", "on time"), ("2026-07-20", "late"),
                                           ("2026-07-25", "overdue")])
def test_the_cadence_counts_from_the_win_when_no_order_came_since(world, pipeline, monthly, as_of, status):
    win(monthly, world, pipeline, d("2026-06-05"))
    retention = order_rhythm(monthly.pk, d(as_of))["retention"]
    # Expected 30 days after the win (5 July), band 27 June to 13 July; overdue past 1.5 x 30 = 45 days.
    assert (retention["won_on"], retention["orders"]) == (d("2026-06-05"), 0)
    c = retention["cadence"]
    assert (c.last_order, c.expected, c.band_from, c.band_to, c.status) == (
        d("2026-06-05"), d("2026-07-05"), d("2026-06-27"), d("2026-07-13"), status)


def test_orders_after_the_win_count_and_the_rhythm_follows_them(world, pipeline, monthly):
    win(monthly, world, pipeline, d("2026-05-20"))
    retention = order_rhythm(monthly.pk, d("2026-06-10"))["retention"]
    assert (retention["orders"], retention["revenue"]) == (1, 1000)  # 31 May
    assert retention["cadence"].last_order == d("2026-05-31") and retention["cadence"].status == "on time"


def test_an_account_never_won_or_won_later_shows_no_retention(world, pipeline, monthly):
    assert order_rhythm(monthly.pk, d("2026-07-01"))["retention"] is None
    win(monthly, world, pipeline, d("2026-08-01"))
    assert order_rhythm(monthly.pk, d("2026-07-01"))["retention"] is None  # as of a day before the win


def test_the_account_page_says_whether_the_won_account_reorders_on_schedule(client, world, pipeline):
    today = dt.date.today()
    account = Account.objects.create(name="Quay Traders", owner=world.alice)
    start = today - dt.timedelta(days=30 * 5 + 60)
    orders(account, every(start.isoformat(), 30, 6))  # the last order 60 days ago
    win(account, world, pipeline, today - dt.timedelta(days=50))
    client.login(username="alice", password=world.password)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    won_on = words.day(today - dt.timedelta(days=50))  # the pages' one date format
    assert f"Since the win on {won_on}</h3>" in page
    expected = words.day(today - dt.timedelta(days=20))  # 30 days after the win
    assert "No order since then yet." in page
    assert f"Counted from the win, the next order is expected {expected} (" in page
    assert "<strong>overdue</strong> (not reordering on schedule)." in page
