"""Where an incremental signal scan spends its time, part by part (nothing is kept: rolled back).

    DATABASE_URL=... python bench/profile_signal_scan.py [--new-lines]

After a `bench_signals.py --load bulk` run (its last scan is a full one as of the day after the cutoff):
times each part of the incremental scan of the next day, inside one transaction that is rolled back.
`--new-lines`: first copies the last order day's lines one day on (as `bench_signals.py --next-day`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from _setup import database_label, django_setup, machine_label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-lines", action="store_true")
    parser.add_argument("--whole", action="store_true", help="time scan_signals() as a whole, not its parts")
    args = parser.parse_args()
    django_setup("signals")
    from django.db import connection, transaction

    from dealgate.deals.bulk import BulkWriter
    from dealgate.signals import detectors, services
    from dealgate.signals.cadence import cadences, thresholds
    from dealgate.signals.models import LinesChanged, OrderLine, ScanState

    timings: list[tuple[str, float]] = []

    def timed(name, call, *a, **k):
        started = time.perf_counter()
        result = call(*a, **k)
        timings.append((name, time.perf_counter() - started))
        return result

    print(f"database: {database_label()}; machine: {machine_label()}")
    with transaction.atomic():
        last = ScanState.objects.get()
        day = last.as_of + dt.timedelta(days=1)
        if args.new_lines:
            newest = OrderLine.objects.order_by("-ordered_at").values_list("ordered_at", flat=True).first()
            rows = [(a, f"{o}-profile", k, last.as_of, p, pl, q, r, m) for a, o, k, p, pl, q, r, m in
                    OrderLine.objects.filter(ordered_at=newest).values_list(
                        "account_id", "order_id", "line_key", "product", "product_line", "quantity", "revenue",
                        "margin")]
            timed(f"write {len(rows):,} new lines dated {last.as_of}", BulkWriter(OrderLine, [
                "account_id", "order_id", "line_key", "ordered_at", "product", "product_line", "quantity",
                "revenue", "margin"]).insert, rows)
        started = time.perf_counter()
        if args.whole:
            result = services.scan_signals(day)
            print(f"scan_signals({day}): {time.perf_counter() - started:.2f} s, {result.total} signals, "
                  f"{'FULL: ' + result.why_full if result.full else 'incremental'}, {result.accounts_read:,} accounts "
                  f"read, {result.units_read:,} with their lines; load {__import__('os').getloadavg()[0]:.1f}")
            transaction.set_rollback(True)
            return
        marked = list(LinesChanged.objects.values_list("account_id", flat=True))
        rescan = timed("accounts to rescan", services.accounts_to_rescan, day, last, marked)
        assert rescan.accounts is not None, rescan.why_full
        timed(f"account cadences, whole history (before 048, {len(rescan.accounts):,} accounts)",
              cadences, day, "account", account_ids=rescan.accounts)
        timed(f"line cadences, whole history (before 048, {len(rescan.units or ()):,} accounts)", cadences, day,
              "line", account_ids=rescan.units)
        timed(f"kept totals: new days added, {len(rescan.recount or ()):,} accounts summed again (048)",
              services.keep_totals, day, last, rescan.recount)
        accounts = {c.account_id: c for c in timed("account cadences from the kept totals (048)", cadences, day,
                                                   "account", account_ids=rescan.accounts, source="kept")}
        lines = timed("line cadences from the kept totals (048)", cadences, day, "line", account_ids=rescan.units,
                      source="kept")
        high_margin = thresholds()["high_margin_pct"]
        timed("product cadences, high-margin pick from the product months (before 054)", cadences, day, "product",
              account_ids=rescan.units, min_margin_pct=high_margin)
        timed("product totals: new lines added (054)", services.keep_product_totals, day, last, rescan.recount)
        products = timed("product cadences, high-margin pick from the kept totals (054)", cadences, day, "product",
                         account_ids=rescan.units, min_margin_pct=high_margin, source="kept")
        timed("rules on the cadences", lambda: [r(c) for c in accounts.values() for r in (
            detectors.missed_reorder, detectors.frequency_decline, detectors.size_decline)]
            + detectors.dropped_lines(lines, accounts) + detectors.high_margin_stopped(products, accounts))
        timed("expired quotes", detectors.expired_quotes, day)
        timed("cross-sell gaps from a year of line-days (before 045)", detectors.cross_sell_gaps, day)
        timed("year's sums slid and recounted (045)", services.keep_line_years, day, last, rescan.recount)
        timed("cross-sell gaps from the year's sums (045)", detectors.cross_sell_gaps, day, source="kept")
        rechecks = timed("recheck dates", detectors.recheck_dates, day, accounts, [*lines, *products])
        timed("save recheck dates", services.save_rechecks, rechecks, rescan)
        total = time.perf_counter() - started
        transaction.set_rollback(True)
    for name, seconds in timings:
        print(f"{name:<55}{seconds:8.2f} s")
    print(f"{'incremental scan parts, total':<55}{total:8.2f} s (as of {day}; rolled back)")
    connection.close()


if __name__ == "__main__":
    main()
