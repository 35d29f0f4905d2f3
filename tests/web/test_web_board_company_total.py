"""The board's one total in the company currency (issue 14, decision 035): beside the per-currency
lines, when every currency in the column has a rate on or before today; otherwise it names the
currency lacking one, never a silent mix. Expected totals are computed here from the planted amounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from dealgate.analytics.rates import set_rate
from dealgate.deals import services
from dealgate.deals.board import BoardFilters, build_board, build_column


def _qualify(board):
    return next(c for c in board.columns if c.stage.key == "qualify")


def test_a_column_in_several_currencies_gets_one_total_when_each_has_a_rate(world, make_deal, pipeline):
    make_deal(amount=1000, currency="EUR")
    make_deal(amount=2000, currency="USD")
    usd = make_deal(amount=500, currency="GBP")
    services.update_deal(usd, by=world.alice, probability_override=50)
    today = timezone.localdate()
    set_rate(currency="USD", rate="0.5", effective_from=today - dt.timedelta(days=400), by=None)
    set_rate(currency="USD", rate="0.9", effective_from=today, by=None)  # today's: the one used
    set_rate(currency="USD", rate="0.1", effective_from=today + dt.timedelta(days=1), by=None)  # not yet
    column = _qualify(build_board(pipeline, world.alice, BoardFilters()))
    assert column.company.missing == ("GBP",) and column.company.total is None
    set_rate(currency="GBP", rate="1.2", effective_from=today - dt.timedelta(days=3), by=None)
    column = _qualify(build_board(pipeline, world.alice, BoardFilters()))
    total = Decimal("1000") + Decimal("2000") * Decimal("0.9") + Decimal("500") * Decimal("1.2")
    weighted = (Decimal("1000") + Decimal("2000") * Decimal("0.9")) * Decimal("0.20") \
        + Decimal("500") * Decimal("0.50") * Decimal("1.2")
    assert (column.company.currency, column.company.total, column.company.weighted) == ("EUR", total, weighted)
    assert [m.currency for m in column.money] == ["EUR", "GBP", "USD"]  # the per-currency lines stay
    one = build_column(pipeline, column.stage, world.alice, BoardFilters())
    assert one.company == column.company


def test_a_column_in_the_company_currency_alone_needs_no_second_total(world, make_deal, pipeline):
    make_deal(amount=1000, currency="EUR")
    set_rate(currency="USD", rate="0.9", effective_from="2026-01-01", by=None)
    assert _qualify(build_board(pipeline, world.alice, BoardFilters())).company is None


def test_the_board_page_shows_the_total_or_says_which_currency_has_no_rate(client, world, make_deal, pipeline):
    make_deal(amount=1000, currency="EUR")
    make_deal(amount=2000, currency="USD")
    client.force_login(world.alice)
    page = client.get(reverse("web:board", args=["test"]), {"scope": "team"}).content.decode()
    assert "No EUR total: USD has no exchange rate" in page and "set one" not in page
    client.force_login(world.dave)
    assert "/settings/exchange-rates/" in client.get(reverse("web:board", args=["test"]), {"scope": "team"}).content.decode()  # an admin may set one
    set_rate(currency="USD", rate="0.9", effective_from=timezone.localdate(), by=None)
    client.force_login(world.alice)
    page = client.get(reverse("web:board", args=["test"]), {"scope": "team"}).content.decode()
    assert "Total <span class=\"total\">EUR 2,800</span>" in page and "no exchange rate" not in page
    from dealgate.words import day

    assert f"at today's exchange rates: USD 0.9 from {day(timezone.localdate())}\"" in page


def test_the_account_page_adds_the_company_total_of_its_open_deals_and_the_rates_used(client, world, make_deal):
    """The account page's per-currency sums get the board's company total: today's rates, each named
    with the day it is effective from; a currency without a rate is named instead, never mixed in."""
    from dealgate.words import day

    deal = make_deal(amount=1000, currency="EUR")
    make_deal(amount=2000, currency="USD", account=deal.account)
    url = reverse("web:account", args=[deal.account_id])
    client.force_login(world.alice)
    page = client.get(url).content.decode()
    assert "No EUR total: USD has no exchange rate" in page and "All open deals" not in page
    since = timezone.localdate() - dt.timedelta(days=3)
    set_rate(currency="USD", rate="0.9", effective_from=since, by=None)
    page = client.get(url).content.decode()
    assert "<strong>EUR 1,000</strong> open · <strong>USD 2,000</strong> open" in page  # the lines stay
    assert ("All open deals: <strong>EUR 2,800</strong> at today's exchange rates "
            f'<span class="muted small">(USD 0.9 from {day(since)})</span>') in page
    assert "no exchange rate" not in page


def test_the_deals_list_adds_its_view_up_per_currency_and_in_the_company_currency(client, world, make_deal):
    """The deals list sums every row of the current view (not only the page) per currency, then one
    total in the company currency at today's rates naming each rate, or the currency without one."""
    from dealgate.words import day

    make_deal(amount=1000, currency="EUR")
    make_deal(amount=250, currency="EUR")
    make_deal(amount=2000, currency="USD", title="Dollar deal")
    make_deal(owner=world.carol, amount=7000, currency="USD")  # not alice's to see
    client.force_login(world.alice)
    page = client.get(reverse("web:deals")).content.decode()
    assert ('3 open deals: <strong>EUR 1,250</strong> <span class="muted small">(2)</span> · '
            '<strong>USD 2,000</strong> <span class="muted small">(1)</span>') in page
    assert "No EUR total: USD has no exchange rate" in page and "set one" not in page
    since = timezone.localdate() - dt.timedelta(days=10)
    set_rate(currency="USD", rate="0.85", effective_from=since, by=None)
    page = client.get(reverse("web:deals")).content.decode()
    # 1,000 + 250 + 2,000 x 0.85 = 2,950
    assert ("In the company currency: <strong>EUR 2,950</strong> at today's exchange rates "
            f'<span class="muted small">(USD 0.85 from {day(since)})</span>') in page
    page = client.get(reverse("web:deals"), {"q": "dollar"}).content.decode()  # the view's rows only
    assert "1 open deal: <strong>USD 2,000</strong></p>" in page and "<strong>EUR 1,700</strong>" in page
    page = client.get(reverse("web:deals"), {"q": "Deal 1"}).content.decode()  # the company currency alone
    assert "1 open deal: <strong>EUR 1,000</strong></p>" in page and "In the company currency" not in page


def test_the_deals_list_gives_no_company_total_of_closed_deals(client, world, make_deal, pipeline):
    """Won deals convert at their close day's rate (decision 035): the list keeps their currencies apart."""
    for amount, currency in ((1000, "EUR"), (2000, "USD")):
        deal = make_deal(amount=amount, currency=currency)
        deal.stage = pipeline.stages.get(kind="won")
        deal.closed_at = timezone.now()
        deal.save(update_fields=["stage", "closed_at"])
    set_rate(currency="USD", rate="0.9", effective_from="2026-01-01", by=None)
    client.force_login(world.alice)
    page = client.get(reverse("web:deals"), {"status": "won"}).content.decode()
    assert "2 won deals: <strong>EUR 1,000</strong>" in page and "<strong>USD 2,000</strong>" in page
    assert "In the company currency" not in page and "close day's exchange rate" in page
    page = client.get(reverse("web:deals")).content.decode()
    assert "list-totals" not in page and "No deals match." in page
