"""Figures computed together on several connections (dealgate.analytics.together) equal the same
figures computed one after the other; the insights page's list of figures is complete; the timing
table's scan stores the look-back conversion exactly as that figure computes it."""

import random

import pytest
from analytics_builders import History, at
from django.db import connection
from django.test import override_settings

from dealgate.analytics import forecast, metrics
from dealgate.analytics.history import Scope
from dealgate.analytics.periods import parse_period
from dealgate.analytics.together import can_run_together, together
from dealgate.deals.models import StateSpan

Q3 = parse_period("2026-Q3")
AS_OF = at("2026-10-15")


def busy_history(world, pipeline, deals=40, seed=5):
    """Deals created over the year before Q3 ends, moving through the stages, some reopened."""
    h, rng = History(world, pipeline), random.Random(seed)
    for n in range(deals):
        month, day = rng.randint(1, 9), rng.randint(1, 28)
        deal = h.deal(f"2026-{month:02d}-{day:02d}", rng.choice([None, 1000, 2500, 9000]),
                      owner=rng.choice([world.alice, world.carol]))
        for stage in ("propose", "negotiate", rng.choice(["won", "lost"])):
            day += rng.randint(3, 20)
            if day > 28:
                month, day = month + 1, day - 28
            if month > 10 or rng.random() < 0.2:
                break
            h.move(deal, stage, f"2026-{month:02d}-{day:02d}")
        if n % 3 == 0 and month < 10 and h.last[deal.pk][0].kind != "open":
            h.move(deal, "qualify", f"2026-{month + 1:02d}-01")  # reopened
    return h


def test_together_returns_results_in_order_and_raises_what_a_call_raises(transactional_db):  # helpers connect first
    assert together(lambda: 1, lambda: 2, lambda: 3) == [1, 2, 3]
    with pytest.raises(ZeroDivisionError):
        together(lambda: 1, lambda: 1 / 0)


@pytest.mark.django_db
def test_inside_a_transaction_figures_are_computed_in_turn():
    assert connection.in_atomic_block and not can_run_together()


@pytest.mark.django_db
def test_the_insights_list_holds_every_figure_the_page_is_made_of(world, pipeline, monkeypatch):
    """After the listed figures are computed, composing the page computes no other figure: a
    figure left off the list would be computed afterwards, alone."""
    from dealgate.analytics import cache as cache_module

    busy_history(world, pipeline)
    listed_done, computed_after = [], []

    def watching(*calls):
        results = together(*calls)
        listed_done.append(True)
        return results

    def recording_set(key, value, timeout=None):  # every computed figure is stored
        if listed_done:
            computed_after.append(key)
        return original_set(key, value, timeout)

    original_set = cache_module.cache.set
    monkeypatch.setattr(metrics, "together", watching)
    monkeypatch.setattr(cache_module.cache, "set", recording_set)
    page = metrics.insights(Scope(pipeline_id=pipeline.pk), Q3, AS_OF)
    assert listed_done and page["waterfall"]["adds_up"]
    assert computed_after == [], "figures computed after the list: add them to metrics.insights"


@pytest.mark.django_db
def test_the_timing_scan_stores_the_look_back_conversion_as_that_figure_computes_it(world, pipeline):
    busy_history(world, pipeline, deals=60, seed=9)
    scope, config = Scope(pipeline_id=pipeline.pk), forecast.Settings()
    forecast.timing_table(scope, parse_period("2026-Q4"), AS_OF, config)
    window = forecast._lookback(AS_OF, config)
    stored = metrics.conversion(scope, window, AS_OF)  # served from the cache: the timing scan stored it
    assert stored == metrics.conversion.uncached(scope, window, AS_OF)
    assert sum(row["entered"] for row in stored.values()) > 20
    assert StateSpan.objects.filter(move_kind="reopened").exists()  # the second query's case is there


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a database other connections see")
def test_figures_computed_together_equal_figures_computed_in_turn(world, pipeline):
    from django.core.cache import cache

    busy_history(world, pipeline, deals=80, seed=3)
    scope = Scope(pipeline_id=pipeline.pk)
    before = connection.cursor().connection.execute(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()[0]
    results = {}
    for threads in (4, 1):
        cache.clear()
        with override_settings(DEALGATE_ANALYTICS_THREADS=threads):
            assert can_run_together() == (threads > 1)
            results[threads] = (metrics.insights(scope, Q3, AS_OF),
                                forecast.forecast(scope, parse_period("2026-Q4"), AS_OF))
    assert results[4] == results[1]
    after = connection.cursor().connection.execute(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()[0]
    assert after == before  # every thread closed its connection


@pytest.mark.postgres_only
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a database other connections see")
def test_nested_calls_never_use_more_threads_than_the_limit(transactional_db):  # helpers connect first
    import threading
    import time

    running, peak, lock = [0], [0], threading.Lock()

    def work(value):
        def call():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1
            return value
        return call

    def nested(base):
        return lambda: sum(together(*(work(base + i) for i in range(4))))

    with override_settings(DEALGATE_ANALYTICS_THREADS=3):
        assert together(*(nested(10 * n) for n in range(4))) == [sum(10 * n + i for i in range(4)) for n in range(4)]
    # the caller's own thread works too: at most the limit of extra threads plus the caller
    assert 2 <= peak[0] <= 3 + 1
