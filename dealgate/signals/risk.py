"""The account reorder-risk score: one number per account, higher = more likely to have stopped buying.

It reads the account cadence (SQL) and weighs two pieces of evidence against the account's own rhythm:
how far past its expected next order it is, in units of its own tolerance band, and how far its recent
order rate has fallen below its trailing baseline. A plain "days since last order" ranks a quarterly
buyer who is on time above a weekly buyer who has been silent for a month; this does not.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from typing import Any

from dealgate.deals.models import Account
from dealgate.signals.cadence import Cadence, cadences
from dealgate.signals.detectors import rates

OVERDUE_WEIGHT = 1.0
DECLINE_WEIGHT = 2.0


def overdue_bands(c: Cadence, fallback_gap: float) -> float:
    """Days past the expected next order, in units of the account's tolerance (negative: not due yet)."""
    gap = c.typical_gap if c.has_cadence and c.typical_gap else fallback_gap
    tolerance = c.tolerance if c.has_cadence and c.tolerance else max(gap / 2, 1.0)
    return (c.days_since_last - gap) / tolerance


def decline(c: Cadence) -> float:
    """1 when the recent window has no orders against a buying baseline, 0 when the rate held, <0 when it rose."""
    now, baseline = rates(c)
    if baseline <= 0:
        return 0.0
    return max(-1.0, 1 - now / baseline)


def risk_of(c: Cadence, fallback_gap: float) -> float:
    overdue = max(-3.0, min(overdue_bands(c, fallback_gap), 12.0))
    z = OVERDUE_WEIGHT * overdue + DECLINE_WEIGHT * decline(c) - 2.0
    return round(100 / (1 + math.exp(-z / 2)), 1)


def account_risks(as_of: dt.date) -> list[dict[str, Any]]:
    """Every account that ordered before `as_of`, highest risk first, with the evidence behind its number."""
    found = cadences(as_of, "account")
    gaps = [c.typical_gap for c in found if c.has_cadence and c.typical_gap]
    fallback_gap = statistics.median(gaps) if gaps else 30.0
    names = dict(Account.objects.filter(pk__in=[c.account_id for c in found]).values_list("pk", "name"))
    rows = []
    for c in found:
        now, baseline = rates(c)
        rows.append({
            "account": names.get(c.account_id, ""), "account_id": c.account_id, "risk": risk_of(c, fallback_gap),
            "status": c.status, "last_order": c.last_order.isoformat(), "days_since_last": c.days_since_last,
            "typical_gap_days": c.typical_gap, "expected": c.expected.isoformat() if c.expected else None,
            "overdue_bands": round(overdue_bands(c, fallback_gap), 2), "orders_recent": int(now),
            "orders_baseline": round(baseline, 2), "orders": c.orders,
            "no_cadence_reason": c.reason or None,
        })
    rows.sort(key=lambda r: (-r["risk"], -r["days_since_last"], r["account"]))
    return rows


def ranked_by_risk(account_ids_and_names: list[tuple[int, str]], as_of: dt.date) -> tuple[list[int], dict[int, float]]:
    """Account ids highest risk first (accounts without orders last, by name), and each one's risk."""
    risk = {row["account_id"]: row["risk"] for row in account_risks(as_of)}
    ordered = sorted(account_ids_and_names, key=lambda pair: (-risk.get(pair[0], -1.0), pair[1]))
    return [pk for pk, _ in ordered], risk


# The score in words where a page shows it beside other facts (the signal inbox): on time with no
# decline scores about 27, two bands overdue about 50, four bands overdue or no recent orders 73+.
RISK_LEVELS = ((70.0, "high", "High reorder risk"), (45.0, "some", "Some reorder risk"), (0.0, "low", "Low reorder risk"))


def risk_level(risk: float | None) -> tuple[str, str] | None:
    """('high', 'High reorder risk') from 70, ('some', ...) from 45, ('low', ...) below; None when unknown."""
    if risk is None:
        return None
    return next((level, words) for floor, level, words in RISK_LEVELS if risk >= floor)


def risks_of(account_ids: list[int], as_of: dt.date) -> dict[int, float]:
    """The risk of the named accounts that have a cadence (the same number as `account_risks`: a cadence
    makes the all-accounts fallback gap unused, so only these accounts' order days are read)."""
    return {c.account_id: risk_of(c, 0.0) for c in cadences(as_of, "account", account_ids=account_ids)
            if c.has_cadence and c.typical_gap and c.tolerance}
