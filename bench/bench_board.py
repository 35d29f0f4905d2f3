"""Benchmark: the board page of one pipeline with N open deals (server time, SQL queries).

    python bench/bench_board.py --open 20000 --requests 40
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dg_bench python bench/bench_board.py --open 20000

Fills the bench database with the demo generator until one pipeline holds at least N open deals,
then requests that pipeline's board through Django's test client (URL routing, session, the board
query, flags for the visible cards, template rendering: everything but the network) as an admin
(who sees every deal) and as that pipeline's team manager. Prints median and p95 milliseconds and
the number of SQL queries per request, which must not depend on N.

"cold" rows clear the cache before every request, so each one also computes the stuck thresholds
(the request after each ten-minute cache expiry); the last lines time that percentile query alone,
over the bounded window the flag uses and, for reference, over the whole history.
"""

from __future__ import annotations

import argparse
import time

from _setup import database_label, django_setup, machine_label, summary_ms


def _open_in_biggest_pipeline():
    from django.db.models import Count

    from dealgate.deals.models import Deal

    row = (Deal.objects.filter(closed_at__isnull=True).values("pipeline_id").annotate(n=Count("id"))
           .order_by("-n").first())
    return (row["pipeline_id"], row["n"]) if row else (None, 0)


def ensure_open_deals(wanted: int, seed: int = 23) -> tuple[int, int]:
    from dealgate.deals.models import Deal
    from dealgate.demo.generator import generate

    pipeline_id, have = _open_in_biggest_pipeline()
    while have < wanted:
        batch = max(5_000, (wanted - have) * 3)
        print(f"generating {batch:,} demo deals ({have:,} open in the biggest pipeline so far)...", flush=True)
        generate(deals=batch, seed=seed + Deal.objects.count())
        pipeline_id, have = _open_in_biggest_pipeline()
    return pipeline_id, have


def time_board(client, url: str, requests: int, *, cold: bool = False) -> tuple[list[float], list[float], int]:
    """Wall-clock and CPU seconds of each request, and the SQL queries of the last one.

    CPU is this process's time (Python, and SQLite's engine, which runs in-process; not the
    PostgreSQL server's): on a shared machine it shows the work when wall-clock shows the queue.
    """
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm caches, compile templates
    samples, cpu, queries = [], [], 0
    for _ in range(requests):
        if cold:
            cache.clear()  # outside the timing: what is timed is the request that finds no thresholds
        with CaptureQueriesContext(connection) as ctx:
            start, start_cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            samples.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        assert response.status_code == 200, response.status_code
        queries = len(ctx.captured_queries)
    return samples, cpu, queries


def print_row(label: str, visible: str, samples: list[float], cpu: list[float], queries: int) -> None:
    median, p95 = summary_ms(samples)
    cpu_median, _ = summary_ms(cpu)
    print(f"{label:<28} {visible:>12} {median:>10.1f} {p95:>8.1f} {cpu_median:>8.1f} {queries:>8}")


def time_criteria_facts(pipeline, user, repeat: int) -> None:
    """The exit-criteria progress of the admin's first cards alone: their facts (`load_facts`, the
    board's biggest read), the pipeline rules and the evaluation, as the board reads them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from dealgate.deals.board import CARDS_PER_COLUMN, BoardFilters, first_cards, open_deals
    from dealgate.deals.models import Activity
    from dealgate.deals.flags import criteria_progress
    from dealgate.pipelines.models import StageKind

    stages = list(pipeline.stages.filter(kind=StageKind.OPEN))
    qs = open_deals(pipeline, user, BoardFilters(), stages=stages, now=timezone.now())
    deals = first_cards(qs, stages, offset=0, limit=CARDS_PER_COLUMN)
    ids = [deal.pk for deal in deals]
    samples, cpu = [], []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start, start_cpu = time.perf_counter(), time.process_time()
            criteria_progress(deals)
            samples.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    activities = Activity.objects.filter(deal_id__in=ids).count()
    print_row("criteria progress", f"{len(ids)} cards", samples, cpu, len(ctx.captured_queries))
    print(f"  ({activities:,} activities on those cards)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open", type=int, default=20_000, help="open deals wanted in one pipeline")
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    django_setup("board")
    pipeline_id, open_deals = ensure_open_deals(args.open)
    from django.db import connection

    with connection.cursor() as cursor:  # fresh bulk inserts: give the planner real statistics
        cursor.execute("ANALYZE")

    from django.test import Client

    from dealgate.people.models import Profile, Role
    from dealgate.pipelines.models import Pipeline

    pipeline = Pipeline.objects.get(pk=pipeline_id)
    url = f"/board/{pipeline.key}/"
    print(f"board {url}: {open_deals:,} open deals; {database_label()}; {machine_label()}")
    print(f"{'viewer':<28} {'visible open':>12} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>8} {'queries':>8}")
    from dealgate.deals.models import Deal
    from dealgate.people.access import visible_deals

    admin = Profile.objects.filter(role=Role.ADMIN).select_related("user").first().user
    manager = (Profile.objects.filter(role=Role.MANAGER, team__deals__pipeline=pipeline).select_related("user")
               .distinct().first())
    viewers = [("admin (all deals)", admin)] + ([("team manager", manager.user)] if manager else [])
    for label, user in viewers:
        client = Client()
        client.force_login(user)
        visible = visible_deals(user, Deal.objects.filter(pipeline=pipeline, closed_at__isnull=True)).count()
        print_row(label, f"{visible:,}", *time_board(client, url, args.requests))
        print_row(label + ", flagged only", "", *time_board(client, url + "?flagged=on", args.requests))
        print_row(label + ", cold cache", "", *time_board(client, url, args.requests, cold=True))
    time_criteria_facts(pipeline, admin, max(10, args.requests))
    # The "stuck" flag's stage-duration percentiles, computed when the cache has none.
    from dealgate.deals.flags import STUCK_PERCENTILE, STUCK_WINDOW_MOVES
    from dealgate.pipelines.stats import stage_duration_percentiles

    for label, window, repeat in (("stuck percentiles (window)", STUCK_WINDOW_MOVES, max(3, args.requests // 3)),
                                  ("same, whole history", None, 3)):
        samples, cpu = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            stage_duration_percentiles([pipeline.pk], percentiles=(STUCK_PERCENTILE,), latest_moves=window)
            samples.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print_row(label, "", samples, cpu, 1)


if __name__ == "__main__":
    main()
