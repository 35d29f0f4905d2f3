"""Activity facts are read grouped in SQL; the engine must decide exactly as it would on every row."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter

from dealgate.deals import services
from dealgate.deals.models import Activity, Deal
from dealgate.pipelines.criteria import ACTIVITY_KINDS, CriterionSpec, DealFacts, evaluate_one, load_facts, parse_config


def _spec(**config) -> CriterionSpec:
    return CriterionSpec(key="a", label="A", kind="activity", config=parse_config("activity", config))


def _facts_from_rows(deal: Deal) -> DealFacts:
    """The reference: one (kind, outcome, when) per stored activity row, as the engine defines them."""
    rows = Activity.objects.filter(deal=deal).values_list("kind", "outcome", "occurred_at")
    return DealFacts(fields={}, stage_entered_at=deal.stage_entered_at, activities=list(rows))


def _log_varied(deal: Deal, rng: random.Random) -> None:
    entered = deal.stage_entered_at
    offsets = [dt.timedelta(0), dt.timedelta(microseconds=-1), dt.timedelta(microseconds=1)]  # the edges
    offsets += [dt.timedelta(hours=rng.randint(-2_000, 2_000), seconds=rng.randint(0, 59)) for _ in range(rng.randint(0, 25))]
    for offset in offsets:
        services.log_activity(by=deal.owner, kind=rng.choice(ACTIVITY_KINDS), subject="s", deal=deal,
                              outcome=rng.choice(["held", "no_show", "", "replied"]), occurred_at=entered + offset)


def test_grouped_facts_decide_every_activity_criterion_as_the_rows_do(make_deal):
    rng = random.Random(4)
    deals = [make_deal() for _ in range(6)]
    for deal in deals[1:]:  # the first deal has no activities at all
        _log_varied(deal, rng)
    facts = load_facts([d.pk for d in deals], kinds={"activity"})
    configs = [
        {"activity": kind, "outcome": outcome, "scope": scope, "min_count": count}
        for kind, outcome, scope, count in itertools.product(
            ACTIVITY_KINDS, [None, "held", "no_show", "replied"], ["stage", "ever"], [1, 2, 3, 5])
    ]
    compared = 0
    for deal in deals:
        deal.refresh_from_db()
        rows = _facts_from_rows(deal)
        grouped = facts[deal.pk]
        entered = deal.stage_entered_at
        assert Counter((k, o, w >= entered) for k, o, w in grouped.activities) == \
            Counter((k, o, w >= entered) for k, o, w in rows.activities)
        for config in configs:
            assert evaluate_one(_spec(**config), grouped) == evaluate_one(_spec(**config), rows), config
            compared += 1
    assert compared == len(deals) * len(configs)


def test_an_activity_at_the_instant_of_stage_entry_counts_in_the_stage(make_deal):
    deal = make_deal()
    services.log_activity(by=deal.owner, kind="call", subject="s", deal=deal, outcome="held",
                          occurred_at=deal.stage_entered_at)
    services.log_activity(by=deal.owner, kind="call", subject="s", deal=deal, outcome="held",
                          occurred_at=deal.stage_entered_at - dt.timedelta(microseconds=1))
    facts = load_facts([deal.pk], kinds={"activity"})[deal.pk]
    assert evaluate_one(_spec(activity="call", min_count=1), facts).met
    result = evaluate_one(_spec(activity="call", min_count=2), facts)
    assert not result.met and result.missing.endswith("found 1")
    assert evaluate_one(_spec(activity="call", scope="ever", min_count=2), facts).met
