"""The signal rules: each reads cadences (computed in SQL) and returns candidates with their evidence.

Nothing here writes; `services.scan_signals` stores the candidates whose cause is new. Each
candidate's `cause_key` names the cause (the account, and the order cycle, quote, line or quarter
it is about), so a cause raises one signal however often the scan runs.
"""

from __future__ import annotations

import datetime as dt
import statistics
from decimal import Context, Decimal
from dataclasses import dataclass, field
from typing import Any, Iterable

from django.db import connection
from django.db.models import Exists, OuterRef, Sum

from dealgate.deals.models import Account, Deal
from dealgate.signals.cadence import Cadence, cadences, thresholds
from dealgate.signals.models import LineYear, OrderLine, OrderLineDay, Quote, QuoteStatus, SignalKind


@dataclass
class Candidate:
    kind: str
    account_id: int
    cause_key: str
    title: str
    revenue: float
    evidence: dict[str, Any] = field(default_factory=dict)


def quarter_of(day: dt.date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def money(value: float) -> float:
    return round(float(value), 2)


def missed_reorder(c: Cadence) -> Candidate | None:
    """The account is past its expected next order by more than its band and by the missed-reorder factor."""
    if c.status != "overdue" or c.expected is None:
        return None
    days_late = (c.as_of - c.expected).days
    return Candidate(
        SignalKind.MISSED_REORDER, c.account_id, f"missed_reorder:{c.account_id}:{c.expected.isoformat()}",
        f"Reorder {days_late} days late (usually every {c.typical_gap:g} days)", money(c.typical_revenue),
        {"last_order": c.last_order.isoformat(), "typical_gap_days": c.typical_gap, "tolerance_days": c.tolerance,
         "expected": c.expected.isoformat(), "band_to": c.band_to.isoformat() if c.band_to else None,
         "days_since_last": c.days_since_last, "days_late": days_late,
         "typical_order_revenue": money(c.typical_revenue)},
    )


def rates(c: Cadence) -> tuple[float, float]:
    """Orders per recent window now, and in the baseline scaled to the same window length."""
    limits = thresholds()
    return float(c.recent_orders), c.baseline_orders * limits["recent_days"] / limits["baseline_days"]


def frequency_decline(c: Cadence) -> Candidate | None:
    """Fewer orders in the recent window than the trailing baseline, by more than the threshold."""
    limits = thresholds()
    now, baseline = rates(c)
    if c.baseline_orders < 3 or now >= baseline * (1 - limits["frequency_drop_pct"] / 100):
        return None
    drop_pct = round(100 * (1 - now / baseline))
    per_order = c.baseline_revenue / c.baseline_orders
    return Candidate(
        SignalKind.FREQUENCY_DECLINE, c.account_id, f"frequency_decline:{c.account_id}:{quarter_of(c.as_of)}",
        f"Orders down {drop_pct}% ({now:g} in the last {limits['recent_days']} days, usually {baseline:.1f})",
        money((baseline - now) * per_order),
        {"window_days": limits["recent_days"], "orders_now": int(now), "orders_baseline": round(baseline, 2),
         "baseline_days": limits["baseline_days"], "baseline_orders_total": c.baseline_orders, "drop_pct": drop_pct,
         "baseline_order_revenue": money(per_order)},
    )


def size_decline(c: Cadence) -> Candidate | None:
    """Recent orders smaller on average than the baseline's, by more than the threshold."""
    limits = thresholds()
    if c.recent_orders < 2 or c.baseline_orders < 2:
        return None
    now, before = c.recent_revenue / c.recent_orders, c.baseline_revenue / c.baseline_orders
    if before <= 0 or now >= before * (1 - limits["size_drop_pct"] / 100):
        return None
    drop_pct = round(100 * (1 - now / before))
    return Candidate(
        SignalKind.SIZE_DECLINE, c.account_id, f"size_decline:{c.account_id}:{quarter_of(c.as_of)}",
        f"Orders {drop_pct}% smaller ({now:,.0f} against {before:,.0f})", money((before - now) * c.recent_orders),
        {"average_order_now": money(now), "average_order_baseline": money(before), "orders_now": c.recent_orders,
         "orders_baseline": c.baseline_orders, "drop_pct": drop_pct, "window_days": limits["recent_days"]},
    )


def stopped_while_buying(unit: Cadence, account: Cadence | None) -> bool:
    """A regular line or product absent for several of its cycles while the account still buys others."""
    if not unit.has_cadence or unit.typical_gap is None or account is None:
        return False
    cycles = thresholds()["line_missed_cycles"]
    still_buying = (account.last_order - unit.last_order).days > unit.typical_gap
    return unit.days_since_last > unit.typical_gap * cycles and still_buying


def stopped_evidence(unit: Cadence, account: Cadence) -> dict[str, Any]:
    assert unit.typical_gap is not None
    return {"last_order": unit.last_order.isoformat(), "typical_gap_days": unit.typical_gap,
            "days_since_last": unit.days_since_last, "cycles_missed": int(unit.days_since_last // unit.typical_gap),
            "account_last_order": account.last_order.isoformat(), "orders": unit.orders,
            "typical_order_revenue": money(unit.typical_revenue),
            "yearly_revenue": money(unit.typical_revenue * 365 / unit.typical_gap)}


def dropped_lines(lines: Iterable[Cadence], accounts: dict[int, Cadence]) -> list[Candidate]:
    found = []
    for line in lines:
        account = accounts.get(line.account_id)
        if stopped_while_buying(line, account):
            evidence = {"product_line": line.key, **stopped_evidence(line, account)}  # type: ignore[arg-type]
            found.append(Candidate(
                SignalKind.DROPPED_LINE, line.account_id,
                f"dropped_line:{line.account_id}:{line.key}:{line.last_order.isoformat()}",
                f"Stopped buying {line.key} ({evidence['cycles_missed']} cycles missed)",
                evidence["yearly_revenue"], evidence))
    return found


def high_margin_stopped(products: Iterable[Cadence], accounts: dict[int, Cadence]) -> list[Candidate]:
    threshold = thresholds()["high_margin_pct"]
    found = []
    for product in products:
        margin_pct = 100 * product.margin / product.revenue if product.revenue > 0 else 0
        account = accounts.get(product.account_id)
        if margin_pct >= threshold and stopped_while_buying(product, account):
            evidence = {"product": product.key, "margin_pct": round(margin_pct, 1),
                        **stopped_evidence(product, account)}  # type: ignore[arg-type]
            found.append(Candidate(
                SignalKind.HIGH_MARGIN_STOPPED, product.account_id,
                f"high_margin_stopped:{product.account_id}:{product.key}:{product.last_order.isoformat()}",
                f"Stopped buying {product.key} ({margin_pct:.0f}% margin)", evidence["yearly_revenue"], evidence))
    return found


def expired_quotes(as_of: dt.date) -> list[Candidate]:
    """Quotes expired before `as_of` with no order from the account since issue and no open deal on it."""
    ordered_since = OrderLine.objects.filter(account_id=OuterRef("account_id"), ordered_at__gte=OuterRef("issued"),
                                             ordered_at__lt=as_of)
    open_deal = Deal.objects.filter(account_id=OuterRef("account_id"), closed_at__isnull=True)
    quotes = (Quote.objects.filter(expires__lt=as_of, issued__lt=as_of,
                                   status__in=[QuoteStatus.OPEN, QuoteStatus.EXPIRED])
              .filter(~Exists(ordered_since), ~Exists(open_deal)).order_by("pk"))
    return [
        Candidate(
            SignalKind.EXPIRED_QUOTE, quote.account_id, f"expired_quote:{quote.pk}",
            f"Quote {quote.number} expired without an order", money(quote.amount),
            {"quote": quote.number, "amount": money(quote.amount), "currency": quote.currency,
             "issued": quote.issued.isoformat(), "expires": quote.expires.isoformat(),
             "days_since_expiry": (as_of - quote.expires).days})
        for quote in quotes
    ]


def detect(as_of: dt.date, *, source: str = "rollup") -> list[Candidate]:
    """Every candidate signal as of `as_of`, from orders before it (`source="lines"`: read from the
    order lines instead of the rollups, decision 037; the two must give the same candidates)."""
    return detect_for(as_of, source=source)[0]


def detect_for(as_of: dt.date, account_ids: list[int] | None = None, *, source: str = "rollup",
               unit_ids: list[int] | None = None, kept: bool = False
               ) -> tuple[list[Candidate], dict[int, Recheck]]:
    """The candidates as of `as_of` of the accounts named (None: all), with the cross-sell gaps and
    expired quotes of all accounts (both compare or read beyond one account's order lines), and for
    each account read the first later dates its own candidates could change without a new order line
    (`Recheck`). `unit_ids` (a part of `account_ids`; None: the same) are the accounts whose product
    lines and products are read too; the others' line and product candidates cannot have changed
    (decision 041), and their `Recheck.units` is None here (the caller keeps the one it had).
    `kept`: the scan, which has brought its kept tables to `as_of`: the account and line cadences read the
    kept totals (decision 048), the high-margin pick the kept product totals (decision 054) and the
    cross-sell gap the kept year's sums (decision 045)."""
    grains = "kept" if kept else source
    accounts = {c.account_id: c for c in cadences(as_of, "account", account_ids=account_ids, source=grains)}
    unit_ids = account_ids if unit_ids is None else unit_ids
    lines = cadences(as_of, "line", account_ids=unit_ids, source=grains)
    high_margin = thresholds()["high_margin_pct"]
    # Only a high-margin product can raise "high-margin item stopped": the others are left out in SQL,
    # before their order days are sorted (the product grain is the largest); the rule checks again.
    products = cadences(as_of, "product", account_ids=unit_ids, min_margin_pct=high_margin, source=grains)
    found: list[Candidate] = []
    for cadence in accounts.values():
        for rule in (missed_reorder, frequency_decline, size_decline):
            candidate = rule(cadence)
            if candidate is not None:
                found.append(candidate)
    found += dropped_lines(lines, accounts)
    found += high_margin_stopped(products, accounts)
    found += expired_quotes(as_of)
    found += cross_sell_gaps(as_of, source=grains)
    return found, recheck_dates(as_of, accounts, [*lines, *products])


@dataclass
class Recheck:
    """An account's next dates to read again: `account` (its own cadence: a window change, the day it
    becomes overdue) and `units` (a product line's or product's stop date); None: nothing due."""

    account: dt.date | None = None
    units: dt.date | None = None

    @property
    def first(self) -> dt.date | None:
        days = [d for d in (self.account, self.units) if d is not None]
        return min(days) if days else None


def recheck_dates(as_of: dt.date, accounts: dict[int, Cadence], units: Iterable[Cadence]) -> dict[int, Recheck]:
    """Per account, the first date after `as_of` on which a rule could read something new from the same
    order lines: an order leaving the recent window or the baseline (the declines), the day it becomes
    overdue (missed reorder), the day a line or high-margin product has been absent for the set number
    of its cycles (dropped line, high-margin item stopped), the last kept apart. None: nothing due
    without a new order. Between scans in one calendar quarter (the declines' cause), an account before
    its date raises nothing a full scan would not skip as already raised."""
    limits = thresholds()
    due: dict[int, Recheck] = {account_id: Recheck() for account_id in accounts}

    def after(day: dt.date | None, account_id: int, part: str) -> None:
        recheck = due.setdefault(account_id, Recheck())
        if day is not None and day > as_of and (getattr(recheck, part) is None or day < getattr(recheck, part)):
            setattr(recheck, part, day)

    for c in accounts.values():
        after(c.window_change(), c.account_id, "account")
        if c.has_cadence and c.typical_gap is not None and c.tolerance is not None:
            overdue_after = max(c.typical_gap + c.tolerance, c.typical_gap * limits["missed_factor_pct"] / 100)
            after(c.last_order + dt.timedelta(days=int(overdue_after) + 1), c.account_id, "account")
    for unit in units:
        if unit.has_cadence and unit.typical_gap is not None:
            stopped_after = unit.typical_gap * limits["line_missed_cycles"]
            after(unit.last_order + dt.timedelta(days=int(stopped_after) + 1), unit.account_id, "units")
    return due


def year_rows(sums: str, params: list) -> list[tuple]:
    """(account, segment, product line, revenue) of the year's sums per account and line that `sums` selects."""
    with connection.cursor() as cursor:
        cursor.execute(f"""SELECT r.account_id, a.segment, r.product_line, r.revenue FROM ({sums}) r
            JOIN {Account._meta.db_table} a ON a.id = r.account_id""", params)
        # SQLite sums decimals as floats: to the field's cents, as the ORM would convert them
        field = OrderLineDay._meta.get_field("revenue")
        context, cents = Context(prec=field.max_digits), Decimal(1).scaleb(-field.decimal_places)
        return [(account_id, segment, line,
                 context.create_decimal_from_float(revenue).quantize(cents) if isinstance(revenue, float) else revenue)
                for account_id, segment, line, revenue in cursor.fetchall()]


def cross_sell_gaps(as_of: dt.date, *, source: str = "rollup") -> list[Candidate]:
    """Lines most similar accounts (same segment) bought in the last year and this active account did not.

    Reads one row per account x line (SQL aggregate over the account x line x day rollup, decision 037);
    an account counts when it bought at least two lines in the year, so a one-line specialist is not
    pestered.
    """
    limits = thresholds()
    year_ago = as_of - dt.timedelta(days=365)
    if source == "kept":
        # the year's sums the scan keeps as of `as_of` (services.keep_line_years, decision 045)
        rows = year_rows(f"SELECT account_id, product_line, revenue FROM {LineYear._meta.db_table}", [])
    elif source == "lines":
        rows = (OrderLine.objects.filter(ordered_at__gte=year_ago, ordered_at__lt=as_of).exclude(product_line="")
                .values_list("account_id", "account__segment", "product_line").annotate(revenue=Sum("revenue")))
    else:
        # Summed per account and line first, then joined to the accounts for their segment: the ORM's
        # GROUP BY with the segment joins every line-day first (about 1.6x slower, decision 041).
        rows = year_rows(f"""SELECT account_id, product_line, SUM(revenue) AS revenue FROM {OrderLineDay._meta.db_table}
                WHERE day >= %s AND day < %s GROUP BY account_id, product_line""", [year_ago, as_of])
    bought: dict[int, dict[str, float]] = {}
    segment_of: dict[int, str] = {}
    for account_id, segment, line, revenue in rows:
        bought.setdefault(account_id, {})[line] = float(revenue)
        segment_of[account_id] = segment or ""
    peers: dict[str, list[int]] = {}
    for account_id, segment in segment_of.items():
        peers.setdefault(segment, []).append(account_id)
    found = []
    for segment, members in peers.items():
        if len(members) < limits["cross_sell_min_peers"]:
            continue
        buyers: dict[str, list[float]] = {}
        for account_id in members:
            for line, revenue in bought[account_id].items():
                buyers.setdefault(line, []).append(revenue)
        for line, revenues in buyers.items():
            share = len(revenues) / len(members)
            if share * 100 < limits["cross_sell_share_pct"]:
                continue
            typical = statistics.median(revenues)
            for account_id in members:
                if line in bought[account_id] or len(bought[account_id]) < 2:
                    continue
                found.append(Candidate(
                    SignalKind.CROSS_SELL_GAP, account_id, f"cross_sell_gap:{account_id}:{line}",
                    f"Does not buy {line}, which {round(share * 100)}% of similar accounts buy", money(typical),
                    {"product_line": line, "peers": len(members), "peers_buying": len(revenues),
                     "share_pct": round(share * 100), "segment": segment or "(no segment)",
                     "typical_yearly_revenue": money(typical)}))
    return found
