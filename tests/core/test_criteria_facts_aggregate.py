"""Activity facts are read grouped in SQL; the engine must decide exactly as it would on every row."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter

from dealgate.deals import services
from dealgate.deals.models import Activity, Deal
from dealgate.pipelines.criteria import (
    ACTIVITY_KINDS,
    CriterionSpec,
    counted_activities,
    evaluate_one,
    load_facts,
    parse_config,
)


def _spec(**config) -> CriterionSpec:
    return CriterionSpec(key="a", label="A", kind="activity", config=parse_config("activity", config))




def _log_varied(deal: Deal, rng: random.Random) -> None:
    entered = deal.stage_entered_at
    offsets = [dt.timedelta(0), dt.timedelta(microseconds=-1), dt.timedelta(microseconds=1)]  # the edges
    offsets += [dt.timedelta(hours=rng.randint(-2_000, 2_000), seconds=rng.randint(0, 59)) for _ in range(rng.randint(0, 25))]
    for offset in offsets:
        services.log_activity(by=deal.owner, kind=rng.choice(ACTIVITY_KINDS), subject="s", deal=deal,
                              outcome=rng.choice(["held", "no_show", "", "replied"]), occurred_at=entered + offset)


CONFIGS = [
    {"activity": kind, "outcome": outcome, "scope": scope, "min_count": count}
    for kind, outcome, scope, count in itertools.product(
        ACTIVITY_KINDS, [None, "held", "no_show", "replied"], ["stage", "ever"], [1, 2, 3, 5])
]


def _varied_deals(make_deal) -> list[Deal]:
    rng = random.Random(4)
    deals = [make_deal() for _ in range(6)]
    for deal in deals[1:]:  # the first deal has no activities at all
        _log_varied(deal, rng)
    return deals


def test_grouped_facts_decide_every_activity_criterion_as_the_rows_do(make_deal):
    deals = _varied_deals(make_deal)
    ids = [d.pk for d in deals]
    grouped_facts = load_facts(ids, kinds={"activity"}, group_activities=True)
    row_facts = load_facts(ids, kinds={"activity"})
    configs = CONFIGS
    compared = 0
    for deal in deals:
        rows, grouped = row_facts[deal.pk], grouped_facts[deal.pk]
        assert sorted(rows.activities) == sorted(Activity.objects.filter(deal=deal).values_list("kind", "outcome", "occurred_at"))
        entered = rows.stage_entered_at
        assert Counter((k, o, w >= entered) for k, o, w in grouped.activities) == \
            Counter((k, o, w >= entered) for k, o, w in rows.activities)
        for config in configs:
            assert evaluate_one(_spec(**config), grouped) == evaluate_one(_spec(**config), rows), config
            compared += 1
    assert compared == len(deals) * len(configs)


def test_grouping_reads_one_row_per_group_not_per_activity(make_deal, django_assert_num_queries):
    deal = make_deal()
    for _ in range(3):
        services.log_activity(by=deal.owner, kind="call", subject="s", deal=deal, outcome="held")
    with django_assert_num_queries(1):
        facts = load_facts([deal.pk], deals=[deal], kinds={"activity"}, group_activities=True)[deal.pk]
    assert len(set(facts.activities)) == 1 and len(facts.activities) == 3


def test_reading_only_the_activities_a_criterion_counts_decides_it_as_reading_all(make_deal):
    deals = _varied_deals(make_deal)
    ids = [d.pk for d in deals]
    everything = load_facts(ids, kinds={"activity"})
    for config in CONFIGS:
        spec = _spec(**config)
        for grouped in (False, True):
            only = load_facts(ids, kinds={"activity"}, group_activities=grouped, activities=counted_activities([spec]))
            for deal_id in ids:
                assert evaluate_one(spec, only[deal_id]) == evaluate_one(spec, everything[deal_id]), config
    narrowed = load_facts(ids, kinds={"activity"}, activities={("call", "held")})
    assert all(a[:2] == ("call", "held") for f in narrowed.values() for a in f.activities)
    assert sum(map(len, (f.activities for f in narrowed.values()))) < sum(map(len, (f.activities for f in everything.values())))


def test_an_activity_at_the_instant_of_stage_entry_counts_in_the_stage(make_deal):
    deal = make_deal()
    services.log_activity(by=deal.owner, kind="call", subject="s", deal=deal, outcome="held",
                          occurred_at=deal.stage_entered_at)
    services.log_activity(by=deal.owner, kind="call", subject="s", deal=deal, outcome="held",
                          occurred_at=deal.stage_entered_at - dt.timedelta(microseconds=1))
    facts = load_facts([deal.pk], kinds={"activity"}, group_activities=True)[deal.pk]
    assert evaluate_one(_spec(activity="call", min_count=1), facts).met
    result = evaluate_one(_spec(activity="call", min_count=2), facts)
    assert not result.met and result.missing.endswith("(1 so far)")
    assert evaluate_one(_spec(activity="call", scope="ever", min_count=2), facts).met
