"""Deals left out for their currency are counted and offered, never a silent "0 deals" (issue 15 §4).

The installation's currency is EUR. Alice (East) has 3 deals in USD: won on Jul 10 (1,000), Jul 20
(2,000) and lost on Jul 15, all created Jul 1; and 1 deal in GBP (open). No deal is in EUR.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from analytics_builders import History
from django.core.management import call_command

from dealgate.analytics.history import Scope
from dealgate.analytics.left_out import left_out_sentence, other_currencies

SENTENCE = ("Left out: 3 deals in USD and 1 in GBP; these figures count deals in EUR only (--currency USD shows "
            "the USD deals).")


@pytest.fixture
def dollars(world, pipeline):
    h = History(world, pipeline)
    h.move(h.deal("2026-07-01", 1000, currency="USD"), "won", "2026-07-10")
    h.move(h.deal("2026-07-01", 2000, currency="USD"), "won", "2026-07-20")
    h.move(h.deal("2026-07-01", 500, currency="USD"), "lost", "2026-07-15")
    h.deal("2026-07-01", 700, currency="GBP")
    return h


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_deals_of_other_currencies_are_counted_most_first(dollars, pipeline, world):
    assert other_currencies(Scope()) == [{"currency": "USD", "deals": 3}, {"currency": "GBP", "deals": 1}]
    assert other_currencies(Scope(currency="USD")) == [{"currency": "GBP", "deals": 1}]
    assert other_currencies(Scope(owner_id=world.carol.pk)) == []  # carol has none
    assert left_out_sentence(other_currencies(Scope()), "EUR") == SENTENCE
    assert left_out_sentence([], "EUR") == ""


def test_report_metrics_says_what_it_left_out_and_the_currency_option_shows_it(dollars):
    text = run("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30")
    assert SENTENCE in text
    data = json.loads(run("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30", "--json"))
    assert data["left_out"] == [{"currency": "USD", "deals": 3}, {"currency": "GBP", "deals": 1}]
    assert data["groups"][0]["result"]["won"] == 0
    usd = json.loads(run("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30", "--currency", "USD",
                         "--json"))
    assert (usd["groups"][0]["result"]["won"], usd["groups"][0]["result"]["won_amount"]) == (2, "3000.00")
    assert usd["left_out"] == [{"currency": "GBP", "deals": 1}]


def test_forecast_and_backtest_say_what_they_left_out(dollars):
    assert SENTENCE in run("forecast", "--period", "2026-Q3", "--as-of", "2026-08-01", "--method", "weighted")
    assert SENTENCE in run("backtest", "--from", "2026-07", "--to", "2026-07", "--method", "weighted")
    data = json.loads(run("backtest", "--from", "2026-07", "--to", "2026-07", "--method", "weighted", "--json"))
    assert data["left_out"][0] == {"currency": "USD", "deals": 3}


def test_the_insights_pages_offer_the_left_out_currency(client, world, dollars):
    """The note links to the same page in USD, where the 2 won deals (3,000) are counted."""
    client.force_login(world.dave)
    for path in ("/insights/", "/insights/forecast/"):
        html = client.get(path, {"period": "2026-Q3", "as_of": "2026-11-30"}).content.decode()
        assert "Left out: 3 deals in USD and 1 deal in GBP. These figures count only deals in EUR." in html, path
        assert "currency=USD" in html and "Show the USD deals" in html
    html = client.get("/insights/", {"period": "2026-Q3", "as_of": "2026-11-30", "currency": "USD"}).content.decode()
    assert "Left out: 1 deal in GBP. These figures count only deals in USD." in html
    assert "amounts in USD" in html


def test_an_unknown_currency_on_the_page_is_said_and_the_company_currency_used(client, world, dollars):
    client.force_login(world.dave)
    response = client.get("/insights/", {"currency": "QQQ"})
    assert response.status_code == 200
    assert "&#x27;QQQ&#x27; is not a currency code; amounts are shown in EUR." in response.content.decode()
    assert client.get("/insights/", {"currency": "E" * 10_000}).status_code == 400


@pytest.mark.parametrize("currency", ["ZZ1", "ABCD", "X" * 100_000, "١٢٣"])
def test_a_currency_option_that_is_not_a_code_is_refused_by_name(db, currency):
    """Before, `--currency ABCD` printed empty figures "in ABCD" as if there simply were no deals."""
    from django.core.management.base import CommandError

    for command in (("report", "metrics"), ("forecast",), ("backtest", "--from", "2026-07", "--to", "2026-07")):
        with pytest.raises(CommandError, match="is not a currency code"):
            call_command(*command, "--currency", currency, stdout=StringIO())
