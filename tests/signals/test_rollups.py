"""The order-line rollups (decision 037) stay equal to the lines, and the signals read from them equal
the signals read from the lines themselves.

The rollups are kept by database triggers; these tests write lines every way the code does (the ORM's
bulk_create, the bulk writer's COPY / multi-row INSERT, a queryset update, a queryset delete, an
account deleted with its lines) and compare each rollup with the same sums computed from the lines.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection

from dealgate.deals.bulk import BulkWriter
from dealgate.deals.models import Account
from dealgate.signals import rollups
from dealgate.signals.detectors import detect
from dealgate.signals.models import (AccountRecheck, LinesChanged, OrderDay, OrderLine, OrderLineDay, ProductMonth, Quote,
                                     ScanState, Signal)
from dealgate.signals.services import scan_signals

from .test_incremental_scan import planted_book, write

EPSILON = Decimal("0.001")  # SQLite keeps decimals as floats: sums in another order may differ by a rounding


def month_of(day) -> str:
    return str(day)[:7]


def from_lines() -> dict[str, dict[tuple, tuple]]:
    """Each rollup as the lines give it: key -> (revenue, margin, lines)."""
    days: dict[tuple, list] = {}
    line_days: dict[tuple, list] = {}
    product_months: dict[tuple, list] = {}
    for account_id, day, line, product, revenue, margin in OrderLine.objects.values_list(
            "account_id", "ordered_at", "product_line", "product", "revenue", "margin"):
        margin = margin or Decimal(0)
        keys = [(days, (account_id, str(day))), (product_months, (account_id, product, month_of(day)))]
        if line:
            keys.append((line_days, (account_id, line, str(day))))
        for table, key in keys:
            total = table.setdefault(key, [Decimal(0), Decimal(0), 0])
            total[0] += revenue
            total[1] += margin
            total[2] += 1
    return {"signals_orderday": {k: tuple(v) for k, v in days.items()},
            "signals_orderlineday": {k: tuple(v) for k, v in line_days.items()},
            "signals_productmonth": {k: tuple(v) for k, v in product_months.items()}}


def stored() -> dict[str, dict[tuple, tuple]]:
    found = {}
    with connection.cursor() as cursor:
        for table, (keys, _, _) in rollups.ROLLUPS.items():
            cursor.execute(f"SELECT {', '.join(keys)}, revenue, margin, lines FROM {table}")
            rows = {}
            for row in cursor.fetchall():
                key = tuple(month_of(v) if k == "month" else (str(v) if k == "day" else v)
                            for k, v in zip(keys, row[:len(keys)]))
                rows[key] = (Decimal(str(row[-3])), Decimal(str(row[-2])), int(row[-1]))
            found[table] = rows
    return found


def assert_rollups_match() -> None:
    expected, actual = from_lines(), stored()
    for table in rollups.ROLLUPS:
        assert set(actual[table]) == set(expected[table]), table
        for key, (revenue, margin, lines) in expected[table].items():
            got = actual[table][key]
            assert abs(got[0] - revenue) < EPSILON and abs(got[1] - margin) < EPSILON and got[2] == lines, (
                table, key, got, (revenue, margin, lines))


def line(account: Account, order: str, day: str, product: str, product_line: str, revenue: str,
         margin: str | None) -> OrderLine:
    return OrderLine(account=account, order_id=order, line_key=product, ordered_at=dt.date.fromisoformat(day),
                     product=product, product_line=product_line, quantity=Decimal(1), revenue=Decimal(revenue),
                     margin=None if margin is None else Decimal(margin))


@pytest.mark.django_db
def test_the_triggers_are_installed():
    assert rollups.installed() == [f"signals_orderline_rollup_{op}" for op in ("delete", "insert", "update")]


@pytest.mark.django_db
def test_every_write_path_keeps_the_rollups_equal_to_the_lines():
    a, b = Account.objects.create(name="Rollup A"), Account.objects.create(name="Rollup B")
    OrderLine.objects.bulk_create([
        line(a, "1", "2026-03-02", "Bolt", "Fasteners", "100.10", "20.00"),
        line(a, "1", "2026-03-02", "Glue", "Adhesives", "50.05", None),  # blank margin counts as 0
        line(a, "2", "2026-03-02", "Bolt", "Fasteners", "10.00", "1.00"),  # second order the same day
        line(a, "3", "2026-03-31", "Nut", "", "7.00", "1.00"),  # no product line: only day and product rollups
        line(a, "4", "2026-04-01", "Bolt", "Fasteners", "-30.00", "-6.00"),  # a return
        line(b, "1", "2026-03-02", "Bolt", "Fasteners", "99.99", "33.33"),
    ])
    assert_rollups_match()
    assert stored()["signals_orderday"][(a.pk, "2026-03-02")][2] == 3
    # ignore_conflicts: a line already there adds nothing (the import's idempotent re-import)
    OrderLine.objects.bulk_create([line(a, "1", "2026-03-02", "Bolt", "Fasteners", "100.10", "20.00"),
                                   line(b, "2", "2026-05-05", "Tape", "Adhesives", "12.00", "6.00")],
                                  ignore_conflicts=True)
    assert_rollups_match()
    BulkWriter(OrderLine, ["account_id", "order_id", "line_key", "ordered_at", "product", "product_line", "quantity",
                           "revenue", "margin"]).insert(
        [(b.pk, f"bulk-{n}", "Bolt", dt.date(2026, 6, 1) + dt.timedelta(days=n % 3), "Bolt", "Fasteners",
          Decimal(1), Decimal("10.01"), Decimal("2.00")) for n in range(30)])
    assert_rollups_match()
    assert LinesChanged.objects.count() == 0  # new lines are found by their id, not marked

    OrderLine.objects.filter(account=a, order_id="2").update(revenue=Decimal("11.00"), ordered_at=dt.date(2026, 3, 3))
    OrderLine.objects.filter(account=b, product="Tape").update(product_line="Tapes", product="Tape 2")
    assert_rollups_match()
    assert set(LinesChanged.objects.values_list("account_id", flat=True)) == {a.pk, b.pk}
    LinesChanged.objects.all().delete()

    OrderLine.objects.filter(account=a, ordered_at=dt.date(2026, 3, 2)).delete()
    assert_rollups_match()
    assert (a.pk, "2026-03-02") not in stored()["signals_orderday"]  # the day's last line went: so did its row
    assert list(LinesChanged.objects.values_list("account_id", flat=True)) == [a.pk]
    b.delete()  # its lines go by cascade, and with them its rollup rows
    assert_rollups_match()
    assert not [key for table in stored().values() for key in table if key[0] == b.pk]


@pytest.mark.django_db
def test_signals_from_the_rollups_equal_signals_from_the_lines(settings):
    """The planted book (48 accounts, every signal kind), plus lines without a product line or margin and
    returns, as of days across a year and a half; and with a margin threshold every product passes."""
    rng = random.Random(37)
    accounts = [Account.objects.create(name=f"Account {n:02d}", segment=("Retail", "Trade")[n % 2]) for n in range(48)]
    book = planted_book(rng)
    write(accounts, book)
    OrderLine.objects.bulk_create([
        line(accounts[n], f"extra-{n}-{k}", (dt.date(2026, 2, 1) + dt.timedelta(days=9 * k + n)).isoformat(),
             f"Loose {k % 2}", "", f"{40 + k}.50", None if k % 3 else "30.00") for n in range(0, 48, 5) for k in range(20)
    ] + [line(accounts[n], f"return-{n}", "2026-06-15", "Fasteners item", "Fasteners", "-120.00", "-24.00")
         for n in range(0, 48, 7)])
    Quote.objects.create(account=Account.objects.create(name="Prospect"), number="Q-1", amount=Decimal("2500.00"), issued=dt.date(2026, 7, 1),
                         expires=dt.date(2026, 8, 5))
    assert_rollups_match()

    def candidates(as_of: dt.date, source: str) -> list[tuple]:
        return sorted((c.cause_key, c.kind, c.title, str(c.revenue), sorted(c.evidence.items()))
                      for c in detect(as_of, source=source))

    kinds = set()
    for as_of in (dt.date(2025, 6, 17), dt.date(2025, 12, 1), dt.date(2026, 3, 15), dt.date(2026, 8, 1),
                  dt.date(2026, 9, 20), dt.date(2026, 10, 12)):
        from_rollups = candidates(as_of, "rollup")
        assert from_rollups == candidates(as_of, "lines"), as_of
        kinds |= {c[1] for c in from_rollups}
    assert {"missed_reorder", "frequency_decline", "size_decline", "dropped_line", "high_margin_stopped",
            "expired_quote", "cross_sell_gap"} <= kinds, kinds
    as_of = dt.date(2026, 9, 20)

    def stopped(found: list[tuple]) -> int:
        return len([c for c in found if c[1] == "high_margin_stopped"])

    premium_only = stopped(candidates(as_of, "rollup"))
    settings.DEALGATE_SIGNALS = {**settings.DEALGATE_SIGNALS, "high_margin_pct": 1}
    wide = candidates(as_of, "rollup")
    assert wide == candidates(as_of, "lines")
    assert stopped(wide) > premium_only


@pytest.mark.django_db
def test_an_incremental_scan_sees_deleted_lines():
    """A weekly buyer's last six weeks of orders are deleted after a scan: it is now overdue. The next
    incremental scan (the day after, nothing new, nothing due) reads it again because the delete marked
    it, raises the missed reorder, and equals a full scan of the same day."""
    from .history import every, orders

    weekly, steady = Account.objects.create(name="Weekly"), Account.objects.create(name="Steady")
    orders(weekly, every("2026-01-05", 7, 30))  # to 2026-07-27
    orders(steady, every("2026-01-06", 7, 30))
    first = scan_signals(dt.date(2026, 7, 30))
    assert first.full and first.total == 0
    OrderLine.objects.filter(account=weekly, ordered_at__gte=dt.date(2026, 6, 15)).delete()
    assert list(LinesChanged.objects.values_list("account_id", flat=True)) == [weekly.pk]
    result = scan_signals(dt.date(2026, 7, 31))
    assert not result.full and result.accounts_read == 1
    raised = sorted(Signal.objects.values_list("cause_key", "evidence"))
    assert [key for key, _ in raised] == [f"missed_reorder:{weekly.pk}:2026-06-15"]
    assert not LinesChanged.objects.exists()
    Signal.objects.all().delete()
    scan_signals(dt.date(2026, 7, 31), full=True)
    assert sorted(Signal.objects.values_list("cause_key", "evidence")) == raised


@pytest.mark.django_db
def test_a_truncate_of_the_lines_empties_the_rollups_and_the_next_scan_is_full():
    """PostgreSQL: TRUNCATE fires none of the three triggers; its own one empties the rollups and forgets
    the last scan, so lines written after it (with any ids) are read by a full scan (decision 041)."""
    from .history import every, orders

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE FROM deletes row by row, through the delete trigger)")
    weekly = Account.objects.create(name="Weekly")
    orders(weekly, every("2026-01-05", 7, 30))
    assert scan_signals(dt.date(2026, 7, 30)).full
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's transaction holds the deferred key checks
        cursor.execute("TRUNCATE signals_orderline")
    assert not any(model.objects.exists() for model in (OrderDay, OrderLineDay, ProductMonth, AccountRecheck, ScanState))
    orders(weekly, every("2026-03-02", 7, 10), prefix="again-")
    assert_rollups_match()
    again = scan_signals(dt.date(2026, 7, 31))
    assert again.full and again.why_full == "no scan before"
