"""Cadence per account and per product line, computed in SQL, as of a date."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Account
from dealgate.signals.cadence import cadence_of, cadences

from .history import d, every, orders


@pytest.fixture
def acme(db):
    return Account.objects.create(name="Acme Supply")


def test_it_takes_the_median_recent_gap_and_a_band_from_the_accounts_own_variability(acme):
    # gaps 30, 30, 30, 40, 30 -> sorted 30 30 30 30 40: median 30, quartiles 30 and 30, spread 0;
    # the band is then a quarter of the gap: ceil(7.5) = 8 days either side of 10 June + 30 = 10 July.
    orders(acme, ["2026-01-01", "2026-01-31", "2026-03-02", "2026-04-01", "2026-05-11", "2026-06-10"])
    cadence = cadence_of(acme.pk, d("2026-07-01"))
    assert cadence.has_cadence and cadence.orders == 6
    assert cadence.typical_gap == 30 and cadence.spread == 0 and cadence.tolerance == 8
    assert (cadence.expected, cadence.band_from, cadence.band_to) == (d("2026-07-10"), d("2026-07-02"), d("2026-07-18"))
    assert cadence.status == "on time"


def test_it_is_robust_to_one_long_pause_and_widens_the_band_for_an_irregular_buyer(acme):
    # gaps 20, 40, 20, 200, 40 -> sorted 20 20 40 40 200: median 40 (not the mean 64); q1 20, q3 40.
    orders(acme, ["2025-01-01", "2025-01-21", "2025-03-02", "2025-03-22", "2025-10-08", "2025-11-17"])
    cadence = cadence_of(acme.pk, d("2026-01-01"))
    assert cadence.typical_gap == 40 and cadence.spread == 20 and cadence.tolerance == 20


def test_it_weights_recent_gaps_by_reading_only_the_last_ones(acme, settings):
    settings.DEALGATE_SIGNALS = {**settings.DEALGATE_SIGNALS, "recent_gaps": 3}
    # four old gaps of 10 days, then three of 50: only the last three count -> 50.
    orders(acme, every("2025-01-01", 10, 5) + ["2025-03-02", "2025-04-21", "2025-06-10"])
    assert cadence_of(acme.pk, d("2025-07-01")).typical_gap == 50


def test_it_gives_no_cadence_to_an_account_with_too_few_orders_and_says_so(acme):
    orders(acme, ["2026-01-01", "2026-02-01", "2026-03-01"])
    cadence = cadence_of(acme.pk, d("2026-04-01"))
    assert not cadence.has_cadence and cadence.status == "no cadence"
    assert cadence.reason == "3 order day(s); a cadence needs at least 4"


def test_it_reads_only_orders_before_as_of_so_later_orders_never_change_it(acme):
    orders(acme, every("2026-01-01", 30, 6))
    before = cadence_of(acme.pk, d("2026-07-01")).as_dict()
    orders(acme, ["2026-07-01", "2026-07-05", "2026-08-01"], prefix="late-")
    assert cadence_of(acme.pk, d("2026-07-01")).as_dict() == before


def test_it_computes_a_cadence_per_product_line(acme):
    orders(acme, every("2026-01-01", 14, 8), product="Bolt", product_line="Fasteners")
    orders(acme, every("2026-01-01", 28, 4), product="Glue", product_line="Adhesives")
    by_line = {c.key: c for c in cadences(d("2026-06-01"), "line")}
    assert by_line["Fasteners"].typical_gap == 14 and by_line["Adhesives"].typical_gap == 28
    assert by_line["Fasteners"].orders == 8


def test_it_counts_recent_and_baseline_orders_in_their_windows(acme):
    # as of 1 July: the recent window is the 90 days from 2 April, the baseline the 270 days before that.
    orders(acme, ["2025-06-01", "2025-07-06", "2026-04-01", "2026-04-02", "2026-06-30", "2026-07-01"], revenue=500)
    cadence = cadence_of(acme.pk, d("2026-07-01"))
    assert (cadence.recent_orders, cadence.baseline_orders) == (2, 2)
    assert (cadence.recent_revenue, cadence.baseline_revenue) == (1000, 1000)
