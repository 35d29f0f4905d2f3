"""Order history and quotes for the demo's distributor accounts, with planted lapses, then a signal scan.

    write_order_history(channel_rep_ids, seed=7, today=date(2026, 11, 30)) -> OrderSummary

The accounts owned by the Channel team (the team on the distributor pipeline) that have no order
lines yet get about eighteen months of orders: each buys on its own rhythm (weekly to every two
months, noisy gaps, slower in August and December) from its segment's core product line and one or
two others. A share of them is given a fate the signal scan should find: it stops buying, slows
down, orders smaller, drops a product line, stops a high-margin product, buys two lines but not
its segment's core line, or lets a win-back quote expire. The others keep buying (with accepted,
open and old expired quotes as noise), so the inbox shows what a real book of accounts would.

Deterministic: its random stream is its own (seeded by the demo's seed, the day and the account id),
so adding orders does not change the deals the demo generates for a seed. Rows are written with the
same bulk writer as the deals.

After the scan the accounts' owners work part of the new signals through the signal service, as
they would from the inbox (`work_signals`): about one in six becomes a deal, one in ten is
dismissed with a reason, so the insights page's signal conversion rate is not empty. Which ones is
decided by the same seeded stream, in cause order, and capped so a large demo stays fast.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Iterator

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from dealgate.deals.bulk import BulkWriter
from dealgate.deals.models import Account, Deal
from dealgate.signals.models import OrderLine, Quote, QuoteStatus, Signal, SignalStatus
from dealgate.signals.services import convert_signal, dismiss_signal, scan_signals

HISTORY_DAYS = 540  # about eighteen months: a 270-day baseline before the last 90 days, and some more
MAX_ACCOUNTS = 400  # per run: a million-deal demo must not turn into ten million order lines

# product line -> (product, share of the line's revenue, margin share); the last one is the premium item
CATALOG: dict[str, tuple[tuple[str, float, float], ...]] = {
    "Fasteners": (("Hex bolts M8 (FA-108)", 0.7, 0.22), ("Lock nuts M8 (FA-208)", 0.3, 0.2),
                  ("Stainless anchor kit (FA-900)", 0.35, 0.43)),
    "Adhesives": (("Contact adhesive 5 l (AD-105)", 0.6, 0.25), ("Threadlocker (AD-240)", 0.4, 0.27),
                  ("Structural epoxy (AD-910)", 0.4, 0.41)),
    "Tools": (("Cordless drill (TO-118)", 0.6, 0.18), ("Bit set (TO-230)", 0.4, 0.24),
              ("Torque wrench (TO-950)", 0.4, 0.39)),
    "Safety": (("Nitrile gloves (SA-101)", 0.7, 0.21), ("Safety glasses (SA-220)", 0.3, 0.26),
               ("Fall-arrest harness (SA-930)", 0.45, 0.44)),
    "Abrasives": (("Flap discs (AB-125)", 0.6, 0.23), ("Sanding rolls (AB-210)", 0.4, 0.2),
                  ("Diamond blades (AB-920)", 0.4, 0.4)),
    "Packaging": (("Stretch film (PA-150)", 0.6, 0.17), ("Carton tape (PA-048)", 0.4, 0.19),
                  ("Pallet strapping kit (PA-900)", 0.35, 0.38)),
    "Cleaning": (("Floor cleaner 10 l (CL-110)", 0.6, 0.24), ("Paper towels (CL-205)", 0.4, 0.16),
                 ("Degreaser concentrate (CL-940)", 0.4, 0.42)),
}
UNIT_PRICE = {product: 4 + 3 * (sum(map(ord, product)) % 29) for items in CATALOG.values() for product, _, _ in items}
# the line most accounts of a segment buy: the cross-sell gap is measured against it
CORE_LINE = {"Distributor": "Fasteners", "Wholesaler": "Packaging", "Retail chain": "Cleaning"}
GAPS = (7, 14, 14, 21, 30, 30, 45, 60)
CONVERT_SHARE, DISMISS_SHARE = 0.16, 0.10  # of the signals a run raises, worked by the accounts' owners
MAX_WORKED = 40  # per run: each conversion creates a deal through the services
DISMISS_REASONS = ("Bought through another branch this quarter", "Seasonal: the site is closed until spring",
                   "Already in touch: the buyer is on holiday", "Price list change expected, wait for it")
STEADY_GAPS = (7, 14, 21, 30)  # slowing down or ordering smaller needs a few orders in 90 days to show
# One block of sixteen accounts, shuffled per block: half keep buying, the others each carry one lapse.
PLAN = ("healthy", "stops", "healthy", "slows", "healthy", "drops_line", "healthy", "smaller", "healthy",
        "high_margin", "healthy", "cross_sell", "healthy", "quote_lapse", "healthy", "stops")

ORDER_COLUMNS = ("account_id", "order_id", "line_key", "ordered_at", "product", "product_line", "quantity", "revenue",
                 "margin")
QUOTE_COLUMNS = ("account_id", "number", "amount", "currency", "issued", "expires", "status")


@dataclass
class OrderSummary:
    accounts: int = 0
    order_lines: int = 0
    quotes: int = 0
    fates: dict[str, int] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)
    converted: int = 0
    dismissed: int = 0

    def line(self, reps: Iterable[str]) -> str:
        if not self.accounts:
            return "Order history: no new distributor accounts to give orders to."
        return (f"Order history: {self.order_lines:,} order lines and {self.quotes:,} quotes for {self.accounts:,} "
                f"distributor accounts; the signal scan raised {sum(self.signals.values()):,} signals "
                f"(Signals inbox of {', '.join(reps)}); the reps converted {self.converted:,} to deals and "
                f"dismissed {self.dismissed:,}.")


@dataclass
class Plan:
    """One account's buying: rhythm, lines, order size and the lapse planted in it (if any)."""

    fate: str
    gap: int
    lines: list[str]
    premium: set[str]
    size: float
    stop: dt.date | None = None  # no orders from this day on
    slow_from: dt.date | None = None  # gaps three times longer from this day
    small_from: dt.date | None = None  # orders less than half as large from this day
    drop: tuple[str, dt.date] | None = None  # (line, from this day)
    premium_stop: tuple[str, dt.date] | None = None  # (line whose premium item stops, from this day)


def plan_account(rng: random.Random, fate: str, segment: str, today: dt.date) -> Plan:
    core = CORE_LINE.get(segment, "Fasteners")
    others = [line for line in CATALOG if line != core]
    gap = rng.choice(STEADY_GAPS if fate in ("slows", "smaller", "drops_line", "high_margin") else GAPS)
    extra = rng.sample(others, 2 if fate in ("cross_sell", "drops_line") else rng.randint(1, 2))
    lines = extra if fate == "cross_sell" else [core, *extra]
    premium = {line for line in lines if rng.random() < 0.3}
    plan = Plan(fate=fate, gap=gap, lines=lines, premium=premium, size=rng.lognormvariate(7.3, 0.6))
    back = lambda low, high: today - dt.timedelta(days=rng.randint(low, high))  # noqa: E731
    if fate == "stops":
        plan.stop = back(2 * gap + 10, 3 * gap + 20)
    elif fate == "slows":
        plan.slow_from = back(110, 150)
    elif fate == "smaller":
        plan.small_from = back(100, 130)
    elif fate == "drops_line":
        plan.drop = (lines[-1], back(4 * gap + 10, 6 * gap))
        plan.premium.discard(lines[-1])  # its premium item would stop with it: one cause, one signal
    elif fate == "high_margin":
        plan.premium.add(lines[0])
        plan.premium_stop = (lines[0], back(4 * gap + 10, 6 * gap))
    elif fate == "quote_lapse":
        plan.stop = back(75, 110)
    return plan


def order_days(rng: random.Random, plan: Plan, today: dt.date) -> list[dt.date]:
    day = today - dt.timedelta(days=HISTORY_DAYS - rng.randint(0, 30))
    days = []
    while day < today and (plan.stop is None or day < plan.stop):
        days.append(day)
        step = plan.gap * rng.lognormvariate(0, 0.2) * (1.3 if day.month in (8, 12) else 1.0)
        if plan.slow_from is not None and day >= plan.slow_from:
            step *= 3
        day += dt.timedelta(days=max(1, round(step)))
    return days


def order_rows(rng: random.Random, account_id: int, plan: Plan, days: list[dt.date]) -> list[tuple]:
    rows = []
    for number, day in enumerate(days, start=1):
        order_id = f"SO-{account_id:05d}-{number:04d}"
        size = plan.size * (0.45 if plan.small_from is not None and day >= plan.small_from else 1.0)
        for position, line in enumerate(plan.lines):
            if plan.drop is not None and line == plan.drop[0] and day >= plan.drop[1]:
                continue
            if rng.random() >= (0.95 if position == 0 else 0.88):
                continue
            line_revenue = size / len(plan.lines) * rng.lognormvariate(0, 0.25)
            main, second, premium = CATALOG[line]
            items = [main] + ([second] if rng.random() < 0.5 else [])
            stopped = plan.premium_stop is not None and line == plan.premium_stop[0] and day >= plan.premium_stop[1]
            if line in plan.premium and not stopped:
                items.append(premium)
            for product, share, margin in items:
                revenue = round(line_revenue * share, 2)
                quantity = max(1, round(revenue / UNIT_PRICE[product]))
                rows.append((account_id, order_id, product, day, product, line, Decimal(quantity),
                             Decimal(f"{revenue:.2f}"), Decimal(f"{revenue * margin:.2f}")))
    return rows


def quote_rows(rng: random.Random, account_id: int, plan: Plan, days: list[dt.date], today: dt.date,
               currency: str) -> list[tuple]:
    """The win-back quote of a lapsing account, and for the others the quotes any account has lying around."""
    number = f"Q-{account_id:05d}"
    amount = lambda factor: Decimal(f"{round(plan.size * factor, -1):.2f}")  # noqa: E731
    if plan.fate == "quote_lapse":
        issued = today - dt.timedelta(days=rng.randint(45, 60))
        return [(account_id, f"{number}-1", amount(3), currency, issued, issued + dt.timedelta(days=30),
                 QuoteStatus.OPEN)]
    rows = []
    if days and rng.random() < 0.4:  # accepted some months ago; the orders followed
        issued = days[len(days) // 2]
        rows.append((account_id, f"{number}-1", amount(2), currency, issued, issued + dt.timedelta(days=30),
                     QuoteStatus.ACCEPTED))
    if days and rng.random() < 0.25:  # expired early in the history, but the account ordered since
        issued = days[1] if len(days) > 1 else days[0]
        rows.append((account_id, f"{number}-2", amount(1.5), currency, issued, issued + dt.timedelta(days=21),
                     QuoteStatus.EXPIRED))
    if plan.fate == "healthy" and rng.random() < 0.3:  # sent last week, still open
        issued = today - dt.timedelta(days=rng.randint(3, 20))
        rows.append((account_id, f"{number}-3", amount(2.5), currency, issued, issued + dt.timedelta(days=30),
                     QuoteStatus.OPEN))
    return rows


def fates_for(accounts: list[tuple[int, str, bool]], rng: random.Random) -> list[str]:
    """A fate per account (id order); a win-back quote only lands where no deal is open (else no signal is due)."""
    fates: list[str] = []
    owed = 0  # quote lapses planned for accounts with an open deal, given to the next account without one
    block: list[str] = []
    for _, _, has_open_deal in accounts:
        if not block:
            block = list(PLAN)
            rng.shuffle(block)
        fate = block.pop()
        if fate == "quote_lapse" and has_open_deal:
            fate, owed = "healthy", owed + 1
        elif fate == "healthy" and owed and not has_open_deal:
            fate, owed = "quote_lapse", owed - 1
        fates.append(fate)
    return fates


def write_order_history(rep_ids: Iterable[int], *, seed: int, today: dt.date,
                        currency: str | None = None) -> OrderSummary:
    """Orders and quotes for the reps' accounts that have none yet, then a signal scan as of `today`."""
    open_deal = Deal.objects.filter(account_id=OuterRef("pk"), closed_at__isnull=True)
    accounts = list(
        Account.objects.filter(owner_id__in=list(rep_ids))
        .exclude(Exists(OrderLine.objects.filter(account_id=OuterRef("pk"))))
        .exclude(Exists(Quote.objects.filter(account_id=OuterRef("pk"))))
        .annotate(has_open_deal=Exists(open_deal)).order_by("pk")
        .values_list("pk", "segment", "has_open_deal")[:MAX_ACCOUNTS])
    summary = OrderSummary(accounts=len(accounts))
    currency = currency or settings.DEALGATE_CURRENCY
    fates = fates_for(accounts, random.Random(f"{seed}:{today.isoformat()}:order-fates"))
    quotes: list[tuple] = []

    def orders() -> Iterator[tuple]:  # one account at a time, so the writer sends full batches
        for place, ((account_id, segment, _), fate) in enumerate(zip(accounts, fates)):
            # seeded by the account's place, not its id: the same seed gives the same history whatever
            # ids the database hands out (a test database reused after a flush does not restart them)
            rng = random.Random(f"{seed}:{today.isoformat()}:orders:{place}")
            plan = plan_account(rng, fate, segment, today)
            days = order_days(rng, plan, today)
            yield from order_rows(rng, account_id, plan, days)
            quotes.extend(quote_rows(rng, account_id, plan, days, today, currency))
            summary.fates[fate] = summary.fates.get(fate, 0) + 1

    with transaction.atomic():
        summary.order_lines = BulkWriter(OrderLine, ORDER_COLUMNS).insert(orders())
        summary.quotes = BulkWriter(Quote, QUOTE_COLUMNS).insert(quotes)
    if accounts:
        summary.signals = scan_signals(today).raised
        summary.converted, summary.dismissed = work_signals([pk for pk, _, _ in accounts], seed=seed, today=today)
    return summary


def work_signals(account_ids: list[int], *, seed: int, today: dt.date) -> tuple[int, int]:
    """The accounts' owners convert or dismiss a seeded share of their new signals (cause order), through
    the signal service as the inbox does; returns (converted, dismissed)."""
    rng = random.Random(f"{seed}:{today.isoformat()}:signal-work")
    new = (Signal.objects.filter(account_id__in=account_ids, status=SignalStatus.NEW, account__owner__isnull=False)
           .select_related("account__owner").order_by("cause_key"))
    converted = dismissed = 0
    for signal in new:
        if converted + dismissed >= MAX_WORKED:
            break
        draw = rng.random()
        if draw < CONVERT_SHARE:
            convert_signal(signal, by=signal.account.owner)
            converted += 1
        elif draw < CONVERT_SHARE + DISMISS_SHARE:
            dismiss_signal(signal, rng.choice(DISMISS_REASONS), by=signal.account.owner)
            dismissed += 1
    return converted, dismissed
