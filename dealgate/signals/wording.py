"""A signal's evidence written for a rep: one sentence per kind, money with its currency, dates as every
page shows them ("Ordered Adhesives every 11 days; last on 18 Oct (47 days ago, 4 orders missed)").

The stored evidence (and the API) keep the detectors' raw keys and numbers; only the pages read it
through here. Evidence is JSON that any import or older detector may have written, so every fact is
read defensively: a missing, blank or odd value leaves its phrase out, never an error.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from django.conf import settings
from django.utils import timezone

from dealgate import words

Facts = Mapping[str, Any]


def number(value: Any) -> float | None:
    """A finite number from the evidence (int, float, Decimal or ASCII numeral text), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii():
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None
    if not isinstance(value, (int, float, Decimal)):
        return None
    try:
        result = float(value)
    except (ValueError, OverflowError):  # a signalling NaN, an integer past float's range
        return None
    return result if math.isfinite(result) and abs(result) < 1e15 else None


def whole(value: Any) -> int | None:
    found = number(value)
    return None if found is None else round(found)


def day_of(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and value.isascii():
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def text_of(value: Any, limit: int = 80) -> str:
    """A name from the evidence (a product line, a quote number), printable and at most `limit` characters."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return ""
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def money(value: Any, currency: str) -> str:
    amount = number(value)
    return "" if amount is None else words.money(amount, currency)


def gap(value: Any) -> str:
    """A typical gap in days: 11.0 -> '11 days', 7.5 -> '7.5 days', 1 -> '1 day'."""
    days = number(value)
    if days is None or days <= 0:
        return ""
    shown = f"{days:.1f}".removesuffix(".0")
    return f"{shown} day" if shown == "1" else f"{shown} days"


def ago(day: dt.date | None, today: dt.date) -> str:
    if day is None:
        return ""
    delta = (today - day).days
    if delta == 0:
        return "today"
    return words.plural(delta, "day") + " ago" if delta > 0 else "in " + words.plural(-delta, "day")


def sentence(*parts: str) -> str:
    """The parts that are known, as one sentence ending with a full stop (blank parts dropped)."""
    text = " ".join(part for part in parts if part).strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def bracket(*parts: str) -> str:
    known = [part for part in parts if part]
    return f"({', '.join(known)})" if known else ""


def when_last(facts: Facts, today: dt.date, *, missed_key: str | None = None) -> str:
    """'last on 18 Oct (47 days ago, 4 orders missed)'."""
    last = day_of(facts.get("last_order"))
    if last is None:
        return ""
    missed = whole(facts.get(missed_key)) if missed_key else None
    missed_text = words.plural(missed, "order") + " missed" if missed and missed > 0 else ""
    return f"last on {words.day(last, today)} {bracket(ago(last, today), missed_text)}".strip()


def rhythm(lead: str, facts: Facts, today: dt.date, *, missed_key: str | None = None) -> str:
    """'Ordered Adhesives every 11 days; last on 18 Oct (47 days ago, 4 orders missed).'"""
    every = gap(facts.get("typical_gap_days"))
    last = when_last(facts, today, missed_key=missed_key)
    if not every and not last:
        return ""
    return (f"{lead} every {every}" if every else f"{lead} regularly") + (f"; {last}." if last else ".")


def window_days(facts: Facts) -> int:
    """The recent window the declines compare (90 days unless the evidence says another length)."""
    days = whole(facts.get("window_days"))
    return days if days and days > 0 else 90


def missed_reorder(facts: Facts, currency: str, today: dt.date) -> str:
    expected = day_of(facts.get("expected"))
    late = (today - expected).days if expected else 0
    typical = money(facts.get("typical_order_revenue"), currency)
    due = (sentence(f"The next order was due by {words.day(expected, today)}",
                    f"and is {words.plural(late, 'day')} late" if late > 0 else "") if expected else "")
    return " ".join(part for part in (rhythm("Usually orders", facts, today), due,
                                      sentence(f"A typical order is {typical}") if typical else "") if part)


def frequency_decline(facts: Facts, currency: str, today: dt.date) -> str:
    window = window_days(facts)
    now, usual, drop = whole(facts.get("orders_now")), number(facts.get("orders_baseline")), whole(facts.get("drop_pct"))
    typical = money(facts.get("baseline_order_revenue"), currency)
    counted = f"{words.plural(now, 'order') if now else 'No orders'} in the last {window} days" if now is not None else ""
    if counted and usual is not None:
        counted += f", against about {usual:.0f} usually"
    if drop is not None and now != 0:
        counted = f"{counted} ({drop}% fewer)" if counted else f"Orders down {drop}%"
    return " ".join(part for part in (
        sentence(counted), sentence(f"An order used to be worth about {typical}") if typical else "") if part)


def size_decline(facts: Facts, currency: str, today: dt.date) -> str:
    window = window_days(facts)
    now, before = money(facts.get("average_order_now"), currency), money(facts.get("average_order_baseline"), currency)
    drop, orders_now = whole(facts.get("drop_pct")), whole(facts.get("orders_now"))
    average = f"Orders in the last {window} days average {now}" if now else ""
    if average and before:
        average += f", against {before} before"
    if drop is not None:
        over = f", over {words.plural(orders_now, 'order')}" if orders_now else ""
        average = f"{average} ({drop}% smaller{over})" if average else f"Orders {drop}% smaller"
    return sentence(average)


def stopped(facts: Facts, currency: str, today: dt.date, *, name: str, margin: str = "") -> str:
    """A product line or product the account stopped buying while it still buys others."""
    still = day_of(facts.get("account_last_order"))
    yearly = money(facts.get("yearly_revenue"), currency)
    yearly = f"{yearly} a year{margin}" if yearly else ""
    return " ".join(part for part in (
        rhythm(f"Ordered {name}" if name else "Ordered it", facts, today, missed_key="cycles_missed"),
        sentence(f"Still buying other lines (last order {words.day(still, today)})") if still else "",
        sentence(f"Worth about {yearly}") if yearly else "") if part)


def dropped_line(facts: Facts, currency: str, today: dt.date) -> str:
    return stopped(facts, currency, today, name=text_of(facts.get("product_line")))


def high_margin_stopped(facts: Facts, currency: str, today: dt.date) -> str:
    margin = number(facts.get("margin_pct"))
    return stopped(facts, currency, today, name=text_of(facts.get("product")),
                   margin=f" at a {margin:.0f}% margin" if margin is not None else "")


def expired_quote(facts: Facts, currency: str, today: dt.date) -> str:
    quote = text_of(facts.get("quote"))
    amount = money(facts.get("amount"), quote_currency(facts, currency))
    issued, expires = day_of(facts.get("issued")), day_of(facts.get("expires"))
    named = (f"Quote {quote}" if quote else "The quote") + (f" for {amount}" if amount else "")
    told = [f"issued {words.day(issued, today)}" if issued else "",
            f"expired {words.day(expires, today)} {bracket(ago(expires, today))}".strip() if expires else ""]
    told = [part for part in told if part]
    if not told:
        return sentence(named, "expired with no order since")
    return sentence(", ".join([named, *told, "with no order since"]))


def cross_sell_gap(facts: Facts, currency: str, today: dt.date) -> str:
    line = text_of(facts.get("product_line")) or "this line"
    peers, buying = whole(facts.get("peers")), whole(facts.get("peers_buying"))
    segment = text_of(facts.get("segment"))
    typical = money(facts.get("typical_yearly_revenue"), currency)
    similar = "similar accounts" + (f" ({segment})" if segment and segment != "(no segment)" else "")
    share = (f"{buying} of {peers} {similar} buy {line}" if peers and buying is not None
             else f"Similar accounts buy {line}")
    return " ".join(part for part in (
        sentence(share + "; this account does not"),
        sentence(f"They spend about {typical} a year on it") if typical else "") if part)


SENTENCES: dict[str, Callable[[Facts, str, dt.date], str]] = {
    "missed_reorder": missed_reorder, "frequency_decline": frequency_decline, "size_decline": size_decline,
    "dropped_line": dropped_line, "high_margin_stopped": high_margin_stopped, "expired_quote": expired_quote,
    "cross_sell_gap": cross_sell_gap,
}


def quote_currency(facts: Facts, default: str) -> str:
    code = facts.get("currency")
    return code.upper() if isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() else default


def evidence_sentence(kind: str, evidence: Any, *, currency: str | None = None, today: dt.date | None = None) -> str:
    """The evidence of a signal of `kind` as a rep reads it; "" when the kind is unknown or nothing is known."""
    write = SENTENCES.get(kind)
    if write is None or not isinstance(evidence, Mapping):
        return ""
    return write(evidence, currency or settings.DEALGATE_CURRENCY, today or timezone.localdate())


def signal_currency(kind: str, evidence: Any) -> str:
    """The currency of a signal's revenue: a quote's own, else the company's (order lines carry none)."""
    if kind == "expired_quote" and isinstance(evidence, Mapping):
        return quote_currency(evidence, settings.DEALGATE_CURRENCY)
    return settings.DEALGATE_CURRENCY
