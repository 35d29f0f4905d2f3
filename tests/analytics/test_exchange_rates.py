"""Dated exchange rates convert deals in other currencies instead of leaving them out (issue 15 §4,
decision 035): open deals at the as-of day's rate, closed ones at their close day's, a currency
without a rate still left out and said. The expected figures are computed here from the planted
deals and rates, not read back from the code under test.

Company currency EUR. USD is worth 0.90 EUR from 2026-07-01 and 0.80 from 2026-07-15; GBP has no
rate. A USD rate entered for a day a month ahead is not used yet.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO

import pytest
from analytics_builders import History
from django.core.management import call_command
from django.utils import timezone

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope, with_rates
from dealgate.analytics.left_out import converted_currencies, other_currencies
from dealgate.analytics.periods import parse_as_of, parse_period
from dealgate.analytics.rates import rate_table, set_rate

RATES = {"USD": [(dt.date(2026, 7, 1), Decimal("0.90")), (dt.date(2026, 7, 15), Decimal("0.80"))]}
# (created, amount, currency, outcome, closed)
PLANTED = [
    ("2026-07-01", "1000.00", "EUR", "won", "2026-07-12"),
    ("2026-07-01", "1000.00", "USD", "won", "2026-07-10"),
    ("2026-07-01", "2000.00", "USD", "won", "2026-07-20"),
    ("2026-07-01", "500.00", "USD", "lost", "2026-07-15"),
    ("2026-07-01", "3000.00", "USD", None, None),
    ("2026-07-02", "1234.57", "USD", None, None),
    ("2026-07-01", "700.00", "GBP", None, None),
]
Q3 = parse_period("2026-Q3")


def rate(currency: str, day: dt.date) -> Decimal | None:
    """The planted rate of a day: the latest on or before it, else the first one; 1 for EUR."""
    if currency == "EUR":
        return Decimal(1)
    rows = RATES.get(currency)
    if not rows:
        return None
    return [r for d, r in rows if d <= day][-1] if rows[0][0] <= day else rows[0][1]


def eur(amount: str, currency: str, day: dt.date) -> Decimal:
    return (Decimal(amount) * rate(currency, day)).quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.fixture
def planted(world, pipeline):
    h = History(world, pipeline)
    for created, amount, currency, outcome, closed in PLANTED:
        deal = h.deal(created, amount, currency=currency)
        if outcome:
            h.move(deal, outcome, closed)
    for currency, rows in RATES.items():
        for day, value in rows:
            set_rate(currency=currency, rate=value, effective_from=day, by=world.dave)
    set_rate(currency="USD", rate="0.10", effective_from=timezone.localdate() + dt.timedelta(days=30), by=world.dave)
    return h


def expected_closed(outcome: str) -> tuple[int, Decimal]:
    rows = [(a, c, dt.date.fromisoformat(d)) for _, a, c, o, d in PLANTED if o == outcome and rate(c, dt.date.today())]
    return len(rows), sum((eur(a, c, d) for a, c, d in rows), Decimal("0.00"))


def expected_open(as_of: str) -> Decimal:
    day = dt.date.fromisoformat(as_of)
    return sum((eur(a, c, day) for created, a, c, o, closed in PLANTED
                if c in ("EUR", *RATES) and created <= as_of and (closed is None or closed > as_of)), Decimal("0.00"))


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_won_revenue_converts_at_the_close_days_rate_and_open_pipeline_at_the_as_of_days(planted):
    scope = with_rates(Scope())
    result = metrics.period_metrics(scope, Q3, parse_as_of("2026-11-30"))
    won, won_amount = expected_closed("won")
    lost, lost_amount = expected_closed("lost")
    assert (result["won"], result["won_amount"]) == (won, won_amount) == (3, Decimal("3500.00"))
    assert (result["lost"], result["lost_amount"]) == (lost, lost_amount) == (1, Decimal("400.00"))
    assert result["avg_deal_size"] == (won_amount / won).quantize(Decimal("0.01"))
    assert result["pipeline"] == expected_open("2026-11-30")  # 3,000 and 1,234.57 USD at 0.80
    assert result["open_deals"] == 2  # the GBP deal has no rate: not counted
    # as of Jul 12 the rate is still 0.90 for the four USD deals open then
    early = metrics.period_metrics(scope, Q3, parse_as_of("2026-07-12"))
    assert early["pipeline"] == expected_open("2026-07-12") != expected_open("2026-11-30")


def test_without_rates_the_other_currencies_stay_out(planted):
    plain = metrics.period_metrics(Scope(), Q3, parse_as_of("2026-11-30"))
    assert (plain["won"], plain["won_amount"], plain["open_deals"]) == (1, Decimal("1000.00"), 0)
    usd = metrics.period_metrics(with_rates(Scope(currency="USD")), Q3, parse_as_of("2026-11-30"))
    assert (usd["won"], usd["won_amount"]) == (2, Decimal("3000.00"))  # asked in USD: USD alone, unconverted


def test_a_rate_for_a_later_day_is_not_used_yet_and_a_day_before_the_first_rate_takes_the_first(planted, world):
    assert [day for day, _ in dict(rate_table())["USD"]] == ["2026-07-01", "2026-07-15"]
    h = planted
    h.move(h.deal("2026-06-01", "100.00", currency="USD"), "won", "2026-06-10")  # before the first USD rate
    q2 = metrics.period_metrics(with_rates(Scope()), parse_period("2026-Q2"), parse_as_of("2026-11-30"))
    assert q2["won_amount"] == eur("100.00", "USD", dt.date(2026, 6, 10)) == Decimal("90.00")


def test_the_left_out_notice_keeps_the_currency_without_a_rate_and_names_the_converted(planted):
    scope = with_rates(Scope())
    assert other_currencies(scope) == [{"currency": "GBP", "deals": 1}]
    assert converted_currencies(scope) == [{"currency": "USD", "deals": 5}]
    text = run("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30")
    assert "Converted into EUR at the dated exchange rates" in text and "5 deals in USD" in text
    assert "Left out: 1 deal in GBP (no exchange rate)" in text
    data = json.loads(run("report", "metrics", "--period", "2026-Q3", "--as-of", "2026-11-30", "--json"))
    assert data["groups"][0]["result"]["won_amount"] == "3500.00"
    assert data["left_out"] == [{"currency": "GBP", "deals": 1}]


def test_the_waterfall_still_adds_up_with_converted_deals(planted):
    bridge = metrics.waterfall(with_rates(Scope()), Q3, parse_as_of("2026-11-30"))
    assert bridge["adds_up"]
    assert bridge["closing"] == expected_open("2026-11-30")


def test_backtest_and_forecast_count_the_converted_deals(planted):
    data = json.loads(run("backtest", "--from", "2026-07", "--to", "2026-07", "--method", "weighted", "--json"))
    assert data["left_out"] == [{"currency": "GBP", "deals": 1}]
    row = data["periods"][0] if "periods" in data else data["rows"][0]
    assert Decimal(str(row["actual"])) == expected_closed("won")[1]
    text = run("forecast", "--period", "2026-Q3", "--as-of", "2026-07-12", "--method", "weighted")
    assert "Converted into EUR" in text and "Left out: 1 deal in GBP" in text


def test_the_insights_page_and_the_api_say_what_they_converted(client, world, planted):
    client.force_login(world.dave)
    html = client.get("/insights/", {"period": "2026-Q3", "as_of": "2026-11-30"}).content.decode()
    assert "Converted into EUR at the dated exchange rates" in html and "5 deals in USD" in html
    assert "Left out: 1 deal in GBP. They have no exchange rate" in html
    answer = client.get("/api/metrics", {"period": "2026-Q3", "as_of": "2026-11-30"}).json()
    assert answer["converted"] == [{"currency": "USD", "deals": 5}]
    assert answer["left_out"] == [{"currency": "GBP", "deals": 1}]
    assert Decimal(answer["metrics"]["won_amount"]) == Decimal("3500.00")
