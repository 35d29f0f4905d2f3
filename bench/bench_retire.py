"""Benchmark: retiring a stage whose N open deals move to the next stage through the gates (decision 036).

    python bench/bench_retire.py --deals 1000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dg_bench python bench/bench_retire.py --deals 1000

A new pipeline from the `distributor-5` template gets N deals in its first stage (set-up, not timed;
no criteria of the first stage's exit or the second's entry hold for them). Then, each a full call of
`retire_stage` as an admin:
  * refused   the gates refuse every deal: each move is evaluated, nothing is written (rolled back);
  * forced    the same with an override reason: every deal moves through `move_deal` as an override,
              one history row and one audit entry each, then the stage is retired.
"""

from __future__ import annotations

import argparse
import time

from _setup import database_label, django_setup, machine_label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1000)
    args = parser.parse_args()
    django_setup("retire")

    from django.contrib.auth import get_user_model

    from dealgate.deals.services import create_account, create_deal
    from dealgate.errors import ValidationFailed
    from dealgate.people.services import create_user
    from dealgate.pipelines.models import Pipeline
    from dealgate.pipelines.services import create_pipeline_from_template
    from dealgate.web.pipeline_settings import retire_stage

    admin = get_user_model().objects.filter(username="bench-admin").first() or create_user(
        username="bench-admin", password=None, role="admin")
    key = f"retire-{Pipeline.objects.count() + 1}"
    pipeline = create_pipeline_from_template("distributor-5", key=key, name=f"Retire bench {key}")
    first, second = list(pipeline.stages.filter(kind="open").order_by("position"))[:2]
    account = create_account(by=admin, name=f"Bench account {key}")
    for n in range(args.deals):
        create_deal(by=admin, title=f"Bench deal {n}", account=account, pipeline=pipeline)

    started = time.perf_counter()
    try:
        retire_stage(first, by=admin, move_deals_to=second.key)
        refused = "not refused"
    except ValidationFailed as exc:
        refused = f"refused ({len(exc.details.get('refused', []))} deals named)"
    refused_s = time.perf_counter() - started
    started = time.perf_counter()
    retire_stage(first, by=admin, move_deals_to=second.key, override_reason="bench: stage folded")
    forced_s = time.perf_counter() - started
    print(f"{database_label()}; {machine_label()}")
    print(f"{args.deals:,} open deals in {first.name} -> {second.name}")
    print(f"refused: {refused_s:.2f} s, {refused_s / args.deals * 1000:.1f} ms per deal, {refused}")
    print(f"forced:  {forced_s:.2f} s, {forced_s / args.deals * 1000:.1f} ms per deal, stage retired")


if __name__ == "__main__":
    main()
