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
    alices_signal.evidence = {"quote": "Q-7", "amount": 2500.0, "currency": "USD", "days_since_expiry": 12,
                              "expires": (dt.date.today() - dt.timedelta(days=12)).isoformat()}
    alices_signal.save()
    login(client, world, world.alice)
    page = client.get("/signals/").content.decode()
    assert "Quote Q-7 expired" in page
    # The evidence in words, money in its currency; the stored keys stay out of the page.
    assert "Quote Q-7 for USD 2,500, expired " in page
    assert "(12 days ago), with no order since." in page and "USD 2,500</td>" in page
    assert "days since expiry" not in page and "days_since_expiry" not in page
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


def test_it_says_an_accounts_reorder_risk_in_words_beside_its_signal(client, world, alices_signal):
    today = dt.date.today()
    orders(alices_signal.account, every((today - dt.timedelta(days=133)).isoformat(), 7, 10))  # weekly, silent 70 days
    login(client, world, world.alice)
    assert "High reorder risk" in client.get("/signals/").content.decode()


def test_the_inbox_risk_is_the_account_lists_number(world):
    from dealgate.signals.risk import account_risks, risks_of

    today = dt.date.today()
    accounts = [Account.objects.create(name=f"Buyer {gap}", owner=world.alice) for gap in (7, 12, 30)]
    for account, gap in zip(accounts, (7, 12, 30)):
        orders(account, every((today - dt.timedelta(days=gap * 9 + 20)).isoformat(), gap, 9))
    everyone = {row["account_id"]: row["risk"] for row in account_risks(today)}
    assert risks_of([a.pk for a in accounts], today) == {a.pk: everyone[a.pk] for a in accounts}
