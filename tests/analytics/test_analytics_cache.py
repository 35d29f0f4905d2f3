"""The figure cache never serves a number the history has since contradicted (dealgate.analytics.cache)."""

import datetime as dt

import pytest
from analytics_builders import History, at
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealgate.analytics import metrics
from dealgate.analytics.history import Scope, pipeline_by_stage
from dealgate.analytics.periods import parse_period
from dealgate.deals import services

Q3 = parse_period("2026-Q3")


@pytest.fixture
def history(world, pipeline):
    h = History(world, pipeline)
    a = h.deal("2026-06-01", 1000)
    h.move(a, "won", "2026-07-11")
    return h


@pytest.mark.django_db
def test_past_cutoff_is_served_from_the_cache_until_a_backdated_event(history, pipeline):
    scope, cutoff = Scope(pipeline_id=pipeline.pk), at("2026-10-01")
    first = metrics.outcomes(scope, Q3, cutoff)
    with CaptureQueriesContext(connection) as queries:
        again = metrics.outcomes(scope, Q3, cutoff)
    assert again == first and len(queries) == 1  # only the "anything rewritten before?" check

    b = history.deal("2026-07-01", 3000)  # an import of older events
    history.move(b, "won", "2026-08-31")
    after = metrics.outcomes(scope, Q3, cutoff)
    assert (after["won"], after["won_amount"]) == (2, first["won_amount"] + 3000)
    assert after == metrics.outcomes.uncached(scope, Q3, cutoff)


@pytest.mark.django_db
def test_live_writes_do_not_touch_past_figures_but_refresh_current_ones(history, world, pipeline, make_deal):
    scope = Scope(pipeline_id=pipeline.pk)
    past, now = at("2026-10-01"), timezone.now() + dt.timedelta(minutes=1)
    before_past = metrics.outcomes(scope, Q3, past)
    before_now = pipeline_by_stage(scope, now)
    make_deal(amount="700")  # a live write: an event at "now"
    with CaptureQueriesContext(connection) as queries:
        assert metrics.outcomes(scope, Q3, past) == before_past
    assert len(queries) == 1
    current = pipeline_by_stage(scope, now)
    assert sum(r["deals"] for r in current) == sum(r["deals"] for r in before_now) + 1
    assert current == pipeline_by_stage.uncached(scope, now)


@pytest.mark.django_db
def test_a_current_figure_is_shared_until_anything_is_written(history, world, pipeline, make_deal):
    scope, now = Scope(pipeline_id=pipeline.pk), timezone.now()
    deal = make_deal(amount="100")
    pipeline_by_stage(scope, now + dt.timedelta(minutes=1))
    with CaptureQueriesContext(connection) as queries:
        pipeline_by_stage(scope, now + dt.timedelta(minutes=1))
    assert len(queries) == 1  # the highest span id, unchanged
    services.update_deal(deal, by=world.alice, amount="250")
    row = pipeline_by_stage(scope, now + dt.timedelta(minutes=1))
    assert sum((r["amount"] for r in row), 0) == 250


@pytest.mark.django_db
def test_an_edited_stage_invalidates_cached_figures_at_once(history, world, pipeline):
    """Learned probabilities are smoothed toward the configured one: after an admin changes it (say,
    adopting the learned value), no figure may go on showing the old configuration."""
    from dealgate.analytics import forecast
    from dealgate.pipelines.models import Stage

    scope, past = Scope(pipeline_id=pipeline.pk), at("2026-10-01")
    propose = Stage.objects.get(pipeline=pipeline, key="propose")
    before = forecast.historical_probabilities(scope, past)[propose.pk]
    assert forecast.historical_probabilities(scope, past)[propose.pk] == before  # cached
    Stage.objects.filter(pk=propose.pk).update(probability=propose.probability + 20)
    after = forecast.historical_probabilities(scope, past)[propose.pk]
    assert after["configured"] == before["configured"] + 0.2
    assert after == forecast.historical_probabilities.uncached(scope, past)[propose.pk]
