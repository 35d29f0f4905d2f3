"""The totals the scan keeps per account and per account x product line (decision 048).

A weekly buyer (30 orders of 1,000 every Monday from 2026-01-05 to 07-27, line Fasteners): as of 07-30 its
totals are 30 order days from 01-05, 30,000 of revenue, and its window functions read its days from
06-01, the oldest of its last 9 (`recent_gaps` + 1) order days (the 22nd: 01-05 + 21 weeks). Lines
added to an old day, to an existing day, imported twice or deleted change them at the next
incremental scan; at every step the scan's cadences from the kept totals equal the cadences from
the whole rollup, and the signals equal a full scan's. The product totals (decision 054) follow the same
steps: Bolt 30 x 1,000, then 500 more on an old day, 1,000 imported once, 1,000 deleted; Glue (50%
margin, the only high-margin product) 15 x 200 until all of Steady's lines are deleted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from dealgate.deals.models import Account
from dealgate.signals.cadence import cadences, thresholds
from dealgate.signals.importing import import_orders
from dealgate.signals.models import AccountTotal, LineTotal, OrderLine, ProductTotal, Signal
from dealgate.signals.services import scan_signals

from .history import d, every, orders


def kept() -> dict[tuple, tuple]:
    """(account, product line or "") -> (order days, first day, read from, revenue) as the scan kept them."""
    rows = {(a, ""): rest for a, *rest in AccountTotal.objects.values_list(
        "account_id", "orders", "first_day", "read_from", "revenue")}
    rows.update({(a, line): rest for a, line, *rest in LineTotal.objects.values_list(
        "account_id", "product_line", "orders", "first_day", "read_from", "revenue")})
    return {key: (n, first, read_from, Decimal(str(revenue)).quantize(Decimal("0.01")))
            for key, (n, first, read_from, revenue) in rows.items()}


def kept_products() -> dict[tuple, tuple]:
    """(account, product) -> (revenue, margin) as the scan kept them (decision 054)."""
    cents = Decimal("0.01")
    return {(a, product): (Decimal(str(revenue)).quantize(cents), Decimal(str(margin)).quantize(cents))
            for a, product, revenue, margin in ProductTotal.objects.values_list("account_id", "product", "revenue",
                                                                                "margin")}


def assert_kept_cadences_are_the_rollups(as_of: dt.date) -> None:
    for grain in ("account", "line"):
        assert cadences(as_of, grain, source="kept") == cadences(as_of, grain, source="rollup") != []
    high = thresholds()["high_margin_pct"]
    assert (cadences(as_of, "product", min_margin_pct=high, source="kept")
            == cadences(as_of, "product", min_margin_pct=high, source="rollup"))


def assert_same_as_a_full_scan(as_of: dt.date) -> None:
    raised = sorted(Signal.objects.filter(as_of=as_of).values_list("cause_key", "evidence"))
    Signal.objects.filter(as_of=as_of).delete()
    scan_signals(as_of, full=True)
    assert sorted(Signal.objects.filter(as_of=as_of).values_list("cause_key", "evidence")) == raised


def incremental(as_of: dt.date, units_read: int) -> None:
    """An incremental scan which read `units_read` accounts whole (those with added, changed or deleted lines)."""
    result = scan_signals(as_of)
    assert not result.full and result.units_read == units_read, result
    assert_kept_cadences_are_the_rollups(as_of)


@pytest.mark.django_db
def test_the_kept_totals_follow_added_reimported_and_deleted_lines(tmp_path):
    weekly, steady = Account.objects.create(name="Weekly"), Account.objects.create(name="Steady")
    orders(weekly, every("2026-01-05", 7, 30))
    orders(steady, every("2026-01-06", 14, 15), revenue=200, product="Glue", product_line="Adhesives", margin=100)
    assert scan_signals(d("2026-07-30")).full
    totals = kept()
    assert kept_products() == {(weekly.pk, "Bolt"): (Decimal("30000.00"), Decimal("0.00")),
                               (steady.pk, "Glue"): (Decimal("3000.00"), Decimal("1500.00"))}
    glue = cadences(d("2026-07-30"), "product", min_margin_pct=thresholds()["high_margin_pct"], source="kept")
    assert [(c.account_id, c.key, c.orders) for c in glue] == [(steady.pk, "Glue", 15)]
    assert totals[(weekly.pk, "")] == totals[(weekly.pk, "Fasteners")] == (
        30, d("2026-01-05"), d("2026-06-01"), Decimal("30000.00"))
    # Steady: every other Tuesday from 01-06, the 15th on 07-21; its last 9 from the 7th (03-31)
    assert totals[(steady.pk, "Adhesives")] == (15, d("2026-01-06"), d("2026-03-31"), Decimal("3000.00"))
    assert_kept_cadences_are_the_rollups(d("2026-07-30"))

    # a line on an old day (back-dated: a new order day) and one on an existing day (not a new order day)
    orders(weekly, ["2026-02-01"], revenue=500, prefix="late-")
    orders(weekly, ["2026-03-02"], revenue=250, product="Nut")
    incremental(d("2026-07-31"), 1)  # only Weekly: Steady has nothing new and nothing due
    assert kept()[(weekly.pk, "")] == (31, d("2026-01-05"), d("2026-06-01"), Decimal("30750.00"))
    assert kept()[(steady.pk, "Adhesives")] == totals[(steady.pk, "Adhesives")]
    assert kept_products()[(weekly.pk, "Bolt")] == (Decimal("30500.00"), Decimal("0.00"))
    assert kept_products()[(weekly.pk, "Nut")] == (Decimal("250.00"), Decimal("0.00"))
    assert_same_as_a_full_scan(d("2026-07-31"))

    # the same file imported twice: the second import adds nothing, the totals stay
    csv = tmp_path / "orders.csv"
    csv.write_text("account,order_id,ordered_at,product,product_line,quantity,revenue,margin\n"
                   "Weekly,X-1,2026-07-31,Bolt,Fasteners,10,1000,\n")
    assert import_orders(str(csv)).written
    incremental(d("2026-08-01"), 1)
    after_import = kept()
    # 07-31: a new order day, now the last; read from the oldest of the last 9 order days, 06-08
    assert after_import[(weekly.pk, "")] == (32, d("2026-01-05"), d("2026-06-08"), Decimal("31750.00"))
    assert kept_products()[(weekly.pk, "Bolt")] == (Decimal("31500.00"), Decimal("0.00"))
    products_after_import = kept_products()
    import_orders(str(csv))
    assert OrderLine.objects.filter(account=weekly, order_id="X-1").count() == 1
    incremental(d("2026-08-02"), 0)
    assert kept() == after_import
    assert kept_products() == products_after_import

    # a deleted order: 07-27 goes, 07-20 is the one before the last again; the 9 read from 06-01 again
    OrderLine.objects.filter(account=weekly, ordered_at=d("2026-07-27")).delete()
    incremental(d("2026-08-03"), 1)
    assert kept()[(weekly.pk, "")] == (31, d("2026-01-05"), d("2026-06-01"), Decimal("30750.00"))
    assert kept_products()[(weekly.pk, "Bolt")] == (Decimal("30500.00"), Decimal("0.00"))
    assert_same_as_a_full_scan(d("2026-08-03"))

    # every line of an account deleted: its kept rows go with them
    OrderLine.objects.filter(account=steady).delete()
    incremental(d("2026-08-04"), 1)
    assert [key for key in kept() if key[0] == steady.pk] == []
    assert [key for key in kept_products() if key[0] == steady.pk] == []


@pytest.mark.django_db
def test_a_truncate_leaves_no_stale_totals():
    """PostgreSQL: after a TRUNCATE of the lines the next scan is full and sums the totals again."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    weekly = Account.objects.create(name="Weekly")
    orders(weekly, every("2026-01-05", 7, 30))
    scan_signals(d("2026-07-30"))
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE signals_orderline")
    orders(weekly, every("2026-03-02", 7, 10), prefix="again-")  # to 05-04; 9 of 10: from 03-09
    assert scan_signals(d("2026-07-31")).full
    assert kept()[(weekly.pk, "")] == (10, d("2026-03-02"), d("2026-03-09"), Decimal("10000.00"))
    assert kept_products() == {(weekly.pk, "Bolt"): (Decimal("10000.00"), Decimal("0.00"))}
    assert_kept_cadences_are_the_rollups(d("2026-07-31"))
