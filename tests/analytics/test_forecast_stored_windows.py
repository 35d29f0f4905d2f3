"""Decision 044 (issues 15/16): the forecasts of past windows are kept in the database.

A forecast's calibration forecasts 6 past windows (decision 038); their cutoffs are past, so their
figures only change when older history is rewritten (a SpanRewrite note before the cutoff) or a
pipeline's configuration changes. `figure(durable=True)` keeps them in analytics.StoredFigure, so
a new process (here: the per-process cache emptied) does not compute them again, and serves them
under the same rules as the per-process cache.

The planted set of tests/analytics/test_forecast_cost.py; October as of the 15th, which is past:
its own window and its calibration (April-September, each as of its 15th) are all stored."""

import sys
from pathlib import Path

import pytest
from analytics_builders import Counted, History, at
from django.core.cache import cache

from dealgate.analytics import cache as figure_cache
from dealgate.analytics import forecast
from dealgate.analytics.history import Scope
from dealgate.analytics.models import StoredFigure
from dealgate.analytics.periods import parse_period
from dealgate.pipelines.models import Pipeline, Stage

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_forecast_accuracy import plant  # noqa: E402

OCTOBER, CUTOFF = parse_period("2026-10"), at("2026-10-15")


@pytest.fixture
def planted(db):
    pipeline_id, _ = plant(0, 0.5, 2.0, 15)
    return Scope(pipeline_id=pipeline_id)


def _cold(scope: Scope, monkeypatch) -> tuple[dict, int]:
    """The forecast with the per-process cache emptied (as a new process sees it), and how many
    windows were computed (one timing table each)."""
    cache.clear()
    tables = Counted(forecast._tally)  # called once per timing table computed (not per cached call)
    monkeypatch.setattr(forecast, "_tally", tables)
    made = forecast.forecast(scope, OCTOBER, CUTOFF)
    monkeypatch.undo()
    return made, tables.calls


def _fresh(scope: Scope) -> dict:
    """The same forecast computed from nothing: no stored figure, no cached one."""
    StoredFigure.objects.all().delete()
    cache.clear()
    return forecast.forecast(scope, OCTOBER, CUTOFF)


@pytest.mark.django_db
def test_stored_windows_are_reused_by_a_new_process_with_the_same_figures(planted, monkeypatch):
    first, computed = _cold(planted, monkeypatch)
    assert computed == 7  # October and its 6 calibration windows
    assert first["methods"]["time-aware"]["calibration"]["periods"] >= 3  # widened: a real range
    names = sorted(StoredFigure.objects.values_list("name", flat=True))
    assert names == ["dealgate.analytics.forecast._time_aware_window"] * 7 + ["dealgate.analytics.forecast.calibration"]
    again, computed = _cold(planted, monkeypatch)
    assert computed == 0
    assert again == first  # every method, range, calibration and new-business figure, to the cent


@pytest.mark.django_db
def test_a_rewrite_before_a_windows_cutoff_invalidates_it_and_only_it(planted, world, monkeypatch):
    stored, _ = _cold(planted, monkeypatch)
    history = History(world, Pipeline.objects.get(pk=planted.pipeline_id))
    deal = history.deal("2026-06-01", 250_000)  # an import of older events: a note from 2026-06-01
    history.move(deal, "won", "2026-06-10")
    made, computed = _cold(planted, monkeypatch)
    # June to September (as of their 15th) and October itself see the rewrite; April and May do not
    assert computed == 5
    assert made == _fresh(planted)
    assert made["methods"]["time-aware"]["calibration"] != stored["methods"]["time-aware"]["calibration"]


@pytest.mark.django_db
def test_a_live_write_does_not_invalidate_stored_windows(planted, make_deal, monkeypatch):
    stored, _ = _cold(planted, monkeypatch)
    make_deal(amount="700")  # an event at "now", after every stored cutoff: no note
    made, computed = _cold(planted, monkeypatch)
    assert computed == 0
    assert made == stored


@pytest.mark.django_db
def test_a_stage_configuration_change_invalidates_every_stored_window(planted, monkeypatch):
    stored, _ = _cold(planted, monkeypatch)
    propose = Stage.objects.get(pipeline_id=planted.pipeline_id, key="propose")
    Stage.objects.filter(pk=propose.pk).update(probability=propose.probability + 20)
    made, computed = _cold(planted, monkeypatch)
    assert computed == 7
    assert made == _fresh(planted)
    assert made["methods"]["time-aware"]["expected"] != stored["methods"]["time-aware"]["expected"]


@pytest.mark.django_db
def test_figures_stored_by_other_code_are_not_served(planted, monkeypatch):
    _cold(planted, monkeypatch)
    monkeypatch.setattr(figure_cache, "CODE", "another version of the analytics code")
    cache.clear()
    tables = Counted(forecast._tally)  # called once per timing table computed (not per cached call)
    monkeypatch.setattr(forecast, "_tally", tables)
    forecast.forecast(planted, OCTOBER, CUTOFF)
    assert tables.calls == 7


@pytest.mark.django_db
def test_an_unreadable_stored_row_is_computed_again(planted, monkeypatch):
    first, _ = _cold(planted, monkeypatch)
    StoredFigure.objects.update(value=b"not a pickle")
    made, computed = _cold(planted, monkeypatch)
    assert (computed, made) == (7, first)


def test_calibration_windows_as_of_any_time_of_a_day_are_those_of_its_start():
    """As of now, the windows are made whole days into their months, so they stay the same all day
    (and are found stored); as of a date (midnight) nothing changes."""
    day = forecast.calibration_windows(OCTOBER, CUTOFF)
    assert [(past.label, made.isoformat()) for past, made in day][:2] == [
        ("2026-04", "2026-04-15T00:00:00+00:00"), ("2026-05", "2026-05-15T00:00:00+00:00")]
    assert forecast.calibration_windows(OCTOBER, at("2026-10-15 23:59")) == day
    assert forecast.calibration_windows(OCTOBER, at("2026-10-16")) != day
