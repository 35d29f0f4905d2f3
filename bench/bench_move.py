"""Benchmark: one stage move (gate validation + deal write + history row) with N deals in the database.

    python bench/bench_move.py --deals 100000 --moves 300
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dg_bench python bench/bench_move.py --deals 100000
    ... --rules-cache off     # the same moves with the rules rebuilt every time (as before decision 008)
    ... --history 5,200       # a move and the deal page for deals with 5 and with 200 history rows

With --history, each size takes --sample open deals, gives each exactly that many stage history rows
(earlier moves back and forth between its stage and the next, inserted in bulk), then times the deal
page (GET as the admin, through Django's test client) and one forward move of each (issue #16).

Two operations are timed per deal, each a full call of the move service:
  * forward   the owner moves the deal to the next stage; when its criteria hold this is timed as is,
              otherwise a manager then forces it with a reason. Either way: load the pipeline's
              rules, gather the deal's facts, evaluate every criterion, write the deal and its
              history row;
  * refused   the owner's attempt that the gates refused: the same validation, nothing written.
Also times `dealgate deals list` (first page of 50) against the same data.
"""

from __future__ import annotations

import argparse
import time
from io import StringIO

from _setup import database_label, django_setup, ensure_deals, machine_label, summary_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--rules-cache", choices=["on", "off"], default="on",
                        help="off: rebuild the pipeline rules on every move, to compare on the same data and load")
    parser.add_argument("--history", default="", help="comma-separated history lengths, e.g. 5,200")
    parser.add_argument("--sample", type=int, default=20, help="deals per history length (with --history)")
    args = parser.parse_args()
    django_setup("move")
    total = ensure_deals(args.deals)
    if args.history:
        history_mode(total, [int(n) for n in args.history.split(",")], args.sample)
        return

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealgate.deals.models import Deal
    from dealgate.deals.services import move_deal
    from dealgate.errors import MoveBlocked
    from dealgate.people.models import Profile
    from dealgate.pipelines.gate import PipelineRules

    if args.rules_cache == "off":
        PipelineRules.load = lambda pipeline_id, **_: PipelineRules.load_uncached(pipeline_id)  # type: ignore[method-assign]

    manager = Profile.objects.filter(role="admin").select_related("user").first().user
    rules = {}
    candidates = []
    for deal in Deal.objects.filter(stage__kind="open").select_related("stage", "pipeline", "owner").order_by("?")[: args.moves * 3]:
        rules.setdefault(deal.pipeline_id, PipelineRules.load(deal.pipeline_id))
        nxt = rules[deal.pipeline_id].next_open_stage(deal.stage)
        if nxt is not None:
            candidates.append((deal, nxt))
        if len(candidates) == args.moves:
            break

    refused, forward, queries = [], [], []
    for deal, nxt in candidates:
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            try:
                move_deal(deal, nxt, by=deal.owner)  # criteria hold: validated and written
                forward.append(time.perf_counter() - start)
                queries.append(len(ctx.captured_queries))
                continue
            except MoveBlocked:
                refused.append(time.perf_counter() - start)
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            move_deal(deal, nxt, by=manager, override_reason="benchmark")
            forward.append(time.perf_counter() - start)
        queries.append(len(ctx.captured_queries))

    listing = []
    for _ in range(30):
        start = time.perf_counter()
        call_command("deals", "list", stdout=StringIO())
        listing.append(time.perf_counter() - start)

    print(f"database: {database_label()}; deals: {total:,}; rules cache: {args.rules_cache}; "
          f"machine: {machine_label()}")
    for name, samples in (("move forward (validate+write+history)", forward), ("move refused (validate only)", refused),
                          ("deals list, first 50", listing)):
        med, p95 = summary_ms(samples)
        print(f"{name:40s} n={len(samples):4d}  median {med:7.2f} ms  p95 {p95:7.2f} ms")
    print(f"queries per forward move: {min(queries)}-{max(queries)}")


def history_mode(total: int, lengths: list[int], sample: int) -> None:
    import datetime as dt

    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from dealgate.deals.models import Deal, StageHistory
    from dealgate.deals.services import move_deal
    from dealgate.people.models import Profile
    from dealgate.pipelines.gate import PipelineRules

    admin = Profile.objects.filter(role="admin").select_related("user").first().user
    client = Client()
    client.force_login(admin)
    print(f"database: {database_label()}; deals: {total:,}; machine: {machine_label()}")
    print(f"{'history rows':>12} {'deals':>5} {'page median':>12} {'page p95':>9} {'page q':>7} "
          f"{'move median':>12} {'move p95':>9} {'move q':>7}")
    used: set[int] = set()
    for length in lengths:
        deals = []
        for deal in (Deal.objects.filter(stage__kind="open").exclude(pk__in=used).select_related("stage")
                     .annotate(rows=Count("history")).filter(rows__lte=min(length, 5)).order_by("?")[: sample * 3]):
            rules = PipelineRules.load(deal.pipeline_id)
            nxt = rules.next_open_stage(deal.stage)
            if nxt is not None:
                deals.append((deal, nxt))
            if len(deals) == sample:
                break
        now = timezone.now()
        for deal, nxt in deals:  # pad to `length` rows: back and forth, ending where the deal is now
            used.add(deal.pk)
            last = StageHistory.objects.filter(deal=deal).order_by("-at", "-id").first()
            extra = length - deal.rows
            extra -= extra % 2
            start, step = last.at, (now - dt.timedelta(minutes=5) - last.at) / (extra + 1)
            rows, here = [], deal.stage
            for i in range(extra):
                there = nxt if here.pk == deal.stage_id else deal.stage
                rows.append(StageHistory(deal=deal, from_stage=here, to_stage=there, at=start + step * (i + 1),
                                         kind="forward" if there.pk == nxt.pk else "backward", by=admin,
                                         amount=deal.amount, currency=deal.currency, probability=there.probability))
                here = there
            StageHistory.objects.bulk_create(rows)
            if rows:
                Deal.objects.filter(pk=deal.pk).update(stage_entered_at=rows[-1].at)
        page, page_q, move, move_q = [], [], [], []
        for deal, nxt in deals:
            deal = Deal.objects.get(pk=deal.pk)
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(f"/deals/{deal.pk}/")
                page.append(time.perf_counter() - start)
            assert response.status_code == 200, response.status_code
            page_q.append(len(ctx.captured_queries))
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                move_deal(deal, nxt, by=admin, override_reason="benchmark")
                move.append(time.perf_counter() - start)
            move_q.append(len(ctx.captured_queries))
        rows = StageHistory.objects.filter(deal_id__in=[d.pk for d, _ in deals]).values("deal").annotate(n=Count("id"))
        sizes = sorted({r["n"] - 1 for r in rows})  # before the timed move
        (pm, pp), (mm, mp) = summary_ms(page), summary_ms(move)
        print(f"{'-'.join(map(str, (sizes[0], sizes[-1]))) if len(sizes) > 1 else sizes[0]:>12} {len(deals):>5} "
              f"{pm:9.2f} ms {pp:6.2f} ms {min(page_q)}-{max(page_q):<4} {mm:9.2f} ms {mp:6.2f} ms "
              f"{min(move_q)}-{max(move_q)}")


if __name__ == "__main__":
    main()
