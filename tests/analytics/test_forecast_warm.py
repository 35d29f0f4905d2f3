"""The worker computes the day's past forecasts before the forecast page asks (dealgate.analytics.warm).

The planted history is the bench's (bench/bench_forecast_accuracy.py: two years to 1 Dec 2026, half
of a month's won revenue from deals created in it), 2 new deals a day, seed 15. As of 10 Dec 2026
09:30 the page forecasts 2026-Q4 as of 09:31, 70 whole days into the quarter, so its range is
calibrated on the six 3-month windows starting February to July 2026, each judged 70 days in."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache

from dealgate.analytics import forecast
from dealgate.analytics.history import Scope, with_rates
from dealgate.analytics.models import StoredFigure
from dealgate.analytics.periods import parse_period
from dealgate.analytics.warm import warm_forecasts
from tests.web.installation import database_env, in_django, set_up

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from bench_forecast_accuracy import plant  # noqa: E402

UTC = dt.timezone.utc
MORNING = dt.datetime(2026, 12, 10, 9, 30, tzinfo=UTC)
WINDOW = "dealgate.analytics.forecast._time_aware_window"


def stored_windows(scope: Scope, cutoff: dt.datetime) -> list[bool]:
    """Whether each calibration window of the page's forecast is kept, read from the database alone."""
    cache.clear()
    return [forecast._time_aware_window.is_stored(scope, past, at, forecast.Settings(), True)
            for past, at in forecast.calibration_windows(parse_period("2026-Q4"), cutoff)]


@pytest.mark.django_db
def test_the_worker_computes_each_pipelines_windows_once_a_day():
    pipeline_id, _ = plant(0, 0.5, 2.0, 15)
    scope, cutoff = with_rates(Scope(pipeline_id=pipeline_id)), dt.datetime(2026, 12, 10, 9, 31, tzinfo=UTC)
    windows = forecast.calibration_windows(parse_period("2026-Q4"), cutoff)
    # (window start, window end, the day judged): 70 days into each
    assert [(past.start.date(), past.end.date(), at.date()) for past, at in windows] == [
        (dt.date(2026, 2, 1), dt.date(2026, 5, 1), dt.date(2026, 4, 12)),
        (dt.date(2026, 3, 1), dt.date(2026, 6, 1), dt.date(2026, 5, 10)),
        (dt.date(2026, 4, 1), dt.date(2026, 7, 1), dt.date(2026, 6, 10)),
        (dt.date(2026, 5, 1), dt.date(2026, 8, 1), dt.date(2026, 7, 10)),
        (dt.date(2026, 6, 1), dt.date(2026, 9, 1), dt.date(2026, 8, 10)),
        (dt.date(2026, 7, 1), dt.date(2026, 10, 1), dt.date(2026, 9, 9))]
    assert stored_windows(scope, cutoff) == [False] * 6
    assert warm_forecasts(MORNING) == [pipeline_id]
    assert stored_windows(scope, cutoff) == [True] * 6
    assert StoredFigure.objects.filter(name=WINDOW).count() == 6
    # Later the same day the six are there: nothing is computed again.
    assert warm_forecasts(MORNING + dt.timedelta(hours=8)) == []
    # The next day is 71 days into the quarter: six other windows.
    assert warm_forecasts(MORNING + dt.timedelta(days=1)) == [pipeline_id]
    assert StoredFigure.objects.filter(name=WINDOW).count() == 12


@pytest.mark.django_db
def test_the_page_after_the_worker_shows_what_it_shows_without_it():
    """The page's forecast with the windows the worker kept equals one computed from nothing."""
    pipeline_id, _ = plant(0, 0.5, 2.0, 15)
    scope, period, cutoff = with_rates(Scope(pipeline_id=pipeline_id)), parse_period("2026-Q4"), \
        dt.datetime(2026, 12, 10, 9, 31, tzinfo=UTC)
    cache.clear()
    from_nothing = forecast.forecast_report(scope, period, cutoff, groups=("owner", "team"))
    StoredFigure.objects.all().delete()
    cache.clear()
    warm_forecasts(MORNING)
    cache.clear()
    assert forecast.forecast_report(scope, period, cutoff, groups=("owner", "team")) == from_nothing


@pytest.fixture
def installation(tmp_path):
    env, drop = database_env("warm", tmp_path)
    try:
        set_up(env)  # one deal, created now, in a plain pipeline
        yield env
    finally:
        drop()


COUNT = """
from dealgate.analytics.models import StoredFigure
answer = StoredFigure.objects.filter(name="dealgate.analytics.forecast._time_aware_window").count()
"""


def test_a_running_worker_keeps_the_days_windows_between_its_scans(installation):
    """A real `dealgate worker`, scanning every second: the page's six calibration windows of today
    (the current quarter's, whatever the date) are kept within its first rounds, and no more."""
    env = installation
    assert in_django(env, COUNT) == 0
    worker = subprocess.Popen([sys.executable, "-m", "dealgate.cli", "worker", "--scan-every", "1"], env=env,
                              cwd=env["DEALGATE_DATA_DIR"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline, kept = time.monotonic() + 90, 0
        while time.monotonic() < deadline and kept < 6:
            time.sleep(1)
            kept = in_django(env, COUNT)
        time.sleep(2)  # two more rounds: nothing more is computed
        assert in_django(env, COUNT) == 6
    finally:
        worker.send_signal(signal.SIGTERM)
        _, errors = worker.communicate(timeout=60)
    assert "Traceback" not in errors, errors
