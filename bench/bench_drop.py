"""A board drop's own cost, in process: the CPU Dealgate spends on it, whatever else the machine runs (issue 16).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dealgate_load python bench/bench_drop.py --user diana --drops 30

On the load bench's database (bench_load.py fills it). Signs in as --user with Django's test client
and drops --drops random open deals of theirs on the column before theirs, as board.js does (an htmx
POST to /deals/<id>/move/), after two drops to warm up; then moves them back. Prints the median
client CPU (`time.process_time`: Python, templates and the database driver, not the database
server), the median wall time, the median time in SQL and the load average. The CPU figure is the
one that compares across machines and loads; wall times grow with the load.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from _setup import django_setup, machine_label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="diana")
    parser.add_argument("--drops", type=int, default=30)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    django_setup("load")
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from dealgate.deals.models import Deal
    from dealgate.pipelines.models import Stage

    settings.ALLOWED_HOSTS = ["*"]
    user = User.objects.get(username=args.user)
    client = Client()
    client.force_login(user)
    order: dict[int, list[int]] = {}
    for pk, pipeline_id in Stage.objects.filter(kind="open").order_by("position").values_list("pk", "pipeline_id"):
        order.setdefault(pipeline_id, []).append(pk)
    drops = [(pk, stage_id, order[pipeline_id][order[pipeline_id].index(stage_id) - 1])
             for pk, pipeline_id, stage_id in Deal.objects.filter(owner=user, stage__kind="open").order_by("pk")
             .values_list("pk", "pipeline_id", "stage_id")[:2000]
             if order[pipeline_id].index(stage_id) > 0]
    random.Random(args.seed).shuffle(drops)
    drops = drops[:args.drops + 2]

    def drop(pk: int, to: int, expected: int):
        return client.post(f"/deals/{pk}/move/", {"to": to, "expected": expected, "origin": "board", "board_query": ""},
                           HTTP_HX_REQUEST="true")

    cpu, wall, sql, statuses = [], [], [], {}
    for n, (pk, here, before) in enumerate(drops):
        with CaptureQueriesContext(connection) as queries:
            started, used = time.perf_counter(), time.process_time()
            status = drop(pk, before, here).status_code
            cpu_ms, wall_ms = (time.process_time() - used) * 1000, (time.perf_counter() - started) * 1000
        statuses[status] = statuses.get(status, 0) + 1
        if n >= 2 and status == 200:
            cpu.append(cpu_ms)
            wall.append(wall_ms)
            sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    for pk, here, before in drops:
        drop(pk, here, before)
    print(f"{Deal.objects.count():,} deals; {args.user}: {len(cpu)} drops; {machine_label()}")
    print(f"client CPU median {statistics.median(cpu):.1f} ms, wall median {statistics.median(wall):.1f} ms, "
          f"SQL median {statistics.median(sql):.1f} ms; statuses {statuses}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
