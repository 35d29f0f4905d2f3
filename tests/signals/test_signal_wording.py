"""A signal's evidence as a rep reads it: one sentence per kind, money with its currency, dates as the pages
print them, and never a raw key, a crash or a 'None' for evidence that is missing, blank or odd."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dealgate.signals.models import SignalKind
from dealgate.signals.risk import risk_level
from dealgate.signals.wording import SENTENCES, evidence_sentence, signal_currency

TODAY = dt.date(2026, 12, 4)

STOPPED = {"last_order": "2026-10-18", "typical_gap_days": 11.0, "days_since_last": 47, "cycles_missed": 4,
           "account_last_order": "2026-11-07", "orders": 56, "typical_order_revenue": 1539.57,
           "yearly_revenue": 51085.73}

# Evidence as each detector writes it (dealgate/signals/detectors.py), and the sentence a rep reads.
WRITTEN = {
    "missed_reorder": (
        {"last_order": "2026-10-01", "typical_gap_days": 30, "tolerance_days": 7.5, "expected": "2026-10-31",
         "band_to": "2026-11-07", "days_since_last": 60, "days_late": 30, "typical_order_revenue": 1200.0},
        "Usually orders every 30 days; last on 1 Oct (64 days ago). The next order was due by 31 Oct and is "
        "34 days late. A typical order is EUR 1,200."),
    "frequency_decline": (
        {"window_days": 90, "orders_now": 4, "orders_baseline": 11.0, "baseline_days": 270,
         "baseline_orders_total": 33, "drop_pct": 64, "baseline_order_revenue": 2925.95},
        "4 orders in the last 90 days, against about 11 usually (64% fewer). An order used to be worth about "
        "EUR 2,926."),
    "size_decline": (
        {"average_order_now": 800.2, "average_order_baseline": 1500, "orders_now": 5, "orders_baseline": 20,
         "drop_pct": 47, "window_days": 90},
        "Orders in the last 90 days average EUR 800, against EUR 1,500 before (47% smaller, over 5 orders)."),
    "dropped_line": (
        {"product_line": "Adhesives", **STOPPED},
        "Ordered Adhesives every 11 days; last on 18 Oct (47 days ago, 4 orders missed). Still buying other "
        "lines (last order 7 Nov). Worth about EUR 51,086 a year."),
    "high_margin_stopped": (
        {"product": "Anchor kit (FA-900)", "margin_pct": 41.7, **STOPPED, "typical_gap_days": 7.5},
        "Ordered Anchor kit (FA-900) every 7.5 days; last on 18 Oct (47 days ago, 4 orders missed). Still buying "
        "other lines (last order 7 Nov). Worth about EUR 51,086 a year at a 42% margin."),
    "expired_quote": (
        {"quote": "Q-7", "amount": 2500.0, "currency": "USD", "issued": "2025-12-01", "expires": "2026-07-01",
         "days_since_expiry": 12},
        "Quote Q-7 for USD 2,500, issued 1 Dec 2025, expired 1 Jul (156 days ago), with no order since."),
    "cross_sell_gap": (
        {"product_line": "Packaging", "peers": 10, "peers_buying": 8, "share_pct": 80, "segment": "Distributor",
         "typical_yearly_revenue": 5000.0},
        "8 of 10 similar accounts (Distributor) buy Packaging; this account does not. They spend about EUR 5,000 "
        "a year on it."),
}


def test_every_signal_kind_has_its_sentence():
    assert set(SENTENCES) == set(SignalKind.values) == set(WRITTEN)


@pytest.mark.parametrize("kind", sorted(WRITTEN))
def test_it_writes_each_kinds_evidence_as_a_sentence(kind, settings):
    settings.DEALGATE_CURRENCY = "EUR"
    evidence, expected = WRITTEN[kind]
    assert evidence_sentence(kind, evidence, today=TODAY) == expected


def test_it_says_no_orders_rather_than_a_hundred_percent_fewer():
    text = evidence_sentence("frequency_decline", {"window_days": 90, "orders_now": 0, "orders_baseline": 10.0,
                                                   "drop_pct": 100}, currency="EUR", today=TODAY)
    assert text == "No orders in the last 90 days, against about 10 usually."


def test_it_leaves_out_what_the_evidence_does_not_say():
    assert evidence_sentence("dropped_line", {"product_line": "Adhesives", "last_order": "2026-10-18"},
                             currency="EUR", today=TODAY) == "Ordered Adhesives regularly; last on 18 Oct (47 days ago)."
    assert evidence_sentence("expired_quote", {"quote": "Q-9"}, currency="EUR", today=TODAY) == \
        "Quote Q-9 expired with no order since."
    assert evidence_sentence("cross_sell_gap", {}, currency="EUR", today=TODAY) == \
        "Similar accounts buy this line; this account does not."
    for kind in ("missed_reorder", "frequency_decline", "size_decline", "dropped_line", "high_margin_stopped"):
        assert evidence_sentence(kind, {}, currency="EUR", today=TODAY) == ""
    assert evidence_sentence("a_kind_from_the_future", {"days_late": 3}, today=TODAY) == ""
    assert evidence_sentence("missed_reorder", ["not", "a", "dict"], today=TODAY) == ""


def test_it_reads_odd_values_as_unknown():
    odd = {"last_order": "18/10/2026", "typical_gap_days": "١١", "cycles_missed": True, "yearly_revenue": "NaN",
           "product_line": "Ad\x00hesives", "account_last_order": "2026-02-30"}
    assert evidence_sentence("dropped_line", odd, currency="EUR", today=TODAY) == ""
    assert evidence_sentence("dropped_line", {**odd, "last_order": "2026-10-18"}, currency="EUR", today=TODAY) == \
        "Ordered Adhesives regularly; last on 18 Oct (47 days ago)."
    assert evidence_sentence("size_decline", {"average_order_now": "sNaN", "average_order_baseline": 10 ** 400,
                                              "drop_pct": 40, "window_days": -3}, currency="EUR", today=TODAY) == \
        "Orders 40% smaller."
    far = evidence_sentence("expired_quote", {"quote": "Q" * 10_000, "amount": "1e400", "expires": "9999-12-31",
                                              "currency": "€€€"}, currency="EUR", today=TODAY)
    assert far.startswith("Quote QQQ") and "…, expired 31 Dec 9999 (in " in far and len(far) < 200


EVIDENCE_KEYS = sorted({key for evidence, _ in WRITTEN.values() for key in evidence})
ODD_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text("0123456789-.,:/ e\x00١", max_size=30),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                       st.dates(min_value=dt.date(1, 1, 1)).map(dt.date.isoformat))


@given(kind=st.sampled_from(sorted(WRITTEN)), evidence=st.dictionaries(st.sampled_from(EVIDENCE_KEYS), ODD_VALUES))
def test_no_evidence_breaks_the_sentence_or_shows_a_key(kind, evidence):
    text = evidence_sentence(kind, evidence, currency="EUR", today=TODAY)
    assert isinstance(text, str) and "_" not in text and "\x00" not in text
    assert not re.search(r"\b(None|True|False|nan|inf|NaN|Infinity)\b|\[|\{", text), text


def test_a_quotes_worth_is_in_its_own_currency_and_the_rest_in_the_companys(settings):
    settings.DEALGATE_CURRENCY = "EUR"
    assert signal_currency("expired_quote", {"currency": "usd"}) == "USD"
    assert signal_currency("expired_quote", {"currency": "<b>"}) == "EUR"
    assert signal_currency("dropped_line", {"currency": "USD"}) == "EUR"


@pytest.mark.parametrize(("risk", "words"), [(None, None), (0, "Low reorder risk"), (44.9, "Low reorder risk"),
                                             (45, "Some reorder risk"), (69.9, "Some reorder risk"),
                                             (70, "High reorder risk"), (100, "High reorder risk")])
def test_it_says_the_reorder_risk_in_words(risk, words):
    level = risk_level(risk)
    assert (level[1] if level else None) == words
