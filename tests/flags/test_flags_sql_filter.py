"""with_date_flags (SQL) picks exactly the deals compute_flags gives a date flag, day after day."""

import datetime as dt

import pytest

from dealgate.deals import services
from dealgate.deals.flags import DATE_FLAG_CODES, compute_flags, with_date_flags
from dealgate.deals.models import Deal


@pytest.mark.parametrize("business_days", [False, True], ids=["calendar-days", "business-days"])
def test_the_sql_filter_agrees_with_compute_flags(clock, make_deal, world, pipeline, business_days):
    pipeline.business_days = business_days
    pipeline.save(update_fields=["business_days"])
    quiet = make_deal(title="Quiet", expected_close_date="2026-12-31")
    services.set_next_step(quiet, by=world.alice, text="Call", due="2026-12-30")
    make_deal(title="No next step")
    clock.set(dt.date(2026, 11, 6))  # a Friday
    called = make_deal(title="Called on Saturday", expected_close_date="2026-11-20")
    services.set_next_step(called, by=world.alice, text="Demo", due="2026-11-18")
    clock.set(dt.date(2026, 11, 7))
    services.log_activity(by=world.alice, kind="call", subject="Weekend call", deal=called)
    moved = make_deal(title="Moved", expected_close_date="2026-12-31")
    services.set_next_step(moved, by=world.alice, text="Send terms", due="2026-12-01")
    clock.set(dt.date(2026, 11, 9))
    services.move_deal(moved, "negotiate", by=world.bob, override_reason="fast")
    stages = list(pipeline.stages.all())
    seen = set()
    for offset in range(40):
        today = dt.date(2026, 11, 2) + dt.timedelta(days=offset)
        deals = list(Deal.objects.select_related("stage", "pipeline"))
        by_python = {d.title for d in deals if {f.code for f in compute_flags([d], today=today)[d.pk]}
                     & set(DATE_FLAG_CODES)}
        by_sql = {d.title for d in with_date_flags(Deal.objects.all(), stages, business_days=business_days,
                                                    today=today)}
        assert by_sql == by_python, today
        seen.add(frozenset(by_python))
    assert len(seen) >= 3  # the days walked through several different answers
    assert by_python == {"Quiet", "No next step", "Called on Saturday", "Moved"}  # all flagged by Dec 11


def test_the_sql_filter_leaves_out_won_and_lost_deals(clock, make_deal, world, pipeline):
    lost = make_deal(title="Lost, close date long gone", expected_close_date="2026-01-31")
    services.move_deal(lost, "lost", by=world.alice, lost_reason="price")
    make_deal(title="Open, close date long gone", expected_close_date="2026-01-31")
    flagged = with_date_flags(Deal.objects.all(), pipeline.stages.all(), business_days=False,
                              today=dt.date(2026, 11, 20))
    assert [d.title for d in flagged] == ["Open, close date long gone"]
    assert compute_flags([Deal.objects.select_related("stage", "pipeline").get(pk=lost.pk)])[lost.pk] == []
