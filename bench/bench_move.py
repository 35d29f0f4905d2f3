"""Benchmark: one stage move (gate validation + deal write + history row) with N deals in the database.

    python bench/bench_move.py --deals 100000 --moves 300
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dg_bench python bench/bench_move.py --deals 100000
    ... --rules-cache off     # the same moves with the rules rebuilt every time (as before decision 008)

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
    args = parser.parse_args()
    django_setup("move")
    total = ensure_deals(args.deals)

    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dealgate.deals.models import Deal
    from dealgate.deals.services import move_deal
    from dealgate.errors import MoveBlocked
    from dealgate.people.models import Profile
    from dealgate.pipelines.gate import PipelineRules

    if args.rules_cache == "off":
        PipelineRules.load = PipelineRules.load_uncached  # type: ignore[method-assign]

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


if __name__ == "__main__":
    main()
