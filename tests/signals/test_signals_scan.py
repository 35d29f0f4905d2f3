"""Each signal on a hand-made order history: raised when it should, not when it should not, never twice,
with the evidence numbers worked out by hand in the comments."""

from __future__ import annotations

import pytest

from dealgate.deals import services as deal_services
from dealgate.deals.models import Account
from dealgate.signals.detectors import detect
from dealgate.signals.models import Quote, Signal
from dealgate.signals.services import scan_signals

from .history import d, every, orders


def kinds(account: Account) -> list[str]:
    return sorted(Signal.objects.filter(account=account).values_list("kind", flat=True))


@pytest.fixture
def acme(db):
    return Account.objects.create(name="Acme Supply")


@pytest.fixture
def monthly(acme):
    """Six orders 30 days apart, the last on 31 May: expected 30 June, band +-8 days (a quarter of 30)."""
    orders(acme, every("2026-01-01", 30, 6))
    return acme


def test_it_raises_a_missed_reorder_with_its_evidence(monthly):
    result = scan_signals(d("2026-07-20"))
    signal = Signal.objects.get(account=monthly, kind="missed_reorder")
    # 50 days since 31 May > 1.5 x 30 = 45 and > 30 + 8; 20 days past 30 June.
    assert signal.evidence == {
        "last_order": "2026-05-31", "typical_gap_days": 30.0, "tolerance_days": 8.0, "expected": "2026-06-30",
        "band_to": "2026-07-08", "days_since_last": 50, "days_late": 20, "typical_order_revenue": 1000.0,
    }
    assert signal.revenue == 1000 and signal.status == "new" and result.raised == {"missed_reorder": 1}


def test_it_does_not_raise_a_missed_reorder_inside_the_factor_or_for_an_account_on_time(monthly):
    scan_signals(d("2026-07-10"))  # 40 days: past the band (38) but not 1.5 cycles (45): late, not missed
    assert kinds(monthly) == []


def test_it_never_raises_the_same_missed_reorder_twice(monthly):
    scan_signals(d("2026-07-20"))
    again = scan_signals(d("2026-07-20"))
    later = scan_signals(d("2026-07-25"))  # the same missed cycle (expected 30 June)
    assert again.total == 0 and later.total == 0
    assert kinds(monthly) == ["missed_reorder"]


def test_it_raises_an_order_frequency_decline(acme):
    # Baseline (6 Jul 2025 - 1 Apr 2026): nine orders, 30 days apart -> 9 x 90/270 = 3 per 90 days.
    # Recent 90 days (from 2 Apr 2026): one order. 1 < 3 x 60%: down round(100 x (1 - 1/3)) = 67%.
    orders(acme, every("2025-07-10", 30, 9) + ["2026-05-15"])
    scan_signals(d("2026-07-01"))
    signal = Signal.objects.get(account=acme, kind="frequency_decline")
    assert signal.evidence["orders_now"] == 1 and signal.evidence["orders_baseline"] == 3
    assert signal.evidence["drop_pct"] == 67
    assert signal.revenue == 2000  # two orders a quarter fewer, at 1,000 each


def test_it_raises_an_order_size_decline_and_no_frequency_decline_when_the_rhythm_holds(acme):
    # Baseline: twelve orders of 1,000, 20 days apart; recent: four of 400, 20 days apart (4 = 12 x 90/270).
    orders(acme, every("2025-08-01", 20, 12), revenue=1000)
    orders(acme, every("2026-04-10", 20, 4), revenue=400, prefix="small-")
    scan_signals(d("2026-07-01"))
    assert kinds(acme) == ["size_decline"]
    signal = Signal.objects.get(account=acme)
    assert (signal.evidence["average_order_now"], signal.evidence["average_order_baseline"]) == (400, 1000)
    assert signal.evidence["drop_pct"] == 60 and signal.revenue == 2400  # 600 less on each of 4 orders


def test_it_raises_a_dropped_product_line_while_the_account_buys_other_lines(acme):
    orders(acme, every("2026-01-01", 14, 13), product="Bolt", product_line="Fasteners")  # last 18 June
    orders(acme, every("2026-01-01", 28, 3), product="Glue", product_line="Adhesives", revenue=500)  # last 26 Feb
    scan_signals(d("2026-07-01"))
    signal = Signal.objects.get(account=acme, kind="dropped_line")
    # 125 days since 26 Feb > 3 cycles of 28; 125 // 28 = 4 cycles missed; a year of it: 500 x 365/28.
    assert signal.evidence["product_line"] == "Adhesives"
    assert (signal.evidence["days_since_last"], signal.evidence["cycles_missed"]) == (125, 4)
    assert float(signal.revenue) == pytest.approx(6517.86, abs=0.01)
    assert not Signal.objects.filter(kind="high_margin_stopped").exists()  # Glue had no margin


def test_it_does_not_raise_a_dropped_line_when_the_whole_account_stopped_or_the_line_was_never_regular(acme):
    orders(acme, every("2026-01-01", 14, 4), product="Bolt", product_line="Fasteners")  # all stop 12 Feb
    orders(acme, every("2026-01-01", 14, 4), product="Glue", product_line="Adhesives")
    orders(acme, ["2026-01-03", "2026-02-05"], product="Tape", product_line="Tapes")  # two orders: no cadence
    scan_signals(d("2026-07-01"))
    assert "dropped_line" not in kinds(acme)


def test_it_raises_a_high_margin_item_stopped_within_a_line_that_goes_on(acme):
    orders(acme, every("2026-01-01", 14, 13), product="Bolt", product_line="Fasteners", margin=100)
    orders(acme, every("2026-01-01", 14, 4), product="Titan bolt", product_line="Fasteners", revenue=800,
           margin=360)  # 45% margin, last 12 Feb
    scan_signals(d("2026-07-01"))
    # (The account's orders also shrank: 1,457 on average before 2 April, 1,000 since: a size decline too.)
    assert kinds(acme) == ["high_margin_stopped", "size_decline"]
    signal = Signal.objects.get(account=acme, kind="high_margin_stopped")
    # 139 days since 12 Feb = 9 cycles of 14; a year: 800 x 365/14.
    assert signal.evidence["product"] == "Titan bolt" and signal.evidence["margin_pct"] == 45.0
    assert signal.evidence["cycles_missed"] == 9
    assert float(signal.revenue) == pytest.approx(20857.14, abs=0.01)


def quote(account: Account, number: str = "Q-1", status: str = "open") -> Quote:
    return Quote.objects.create(account=account, number=number, amount=2500, issued=d("2026-05-01"),
                                expires=d("2026-05-31"), status=status)


def test_it_raises_an_expired_quote_without_an_order_once(acme):
    quote(acme)
    scan_signals(d("2026-07-01"))
    scan_signals(d("2026-07-02"))
    signal = Signal.objects.get(account=acme, kind="expired_quote")
    assert signal.revenue == 2500 and signal.evidence["days_since_expiry"] == 31


def test_it_raises_no_expired_quote_after_an_order_an_open_deal_or_an_accepted_quote(world, pipeline):
    ordered, in_deal, accepted = (Account.objects.create(name=n) for n in ("Ordered", "In deal", "Accepted"))
    quote(ordered)
    orders(ordered, ["2026-06-10"])
    quote(in_deal)
    deal_services.create_deal(by=world.alice, title="Reorder", account=in_deal, pipeline=pipeline)
    quote(accepted, status="accepted")
    scan_signals(d("2026-07-01"))
    assert not Signal.objects.filter(kind="expired_quote").exists()


def test_it_never_lets_orders_on_or_after_as_of_change_what_a_scan_finds(monthly):
    before = [c.__dict__ for c in detect(d("2026-07-20"))]
    orders(monthly, ["2026-07-20", "2026-07-21", "2026-09-01"], prefix="later-")
    assert [c.__dict__ for c in detect(d("2026-07-20"))] == before and before


def retail_with_a_tools_gap() -> list[Account]:
    """Six retail shops: five buy Fasteners (1 March 2026) and Adhesives (2 March), four of them Tools
    (3 March); the sixth buys Fasteners only. A wholesale depot buys Fasteners and Adhesives."""
    retail = [Account.objects.create(name=f"Shop {i}", segment="Retail") for i in range(6)]
    for shop in retail[:5]:
        orders(shop, ["2026-03-01"], product="Bolt", product_line="Fasteners")
        orders(shop, ["2026-03-02"], product="Glue", product_line="Adhesives")
    for shop, revenue in zip(retail[:4], (1000, 2000, 3000, 4000)):
        orders(shop, ["2026-03-03"], product="Drill", product_line="Tools", revenue=revenue)
    orders(retail[5], ["2026-03-01"], product="Bolt", product_line="Fasteners")  # one line: a specialist
    wholesale = Account.objects.create(name="Depot", segment="Wholesale")
    orders(wholesale, ["2026-03-01"], product="Bolt", product_line="Fasteners")
    orders(wholesale, ["2026-03-02"], product="Glue", product_line="Adhesives")
    return retail


def test_it_raises_a_cross_sell_gap_against_similar_accounts(db):
    retail = retail_with_a_tools_gap()
    scan_signals(d("2026-07-01"))
    gap = Signal.objects.get(kind="cross_sell_gap")
    # Tools: 4 of the 6 retail accounts (67% >= 60%); Shop 4 buys two lines but not Tools; the median
    # yearly Tools revenue of the buyers is (2000 + 3000) / 2 = 2500. Depot's segment has no 5 peers.
    assert gap.account == retail[4] and gap.revenue == 2500
    assert gap.evidence == {"product_line": "Tools", "peers": 6, "peers_buying": 4, "share_pct": 67,
                            "segment": "Retail", "typical_yearly_revenue": 2500.0}


# What the signals list shows of each kind (its title) and the cause it is raised once for, on the
# histories above, worked out by hand.

def test_a_missed_reorder_names_its_lateness_and_the_cycle_it_is_for(monthly):
    scan_signals(d("2026-07-20"))
    signal = Signal.objects.get(account=monthly)
    assert signal.title == "Reorder 20 days late (usually every 30 days)"
    assert signal.cause_key == f"missed_reorder:{monthly.pk}:2026-06-30"


def test_a_frequency_decline_says_how_many_orders_against_the_usual_and_its_quarter(acme):
    orders(acme, every("2025-07-10", 30, 9) + ["2026-05-15"])
    scan_signals(d("2026-07-01"))
    signal = Signal.objects.get(account=acme, kind="frequency_decline")
    assert signal.title == "Orders down 67% (1 in the last 90 days, usually 3.0)"
    assert signal.cause_key == f"frequency_decline:{acme.pk}:2026-Q3"
    assert signal.evidence == {"window_days": 90, "orders_now": 1, "orders_baseline": 3.0, "baseline_days": 270,
                               "baseline_orders_total": 9, "drop_pct": 67, "baseline_order_revenue": 1000.0}


def test_a_size_decline_compares_the_average_orders_and_names_its_quarter(acme):
    orders(acme, every("2025-08-01", 20, 12), revenue=1000)
    orders(acme, every("2026-04-10", 20, 4), revenue=400, prefix="small-")
    scan_signals(d("2026-06-30"))  # 30 June: the second quarter
    signal = Signal.objects.get(account=acme)
    assert signal.title == "Orders 60% smaller (400 against 1,000)"
    assert signal.cause_key == f"size_decline:{acme.pk}:2026-Q2"
    assert signal.evidence == {"average_order_now": 400.0, "average_order_baseline": 1000.0, "orders_now": 4,
                               "orders_baseline": 12, "drop_pct": 60, "window_days": 90}


def test_a_dropped_line_and_a_stopped_item_give_every_figure_of_their_evidence(acme):
    orders(acme, every("2026-01-01", 14, 13), product="Bolt", product_line="Fasteners", margin=100)  # last 18 June
    orders(acme, every("2026-01-01", 28, 3), product="Glue", product_line="Adhesives", revenue=500)  # last 26 Feb
    orders(acme, every("2026-01-01", 14, 4), product="Titan bolt", product_line="Fasteners", revenue=800,
           margin=360)  # last 12 February
    scan_signals(d("2026-07-01"))
    line = Signal.objects.get(account=acme, kind="dropped_line")
    assert line.title == "Stopped buying Adhesives (4 cycles missed)"
    assert line.cause_key == f"dropped_line:{acme.pk}:Adhesives:2026-02-26"
    # 125 days since 26 Feb: 4 whole cycles of 28; a year: 500 x 365 / 28 = 6,517.857...
    assert line.evidence == {"product_line": "Adhesives", "last_order": "2026-02-26", "typical_gap_days": 28.0,
                             "days_since_last": 125, "cycles_missed": 4, "account_last_order": "2026-06-18",
                             "orders": 3, "typical_order_revenue": 500.0, "yearly_revenue": 6517.86}
    item = Signal.objects.get(account=acme, kind="high_margin_stopped")
    assert item.title == "Stopped buying Titan bolt (45% margin)"
    assert item.cause_key == f"high_margin_stopped:{acme.pk}:Titan bolt:2026-02-12"
    # 360 / 800 = 45% margin; 139 days since 12 Feb: 9 cycles of 14; a year: 800 x 365 / 14 = 20,857.14
    assert item.evidence == {"product": "Titan bolt", "margin_pct": 45.0, "last_order": "2026-02-12",
                             "typical_gap_days": 14.0, "days_since_last": 139, "cycles_missed": 9,
                             "account_last_order": "2026-06-18", "orders": 4, "typical_order_revenue": 800.0,
                             "yearly_revenue": 20857.14}


def test_an_expired_quote_gives_its_number_amount_currency_and_dates(acme):
    q = quote(acme, number="Q-77")
    scan_signals(d("2026-07-01"))
    signal = Signal.objects.get(account=acme)
    assert (signal.kind, signal.title, signal.cause_key) == (
        "expired_quote", "Quote Q-77 expired without an order", f"expired_quote:{q.pk}")
    assert signal.evidence == {"quote": "Q-77", "amount": 2500.0, "currency": "EUR", "issued": "2026-05-01",
                               "expires": "2026-05-31", "days_since_expiry": 31}


def test_the_dates_an_account_must_be_read_again_without_a_new_order(monthly):
    """As of 10 June (orders 1 Jan ... 31 May, every 30 days; typical gap 30, band 8):
    - the oldest order in the recent 90 days (from 12 March) is 1 April: it leaves them on 1 July
      (1 April + 91 days); the oldest in the baseline, 1 January, leaves it on 28 December (+ 361);
    - overdue after max(30 + 8, 1.5 x 30) = 45 days: read again on 16 July (31 May + 46);
    - the product line (the same orders) stops after 3 cycles of 30 days: 30 August (31 May + 91)."""
    from dealgate.signals.detectors import Recheck, detect_for

    found, rechecks = detect_for(d("2026-06-10"))
    assert found == [] and rechecks == {monthly.pk: Recheck(account=d("2026-07-01"), units=d("2026-08-30"))}
    assert rechecks[monthly.pk].first == d("2026-07-01")
    # Past the window change, the overdue date is the next; the line's stop date is kept apart.
    _, rechecks = detect_for(d("2026-07-05"))
    assert rechecks[monthly.pk] == Recheck(account=d("2026-07-16"), units=d("2026-08-30"))
    # On 16 July itself the overdue date is today, not a date to come: the next is the window change,
    # 1 May (the oldest order since 17 April) + 91 = 31 July.
    _, rechecks = detect_for(d("2026-07-16"))
    assert rechecks[monthly.pk] == Recheck(account=d("2026-07-31"), units=d("2026-08-30"))
    assert Recheck(units=d("2026-08-01")).first == d("2026-08-01") and Recheck().first is None


def test_the_reference_reads_the_order_lines_not_the_rollups(monthly):
    """`detect(source="lines")` is what the rollups are checked against (test_rollups.py): with the
    rollups emptied behind the triggers' back it still finds the missed reorder; the rollups find nothing."""
    from django.db import connection

    orders(monthly, every("2026-01-01", 14, 4), product="Titan bolt", revenue=800, margin=360)  # to 12 February
    orders(monthly, every("2026-01-02", 28, 3), product="Glue", product_line="Adhesives", revenue=500)  # 27 Feb
    retail_with_a_tools_gap()
    with connection.cursor() as cursor:
        for table in ("signals_orderday", "signals_orderlineday", "signals_productmonth"):
            cursor.execute(f"DELETE FROM {table}")
    found = {c.kind for c in detect(d("2026-07-20"), source="lines")}  # the shops' declines too
    assert {"cross_sell_gap", "dropped_line", "high_margin_stopped", "missed_reorder"} <= found
    assert detect(d("2026-07-20")) == []


def test_the_declines_at_their_thresholds(db):
    """As of 1 July 2026: the recent 90 days start 2 April, the 270-day baseline 6 July 2025.
    Frequency: a baseline of n orders is n x 90/270 a window; a decline is fewer than 60% of it.
    Size: recent orders smaller on average than 70% of the baseline's, with two of each at least."""
    base = every("2025-07-10", 27, 10)  # ten orders, the last on 10 March
    a, b, c, e, f = (Account.objects.create(name=n) for n in "ABCEF")
    orders(a, base + ["2026-05-15"])  # 1 against 10/3 = 3.33: down round(100 x (1 - 0.3)) = 70%
    orders(b, base + ["2026-05-01", "2026-06-01"])  # 2 against 3.33 x 60% = 2.0: not fewer
    orders(c, ["2025-09-01", "2025-11-01", "2026-01-01"])  # the fewest a baseline may have: 3 -> 1.0, now 0
    orders(e, every("2025-08-01", 40, 6))  # six of 1,000 (6 x 90/270 = 2 a window, as now)
    orders(e, ["2026-05-01", "2026-06-01"], revenue=500, prefix="small-")  # two of 500: 50% smaller
    orders(f, every("2025-08-01", 40, 6))
    orders(f, ["2026-05-01", "2026-06-01"], revenue=700, prefix="small-")  # 700 is 70% of 1,000: not smaller
    g, h, i = (Account.objects.create(name=n) for n in "GHI")
    orders(g, ["2025-09-01", "2025-11-01"])  # the fewest a size baseline may have: 2 (too few for frequency)
    orders(g, ["2026-05-01", "2026-06-01"], revenue=500, prefix="small-")
    orders(h, ["2025-09-01", "2025-11-01"], revenue=0)  # free samples, then two credit notes: no average to
    orders(h, ["2026-05-01", "2026-06-01"], revenue=-100, prefix="credit-")  # fall from
    orders(i, ["2025-09-01", "2025-11-01"], revenue=1)  # an average of 1.00, then 0.50
    orders(i, ["2026-05-01", "2026-06-01"], revenue=0.5, prefix="small-")
    scan_signals(d("2026-07-01"))
    declines = {(s.account.name, s.kind): s for s in Signal.objects.filter(kind__in=["frequency_decline",
                                                                                      "size_decline"])}
    assert sorted(declines) == [("A", "frequency_decline"), ("C", "frequency_decline"), ("E", "size_decline"),
                                ("G", "size_decline"), ("I", "size_decline")]
    fewer = declines["A", "frequency_decline"]
    assert fewer.title == "Orders down 70% (1 in the last 90 days, usually 3.3)"
    assert (fewer.evidence["orders_baseline"], fewer.evidence["drop_pct"]) == (3.33, 70)
    assert float(fewer.revenue) == 2333.33  # (3.33... - 1) orders of 1,000
    none_now = declines["C", "frequency_decline"]
    assert none_now.title == "Orders down 100% (0 in the last 90 days, usually 1.0)" and none_now.revenue == 1000
    smaller = declines["E", "size_decline"]
    assert smaller.title == "Orders 50% smaller (500 against 1,000)" and smaller.revenue == 1000  # 500 less, twice


def test_a_line_stops_after_more_than_its_cycles_while_the_account_buys_on(db):
    """Adhesives every 28 days (1 Jan, 29 Jan, 26 Feb): stopped after more than 3 x 28 = 84 days, while the
    account's last order is more than one cycle (28 days) after the line's."""
    from dealgate.signals.detectors import detect

    on, short = Account.objects.create(name="Buys on"), Account.objects.create(name="Stopped a cycle later")
    for account in (on, short):
        orders(account, every("2026-01-01", 28, 3), product="Glue", product_line="Adhesives", revenue=500)
    orders(on, every("2026-01-01", 14, 10), product="Bolt", product_line="Fasteners")  # last 7 May: 70 days later
    orders(short, every("2026-01-01", 14, 7), product="Bolt", product_line="Fasteners")  # last 26 Mar: 28 days

    def dropped(as_of):
        return [(c.account_id, c.evidence["days_since_last"]) for c in detect(d(as_of)) if c.kind == "dropped_line"]

    assert dropped("2026-05-21") == []  # 84 days: three cycles, not more
    assert dropped("2026-05-22") == [(on.pk, 85)]
    assert dropped("2026-06-01") == [(on.pk, 95)]  # the other account stopped one cycle after the line: no


def test_a_high_margin_item_from_its_threshold_with_a_margin_in_tenths(acme):
    """Bolt (10% margin) every 14 days to 18 June; three items, 4 orders 14 days apart to 12 February:
    Hex at exactly 35% (1,400 / 4,000), Titan at 37.625% (1,204 / 3,200), Sample at 40% of a total of 1.00."""
    from dealgate.signals.detectors import detect

    orders(acme, every("2026-01-01", 14, 13), product="Bolt", margin=100)
    orders(acme, every("2026-01-01", 14, 4), product="Hex", margin=350)
    orders(acme, every("2026-01-01", 14, 4), product="Titan", revenue=800, margin=301)
    orders(acme, every("2026-01-01", 14, 4), product="Sample", revenue=0.25, margin=0.1)
    stopped = {c.evidence["product"]: c for c in detect(d("2026-07-01")) if c.kind == "high_margin_stopped"}
    assert sorted(stopped) == ["Hex", "Sample", "Titan"]
    assert [stopped[p].evidence["margin_pct"] for p in ("Hex", "Sample", "Titan")] == [35.0, 40.0, 37.6]
    assert stopped["Titan"].title == "Stopped buying Titan (38% margin)"
    assert stopped["Sample"].revenue == 6.52  # 0.25 x 365 / 14 a year


def test_an_expired_quote_counts_only_its_accounts_orders_since_issue_and_its_open_deals(world, pipeline, acme):
    """Acme's quote Q-1 (issued 1 May, expired 31 May), as of 1 July: an order of Acme's before the issue, one
    on 1 July or later, a lost deal of Acme's and an open deal on another account leave it unanswered. Other's
    quote expires on 1 July itself: not expired yet."""
    quote(acme)
    orders(acme, ["2026-04-20", "2026-07-01", "2026-07-05"])
    lost = deal_services.create_deal(by=world.alice, title="Acme's lost deal", account=acme, pipeline=pipeline)
    deal_services.move_deal(lost, "lost", by=world.alice, lost_reason="price")
    other = Account.objects.create(name="Other")
    deal_services.create_deal(by=world.alice, title="Other's deal", account=other, pipeline=pipeline)
    Quote.objects.create(account=Account.objects.create(name="Valid"), number="Q-2", amount=100,
                         issued=d("2026-06-01"), expires=d("2026-07-01"))
    assert [(c.kind, c.account_id) for c in detect(d("2026-07-01")) if c.kind == "expired_quote"] == [
        ("expired_quote", acme.pk)]


def test_a_partial_read_gives_the_line_and_item_candidates_of_the_accounts_named_only(db):
    """What an incremental scan reads (decision 041): every figure of the accounts named, and the product
    lines and items of `unit_ids` (default: the same accounts); their recheck dates say the same."""
    from dealgate.signals.detectors import detect_for

    a, b, c = (Account.objects.create(name=n) for n in "ABC")
    for account in (a, b, c):  # as in the dropped-line and high-margin tests above
        orders(account, every("2026-01-01", 14, 13), product="Bolt", product_line="Fasteners", margin=100)
        orders(account, every("2026-01-01", 28, 3), product="Glue", product_line="Adhesives", revenue=500)
        orders(account, every("2026-01-01", 14, 4), product="Titan bolt", product_line="Fasteners", revenue=800,
               margin=360)
    each = ["dropped_line", "high_margin_stopped", "size_decline"]

    def read(*args, **kwargs):
        found, rechecks = detect_for(d("2026-07-01"), *args, **kwargs)
        return sorted((x.account_id, x.kind) for x in found), rechecks

    assert read()[0] == [(x.pk, kind) for x in (a, b, c) for kind in each]
    found, rechecks = read([a.pk])
    assert found == [(a.pk, kind) for kind in each] and list(rechecks) == [a.pk]
    found, rechecks = read([a.pk, b.pk], unit_ids=[a.pk])
    assert found == [*((a.pk, kind) for kind in each), (b.pk, "size_decline")]
    assert rechecks[a.pk].units is not None and rechecks[b.pk].units is None and c.pk not in rechecks


def test_the_overdue_date_of_a_buyer_whose_band_is_wider_than_half_a_gap(acme):
    """Gaps 20, 60, 20, 60, 40 -> sorted 20 20 40 60 60: typical 40, quartiles 20 and 60, band 40 days. As of
    15 September 2025 (last order 20 July) it is overdue after max(40 + 40, 1.5 x 40) = 80 days: read again on
    9 October (+ 81), before the window change (20 July, the oldest order since 17 June, + 91 = 19 October)."""
    from dealgate.signals.detectors import detect_for

    orders(acme, ["2025-01-01", "2025-01-21", "2025-03-22", "2025-04-11", "2025-06-10", "2025-07-20"])
    _, rechecks = detect_for(d("2025-09-15"))
    assert rechecks[acme.pk].account == d("2025-10-09")


def test_a_cross_sell_year_is_the_365_days_before_as_of(db):
    """As of 2 March 2027 the year starts 2 March 2026: Shop 4 bought Adhesives only (one line), no gap;
    as of 1 March 2027 its Fasteners count too, and it lacks the Tools four of the six shops buy."""
    from dealgate.signals.detectors import cross_sell_gaps

    retail = retail_with_a_tools_gap()
    assert cross_sell_gaps(d("2027-03-02")) == []
    assert [(c.account_id, c.evidence["product_line"]) for c in cross_sell_gaps(d("2027-03-01"))] == [
        (retail[4].pk, "Tools")]


def test_each_cross_sell_source_reads_its_own_table(db):
    """"lines": the order lines (a blank product line is no line); the default: the line-day rollup; "kept":
    the year's sums the scan keeps. Emptied one after the other behind the triggers' back."""
    from django.db import connection

    from dealgate.signals.detectors import cross_sell_gaps

    retail = retail_with_a_tools_gap()
    for shop in retail[:4]:
        orders(shop, ["2026-03-04"], product="Gift card", product_line="")
    scan_signals(d("2026-07-01"))  # keeps the year's sums
    as_of, gap = d("2026-07-01"), [(retail[4].pk, "Tools")]

    def found(source):
        return [(c.account_id, c.evidence["product_line"]) for c in cross_sell_gaps(as_of, source=source)]

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM signals_orderlineday")
    assert (found("lines"), found("rollup"), found("kept")) == (gap, [], gap)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM signals_lineyear")
    assert (found("lines"), found("kept")) == (gap, [])



def test_the_scan_reads_the_kept_year_sums_for_its_cross_sell_gaps(db):
    """`detect_for(kept=True)` (what the scan calls) takes the cross-sell gap from the year's sums the scan
    keeps, not from the line-day rollup: with the rollup emptied behind the triggers' back after a scan on
    1 July 2026, the kept sums still show the fifth retail shop lacking the Tools four of the six buy; the
    default (rollup) source finds nothing."""
    from django.db import connection

    from dealgate.signals.detectors import detect_for

    retail = retail_with_a_tools_gap()
    as_of = d("2026-07-01")
    scan_signals(as_of)  # keeps the year's sums
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM signals_orderlineday")

    def gaps(**kept):
        return [(c.account_id, c.evidence["product_line"]) for c in detect_for(as_of, **kept)[0]
                if c.kind == "cross_sell_gap"]

    assert gaps(kept=True) == [(retail[4].pk, "Tools")]
    assert gaps() == []

def test_cross_sell_peers_at_their_thresholds_with_and_without_a_segment(db, settings):
    """Two garden centres (too few to compare), then five accounts without a segment (exactly the five
    peers needed): all buy Fasteners and Adhesives, three of them Tools (exactly 60%); then the retail
    shops, where one also buys Abrasives (1 of 6: too few). As of 1 July 2026."""
    from dealgate.signals.detectors import cross_sell_gaps

    garden = [Account.objects.create(name=f"Garden {i}", segment="Garden") for i in range(2)]
    plain = [Account.objects.create(name=f"Plain {i}") for i in range(5)]
    for account in garden + plain:
        orders(account, ["2026-03-01"], product="Bolt", product_line="Fasteners")
        orders(account, ["2026-03-02"], product="Glue", product_line="Adhesives")
    orders(garden[0], ["2026-03-03"], product="Drill", product_line="Tools")
    for account in plain[:3]:
        orders(account, ["2026-03-03"], product="Drill", product_line="Tools")
    retail = retail_with_a_tools_gap()
    orders(retail[0], ["2026-03-04"], product="Sandpaper", product_line="Abrasives")
    gaps = sorted(((c.account_id, c.title, c.evidence["segment"], c.evidence["share_pct"], c.revenue)
                   for c in cross_sell_gaps(d("2026-07-01"))), key=lambda g: g[0])
    sixty = "Does not buy Tools, which 60% of similar accounts buy"
    assert gaps == [(plain[3].pk, sixty, "(no segment)", 60, 1000.0), (plain[4].pk, sixty, "(no segment)", 60, 1000.0),
                    (retail[4].pk, "Does not buy Tools, which 67% of similar accounts buy", "Retail", 67, 2500.0)]
    settings.DEALGATE_SIGNALS = {**settings.DEALGATE_SIGNALS, "cross_sell_share_pct": 67}
    assert cross_sell_gaps(d("2026-07-01")) == []  # 4 of 6 is 66.7%: under 67%
