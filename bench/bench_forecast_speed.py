"""Benchmark: `forecast()` for one pipeline, cold and warm, with new business and the calibrated range (issue 15).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/forecast_speed python bench/bench_forecast_speed.py --deals 100000
    DATABASE_URL=... python bench/bench_forecast_speed.py --deals 100000 --profile 25   # cProfile, threads off
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/forecast_1m python bench/bench_forecast_speed.py \
        --deals 1000000 --copy-from 100000          # 100,000 generated, then copied with SQL (PostgreSQL)
    DATABASE_URL=... python bench/bench_forecast_speed.py --deals 100000 --page   # also GET /insights/forecast/
    DATABASE_URL=... python bench/bench_forecast_speed.py --deals 100000 --page --user diana --profile 70   # a rep's cold page

Data: `generate(deals=N, seed=11, today=2026-11-24)` (generated once; `--deals` is the least the database
must hold). With `--copy-from M` only M deals are generated (about 300 deals/s); the rest are copies
of them made with SQL (`copy_deals`): each deal with its stage history, field changes and state spans,
ids shifted, same account, owner, stage, amounts and timestamps (activities, contacts and the other
tables the forecast does not read are not copied), then a rewrite note and VACUUM ANALYZE. Copies
multiply every count and amount by the same factor; the timing tables' rates stay those of the M.

Timed: the three methods for the quarter after `--period` (default 2026-Q4) as of now, as
bench_insights.py times its forecast. Per run, three calls:
  first ever  nothing stored: the figure cache emptied and the stored past figures deleted
              (analytics.StoredFigure, decision 044), as on the first forecast of the day
  cold        the figure cache emptied (a new process), the past windows stored by the run before
  warm        the same call again (the window as of now is computed again only if a span was written)
Prints the median of `--repeat` runs of each, the machine load (1 minute, `uptime`) and the figures,
so two trees can be compared number for number. `--page`: the same three for the forecast page
(GET /insights/forecast/ through Django's test client, as admin, or as `--user`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

from _setup import database_label, django_setup, machine_label

from bench_insights import TODAY, ensure


def copy_deals(target: int) -> int:
    """Copy the deals (PostgreSQL, SQL only) until at least `target`: each round copies every deal
    generated so far with its stage history, field changes and state spans, ids shifted by a round's
    offset. Returns how many deals the database holds."""
    from django.db import connection

    assert connection.vendor == "postgresql", "--copy-from copies with PostgreSQL's SQL"
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), MAX(id) FROM deals_deal")
        base, top = cursor.fetchone()
        tables = {"deal": "deals_deal", "history": "deals_stagehistory", "change": "deals_fieldchange",
                  "span": "deals_statespan"}
        columns = {}
        for name, table in tables.items():
            cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                           "ORDER BY ordinal_position", [table])
            columns[name] = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT MAX(id) FROM deals_stagehistory")
        history_top = cursor.fetchone()[0]
        cursor.execute("SELECT MAX(id) FROM deals_fieldchange")
        change_top = cursor.fetchone()[0] or 0
        cursor.execute("SELECT MAX(id) FROM deals_statespan")
        span_top = cursor.fetchone()[0]
        shifted = {"id": "{table}.id + %(step)s * %(top_{name})s", "deal_id": "deal_id + %(step)s * %(top_deal)s",
                   "history_id": "history_id + %(step)s * %(top_history)s",
                   "external_id": "CASE WHEN external_id IS NULL THEN NULL ELSE external_id || '-copy' || %(step)s END"}
        tops = {"top_deal": top, "top_history": history_top, "top_change": change_top, "top_span": span_top}
        have, step = base, 0
        while have < target:
            step += 1
            began = time.perf_counter()
            for name, table in tables.items():
                select = ", ".join(shifted.get(c, c).format(table=table, name=name) for c in columns[name])
                where = "id <= %(top_deal)s" if name == "deal" else "deal_id <= %(top_deal)s"
                cursor.execute(f"INSERT INTO {table} ({', '.join(columns[name])}) "
                               f"SELECT {select} FROM {table} WHERE {where} AND {table}.id <= %(top_{name})s",
                               {**tops, "step": step})
            have += base
            print(f"  copied {base:,} deals (round {step}): {have:,} in {time.perf_counter() - began:.0f} s", flush=True)
        for table in tables.values():
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        # every past figure must hear of the copies, as of any import
        cursor.execute("INSERT INTO deals_spanrewrite (changed_from, written_at) VALUES (NULL, now())")
        for table in tables.values():
            cursor.execute(f"VACUUM ANALYZE {table}")
    return have


def timed(call: Callable[[], object], first: Callable[[], None], runs: dict[str, list[float]]) -> object:
    """One "first ever", one "cold" and one "warm" call, their times appended to `runs`."""
    from django.core.cache import cache

    made = None
    for kind in ("first ever", "cold", "warm"):
        if kind == "first ever":
            first()
        if kind != "warm":
            cache.clear()
        began = time.perf_counter()
        made = call()
        runs[kind].append(time.perf_counter() - began)
    return made


def _page_getter(scope, period, username: str | None = None) -> Callable[[], None]:
    """GET /insights/forecast/ for the scope's pipeline and the period, as the admin or `username`
    (Django's test client)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from dealgate.people.models import Profile, Role

    client = Client()
    client.force_login(get_user_model().objects.get(username=username) if username else
                       Profile.objects.filter(role=Role.ADMIN).select_related("user").first().user)
    url = f"/insights/forecast/?pipeline={scope.pipeline_id}&period={period.label}"

    def get() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    return get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--period", default="2026-Q4")
    parser.add_argument("--pipeline", default="b2b-7")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--copy-from", type=int, metavar="M", help="generate M deals, copy them with SQL up to "
                        "--deals (PostgreSQL)")
    parser.add_argument("--page", action="store_true", help="also time GET /insights/forecast/ (first ever, cold, warm)")
    parser.add_argument("--user", help="--page as this user (default: the admin), e.g. the bench_pages.py rep")
    parser.add_argument("--profile", type=int, metavar="N", help="print the N largest cumulative entries of one "
                        "cold run under cProfile, figures one at a time (DEALGATE_ANALYTICS_THREADS=1); with "
                        "--page, of the page (after one view that stores the past windows)")
    args = parser.parse_args()
    if args.profile:
        import os

        os.environ["DEALGATE_ANALYTICS_THREADS"] = "1"
    django_setup("forecast_speed")
    from django.core.cache import cache

    from dealgate.analytics.forecast import forecast
    from dealgate.analytics.history import Scope
    from dealgate.analytics.periods import parse_as_of, parse_period
    from dealgate.pipelines.models import Pipeline

    if args.copy_from:
        deals = ensure(args.copy_from, 11)
        if deals < args.deals:
            print(f"copying {deals:,} deals with SQL up to {args.deals:,}...", flush=True)
            deals = copy_deals(args.deals)
    deals = ensure(args.deals, 11)
    scope, period = Scope(pipeline_id=Pipeline.objects.get(key=args.pipeline).pk), parse_period(args.period)
    cutoff = parse_as_of(None)
    assert cutoff >= parse_as_of(TODAY), "the bench assumes the data ends before the run"
    print(f"{deals:,} deals; {database_label()}; pipeline {args.pipeline}; {period.label} as of now", flush=True)
    if args.profile:
        import cProfile
        import pstats

        call = lambda: forecast(scope, period, cutoff)  # noqa: E731
        if args.page:  # the page, as a new process sees it: the past windows stored by a first view
            call = _page_getter(scope, period, args.user)
            call()
        cache.clear()
        profiler = cProfile.Profile()
        profiler.enable()
        call()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
        return
    from dealgate.analytics.models import StoredFigure

    def forget() -> None:
        StoredFigure.objects.all().delete()

    runs: dict[str, list[float]] = {"first ever": [], "cold": [], "warm": []}
    made = None
    for _ in range(args.repeat):
        made = timed(lambda: forecast(scope, period, cutoff), forget, runs)
        print(", ".join(f"{kind} {times[-1]:.2f} s" for kind, times in runs.items()) + f"; {machine_label()}",
              flush=True)
    print(f"forecast {period.label}, {deals:,} deals: " + ", ".join(
        f"{kind} median {statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})"
        for kind, times in runs.items()) + f"; {machine_label()}")
    if args.page:
        get = _page_getter(scope, period, args.user)
        url = f"/insights/forecast/?pipeline={scope.pipeline_id}&period={period.label}"
        pages: dict[str, list[float]] = {"first ever": [], "cold": [], "warm": []}
        for _ in range(args.repeat):
            timed(get, forget, pages)
            print("page " + ", ".join(f"{kind} {times[-1]:.2f} s" for kind, times in pages.items())
                  + f"; {machine_label()}", flush=True)
        print(f"GET {url}, {deals:,} deals: " + ", ".join(
            f"{kind} median {statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})"
            for kind, times in pages.items()) + f"; {machine_label()}")
    for name, method in made["methods"].items():
        print(f"  {name}: " + ", ".join(f"{key} {method[key]}" for key in (
            "expected", "already_won", "from_open", "from_new", "p10", "p50", "p90") if key in method))
    print(f"  calibration {made['methods']['time-aware']['calibration']}")
    print(f"  new business {made['new_business']}")


if __name__ == "__main__":
    main()
