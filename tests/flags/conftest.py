"""Fixtures for the flag tests: a clock we can set, and a way to read one deal's flags.

The clock replaces `django.utils.timezone.now`, so deals, moves and activities are written by
the real services at the moments a test chooses (no freezegun in this project).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dealgate.deals.flags import compute_flags
from dealgate.deals.models import Deal

MONDAY_2_NOV = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.timezone.utc)


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start

    def set(self, day: dt.date, hour: int = 12) -> None:
        self.now = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.timezone.utc)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch, settings):
    settings.TIME_ZONE = "UTC"
    clock = Clock(MONDAY_2_NOV)
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


def _board(*deals: Deal) -> list[Deal]:
    return list(Deal.objects.select_related("stage", "pipeline").filter(pk__in=[d.pk for d in deals]))


@pytest.fixture
def board():
    """board(*deals) -> fresh copies of the deals, loaded the way the board loads them."""
    return _board


@pytest.fixture
def flags_on():
    """flags_on(deal, today) -> {code: Flag} for that deal, read fresh from the database."""

    def read(deal: Deal, today: dt.date) -> dict:
        return {f.code: f for f in compute_flags(_board(deal), today=today)[deal.pk]}

    return read
