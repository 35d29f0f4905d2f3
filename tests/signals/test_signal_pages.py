"""The signal inbox page and the order rhythm on the account page."""

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


def login(client, world, user):
    client.login(username=user.username, password=world.password)


def test_it_lists_a_reps_signals_and_hides_them_from_other_reps(client, world, alices_signal):
    alices_signal.evidence = {"quote": "Q-7", "days_since_expiry": 12}
    alices_signal.save()
    login(client, world, world.alice)
    page = client.get("/signals/").content.decode()
    assert "Quote Q-7 expired" in page and "days since expiry: 12" in page  # evidence in words, not keys
    client.logout()
    login(client, world, world.carol)
    assert "Quote Q-7 expired" not in client.get("/signals/").content.decode()
    assert client.post(f"/signals/{alices_signal.pk}/convert/").status_code == 404
    assert not Deal.objects.exists()


def test_it_converts_from_the_inbox_into_a_deal_page(client, world, alices_signal):
    login(client, world, world.alice)
    response = client.post(f"/signals/{alices_signal.pk}/convert/")
    deal = Deal.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/deals/{deal.pk}/"
    assert deal.source == "signal"


def test_it_says_why_a_dismiss_without_reason_or_a_bad_snooze_date_is_refused(client, world, alices_signal):
    login(client, world, world.alice)
    page = client.post(f"/signals/{alices_signal.pk}/dismiss/", {"reason": ""}, follow=True).content.decode()
    assert "say why the signal is dismissed" in page
    page = client.post(f"/signals/{alices_signal.pk}/snooze/", {"until": "soon"}, follow=True).content.decode()
    assert "pick a date" in page
    alices_signal.refresh_from_db()
    assert alices_signal.status == "new"


def test_it_asks_anonymous_visitors_to_log_in(client, alices_signal):
    assert client.get("/signals/").status_code == 302
    assert client.post(f"/signals/{alices_signal.pk}/dismiss/", {"reason": "x"}).status_code == 302


def test_it_shows_the_order_rhythm_on_the_account_page(client, world):
    account = Account.objects.create(name="Rhythm Ltd", owner=world.alice)
    today = dt.date.today()
    orders(account, every((today - dt.timedelta(days=150)).isoformat(), 30, 5))
    login(client, world, world.alice)
    page = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Order rhythm" in page and "Orders about every <strong>30 days</strong>" in page
    assert "Fasteners" in page


def test_it_sorts_the_account_list_by_reorder_risk(client, world):
    today = dt.date.today()
    steady, silent, _ = (Account.objects.create(name=n, owner=world.alice)
                         for n in ("A steady", "B silent", "C new"))
    orders(steady, every((today - dt.timedelta(days=70)).isoformat(), 7, 10))  # last order 7 days ago, weekly
    orders(silent, every((today - dt.timedelta(days=133)).isoformat(), 7, 10))  # weekly, silent for 70 days
    login(client, world, world.alice)
    by_name = client.get("/accounts/").content.decode()
    assert by_name.index("A steady") < by_name.index("B silent") < by_name.index("C new")
    by_risk = client.get("/accounts/?sort=risk").content.decode()
    assert by_risk.index("B silent") < by_risk.index("A steady") < by_risk.index("C new")
    assert "Reorder risk" in by_risk
