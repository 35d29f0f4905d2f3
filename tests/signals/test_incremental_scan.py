"""The incremental signal scan (decision 020) raises exactly what a full scan raises, day after day.

A planted book of 48 accounts (weekly to quarterly rhythms with noise; some stop, slow down, order
smaller, drop a line or a high-margin product, or buy two lines but not the one most peers buy;
quotes that expire)
is scanned daily from 2026-08-01 to 2026-10-12 twice: once incrementally while each day's orders
arrive the evening before the scan (one account's lines of late August arrive only on September 10),
once with a full scan each day with every line already present but those late ones, which arrive on
the same day (a scan as of D never reads a line dated D or later). Both runs
must leave the same signals, to the cause, evidence, revenue and date; and the incremental run must
have recomputed only part of the accounts on most days.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from dealgate.deals.models import Account
from dealgate.signals.cadence import cadences, thresholds
from dealgate.signals.models import AccountRecheck, LineYear, OrderLine, ProductTotal, Quote, ScanState, Signal
from dealgate.signals.services import scan_signals

START, FIRST_SCAN, LAST_SCAN = dt.date(2025, 1, 6), dt.date(2026, 8, 1), dt.date(2026, 10, 12)
LINES = ("Fasteners", "Adhesives", "Tools", "Safety")


def planted_book(rng: random.Random) -> list[tuple[int, dt.date, str, str, Decimal, Decimal]]:
    """(account number, day, product line, product, revenue, margin) for 48 accounts."""
    rows = []
    for number in range(48):
        gap = rng.choice((7, 10, 14, 21, 30, 45, 90))
        fate = rng.choice(("healthy", "healthy", "stops", "slows", "smaller", "drops", "premium", "cross"))
        # most buy Fasteners and one or two more; a "cross" account buys two lines but not Fasteners
        lines = rng.sample(LINES[1:], 2) if fate == "cross" else ["Fasteners", *rng.sample(LINES[1:], rng.randint(0, 2))]
        turn = FIRST_SCAN + dt.timedelta(days=rng.randint(-120, 60))
        day = START + dt.timedelta(days=rng.randint(0, 30))
        while day <= LAST_SCAN:
            if fate == "stops" and day >= turn:
                break
            for line in lines:
                if fate == "drops" and line == lines[0] and len(lines) > 1 and day >= turn:
                    continue
                size = 1000 * rng.lognormvariate(0, 0.3) * (0.4 if fate == "smaller" and day >= turn else 1)
                rows.append((number, day, line, f"{line} item", Decimal(f"{size:.2f}"), Decimal(f"{size * 0.2:.2f}")))
                if line == lines[-1] and not (fate == "premium" and day >= turn):
                    rows.append((number, day, line, f"{line} premium", Decimal("300.00"), Decimal("150.00")))
            step = gap * rng.lognormvariate(0, 0.25) * (3 if fate == "slows" and day >= turn else 1)
            day += dt.timedelta(days=max(1, round(step)))
    return rows


def write(accounts: list[Account], rows) -> None:
    OrderLine.objects.bulk_create([
        OrderLine(account=accounts[n], order_id=f"{n}-{day.isoformat()}", line_key=product, ordered_at=day,
                  product=product, product_line=line, quantity=Decimal(5), revenue=revenue, margin=margin)
        for n, day, line, product, revenue, margin in rows])


def signals() -> list[tuple]:
    return list(Signal.objects.order_by("cause_key").values_list("cause_key", "kind", "title", "evidence", "revenue",
                                                                 "as_of", "account_id"))


GONE_ON = dt.date(2026, 9, 20)


def kept_years() -> dict[tuple, tuple]:
    return {(a, line): (Decimal(str(revenue)).quantize(Decimal("0.01")), days) for a, line, revenue, days in
            LineYear.objects.values_list("account_id", "product_line", "revenue", "days")}


def kept_products() -> dict[tuple, tuple]:
    cents = Decimal("0.01")
    return {(a, product): (Decimal(str(revenue)).quantize(cents), Decimal(str(margin)).quantize(cents))
            for a, product, revenue, margin in ProductTotal.objects.values_list("account_id", "product", "revenue",
                                                                                "margin")}


def products_from_the_lines(as_of: dt.date) -> dict[tuple, tuple]:
    """Per account and product, the revenue and margin of its lines before `as_of`."""
    sums: dict[tuple, tuple] = {}
    for a, product, revenue, margin in OrderLine.objects.filter(ordered_at__lt=as_of).values_list(
            "account_id", "product", "revenue", "margin"):
        before = sums.get((a, product), (Decimal(0), Decimal(0)))
        sums[(a, product)] = (before[0] + revenue, before[1] + (margin or 0))
    return sums


def years_from_the_lines(as_of: dt.date) -> dict[tuple, tuple]:
    """Per account and line, the revenue and number of order days in the 365 days before `as_of`."""
    sums: dict[tuple, list] = {}
    for a, line, day, revenue in OrderLine.objects.filter(
            ordered_at__gte=as_of - dt.timedelta(days=365), ordered_at__lt=as_of).exclude(product_line="").values_list(
            "account_id", "product_line", "ordered_at", "revenue"):
        total = sums.setdefault((a, line), [Decimal(0), set()])
        total[0] += revenue
        total[1].add(day)
    return {key: (revenue, len(days)) for key, (revenue, days) in sums.items()}


@pytest.mark.django_db
def test_incremental_scans_raise_exactly_what_full_scans_raise():
    rng = random.Random(20)
    accounts = [Account.objects.create(name=f"Account {n:02d}", segment=("Retail", "Trade")[n % 2]) for n in range(48)]
    book = planted_book(rng)
    late = [r for r in book if r[0] == 7 and dt.date(2026, 8, 20) <= r[1] < dt.date(2026, 9, 1)]  # arrives on 9-10
    quoted = [accounts[3], *(Account.objects.create(name=f"Prospect {n}") for n in range(2))]  # no orders since
    for n, account in enumerate(quoted):
        Quote.objects.create(account=account, number=f"Q-{n}", amount=Decimal("2500.00"),
                             issued=dt.date(2026, 7, 1), expires=dt.date(2026, 8, 5) + dt.timedelta(days=20 * n))
    write(accounts, [r for r in book if r[1] < FIRST_SCAN])

    march = (dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    victim_lines = [r for r in book if r[0] == min(n for n, day, *_ in book if march[0] <= day < march[1])
                    and march[0] <= r[1] < march[1]]
    victim = accounts[victim_lines[0][0]]

    def gone() -> None:
        """An account's lines of March 2026 are deleted (a correction in the ERP)."""
        assert OrderLine.objects.filter(account=victim, ordered_at__gte=march[0], ordered_at__lt=march[1]).delete()[0]

    read, days = [], (LAST_SCAN - FIRST_SCAN).days + 1
    for step in range(days):
        day = FIRST_SCAN + dt.timedelta(days=step)
        if step:
            yesterday = day - dt.timedelta(days=1)
            write(accounts, [r for r in book if r[1] == yesterday and r not in late])
            if day == dt.date(2026, 9, 10):
                write(accounts, late)
        if day == GONE_ON:
            gone()
        result = scan_signals(day)
        read.append((day, result.full, result.accounts_read, result.units_read))
        if step % 9 == 0 or day in (dt.date(2026, 9, 10), GONE_ON):
            # the totals the scans keep give the cadences of the whole history (decision 048)
            for grain in ("account", "line"):
                assert cadences(day, grain, source="kept") == cadences(day, grain, source="rollup"), (day, grain)
            high = thresholds()["high_margin_pct"]  # and the high-margin products (decision 054)
            assert (cadences(day, "product", min_margin_pct=high, source="kept")
                    == cadences(day, "product", min_margin_pct=high, source="rollup") != []), day
    incremental = signals()
    # the year's sums the incremental scans slid day by day are the year's sums (decision 045), the product
    # totals they added to are the lines' (decision 054)
    assert kept_years() == years_from_the_lines(LAST_SCAN) != {}
    assert kept_products() == products_from_the_lines(LAST_SCAN) != {}

    Signal.objects.all().delete()
    ScanState.objects.all().delete()
    AccountRecheck.objects.all().delete()
    # Every line is there, but the late ones, which arrive on the same day as before: a scan as of D reads
    # only lines dated before D, so each full scan reads what the incremental one had.
    write(accounts, [r for r in book if r[1] == LAST_SCAN])
    write(accounts, victim_lines)  # there again until the day they are deleted
    OrderLine.objects.filter(account=accounts[7], ordered_at__gte=dt.date(2026, 8, 20),
                             ordered_at__lt=dt.date(2026, 9, 1)).delete()
    for step in range(days):
        day = FIRST_SCAN + dt.timedelta(days=step)
        if day == dt.date(2026, 9, 10):
            write(accounts, late)
        if day == GONE_ON:
            gone()
        scan_signals(day, full=True)
    full = signals()

    kinds = {row[1] for row in full}
    assert {"missed_reorder", "frequency_decline", "size_decline", "dropped_line", "high_margin_stopped",
            "expired_quote", "cross_sell_gap"} <= kinds, kinds
    assert len(full) > 60
    assert incremental == full
    # The first scan and the first of October (a new quarter: the declines' cause) are full; the
    # others recompute only the accounts with new lines or a recheck date that has come.
    assert [d for d, was_full, _, _ in read if was_full] == [FIRST_SCAN, dt.date(2026, 10, 1)]
    partial = [n for _, was_full, n, _ in read if not was_full]
    assert max(partial) < 48 and sum(partial) / len(partial) < 24, partial
    # Most accounts due for a check are due at the account grain only (a window change, an overdue day):
    # their product lines and products are not read again (decision 041).
    units = [u for _, was_full, _, u in read if not was_full]
    assert all(u <= n for u, n in zip(units, partial)) and sum(units) < sum(partial) / 2, (units, partial)


@pytest.mark.django_db
def test_the_command_says_how_much_it_read_and_full_forces_a_full_scan():
    """Two weekly buyers from 03-02 and 03-05, last orders 2026-07-27 and 07-30. As of 08-01 a full scan
    reads both. Their recheck dates: A's oldest order in the 90 days before 08-01 (from 05-03) is 05-04, which
    leaves the window as of 05-04 + 91 = 08-03 (B: 05-07 -> 08-06); overdue later (A: 7 x 1.5 = 10.5 ->
    07-27 + 11 = 08-07). So as of 08-02 nothing is new and neither is due: none is read again."""
    from io import StringIO

    from django.core.management import call_command

    from .history import every, orders

    for name, start in (("Weekly A", "2026-03-02"), ("Weekly B", "2026-03-05")):
        orders(Account.objects.create(name=name), every(start, 7, 22))

    def scan(*args: str) -> str:
        out = StringIO()
        call_command("signals", "scan", *args, stdout=out)
        return out.getvalue()

    assert "; all 2 accounts read." in scan("--as-of", "2026-08-01")
    assert "; 0 accounts with new orders or due for a check read again, 0 of them" in scan("--as-of", "2026-08-02")
    assert AccountRecheck.objects.order_by("recheck_on").values_list("recheck_on", flat=True)[0] == dt.date(2026, 8, 3)
    # A's line (Fasteners, weekly) stops being a habit only after 3 cycles: 07-27 + 22 = 08-18. As of 08-03
    # only A's window changed: it is read at the account grain, its line's date is kept (decision 041).
    assert ("; 1 account with new orders or due for a check read again, 0 of them with their product lines"
            in scan("--as-of", "2026-08-03"))
    assert AccountRecheck.objects.order_by("account__name").values_list("units_recheck_on", flat=True)[0] == \
        dt.date(2026, 8, 18)
    assert "; all 2 accounts read." in scan("--as-of", "2026-08-03", "--full")
