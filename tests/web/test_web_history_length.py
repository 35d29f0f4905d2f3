"""A move and the deal page cost the same however long the deal's history is (issue #16).

Before: every move rebuilt the deal's state spans from its whole history and the deal page read
all of it (175 rows: the page 2.6x slower, a move 3.9x). Now a move appends its span and the page
shows the newest TIMELINE_LIMIT entries with a link to the rest.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealgate.deals import services
from dealgate.deals.models import Deal, StageHistory
from dealgate.web.views.deal import TIMELINE_LIMIT

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "analytics"))
from analytics_builders import History, at  # noqa: E402


def _deal_with_history(pipeline, world, rows: int):
    """A deal with `rows` stage history rows: created on 1 January, moves back and forth between
    Propose and Negotiate since (inserted in one batch, as an import writes them), then a live move."""
    history = History(world, pipeline)
    deal = history.deal("2026-01-01", 5000)
    here, earlier = history.stages["qualify"], []
    for hour in range(1, rows - 1):
        there = history.stages["negotiate" if here.key == "propose" else "propose"]
        earlier.append(StageHistory(deal=deal, from_stage=here, to_stage=there, by=world.dave,
                                    kind="forward" if there.position > here.position else "backward",
                                    at=at("2026-01-02") + dt.timedelta(hours=hour), amount=deal.amount,
                                    currency=deal.currency, probability=there.probability))
        here = there
    StageHistory.objects.bulk_create(earlier)
    Deal.objects.filter(pk=deal.pk).update(stage=here, stage_entered_at=earlier[-1].at if earlier else deal.created_at)
    deal.refresh_from_db()
    services.move_deal(deal, "negotiate" if here.key == "propose" else "propose", by=world.dave,
                       override_reason="history")
    assert StageHistory.objects.filter(deal=deal).count() == rows
    return deal


def _unbounded_history_reads(queries: list[str]) -> list[str]:
    """Reads of a deal's history that are not bounded by a LIMIT (or reduced by DISTINCT)."""
    return [q for q in queries if any(f'FROM "{table}"' in q for table in ("deals_stagehistory", "deals_fieldchange"))
            and "LIMIT" not in q and "DISTINCT" not in q]


def _queries(action) -> list[str]:
    action()  # warm: caches that fill once per process are not what is measured
    with CaptureQueriesContext(connection) as ctx:
        action()
    return [q["sql"] for q in ctx.captured_queries]


def _page(client, deal, query=""):
    response = client.get(reverse("web:deal", args=[deal.pk]) + query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_move_and_deal_page_queries_do_not_grow_with_the_history(client, world, pipeline):
    short, long = _deal_with_history(pipeline, world, 6), _deal_with_history(pipeline, world, 200)
    client.force_login(world.dave)
    pages = [_queries(lambda d=d: _page(client, d)) for d in (short, long)]
    assert len(pages[0]) == len(pages[1])
    assert not _unbounded_history_reads(pages[1])

    def move_there_and_back(deal):
        def action():
            services.move_deal(deal, "negotiate", by=world.dave, override_reason="timed")
            services.move_deal(deal, "propose", by=world.dave)
        return action

    moves = [_queries(move_there_and_back(d)) for d in (short, long)]
    assert len(moves[0]) == len(moves[1])
    assert not any(sql.startswith("DELETE") and "deals_statespan" in sql for sql in moves[1])  # appended
    for deal in (short, long):  # a closed deal's page reads its close from two rows, not the history
        services.move_deal(deal, "lost", by=world.dave, lost_reason="price")
    closed = [_queries(lambda d=d: _page(client, d)) for d in (short, long)]
    assert len(closed[0]) == len(closed[1]) and not _unbounded_history_reads(closed[1])


@pytest.mark.django_db
def test_the_timeline_shows_the_newest_entries_and_links_to_all(client, world, pipeline):
    deal = _deal_with_history(pipeline, world, TIMELINE_LIMIT + 2)
    client.force_login(world.alice)
    html = _page(client, deal)
    assert html.count('class="tl-move') == TIMELINE_LIMIT
    assert "Show the whole timeline" in html and "?timeline=all" in html
    assert "Created in Qualify" not in html  # the oldest entry is past the limit
    everything = _page(client, deal, "?timeline=all")
    assert everything.count('class="tl-move') == TIMELINE_LIMIT + 2 and "Created in Qualify" in everything
    assert "Show the whole timeline" not in everything
    short = _deal_with_history(pipeline, world, 6)
    assert "Show the whole timeline" not in _page(client, short)
    assert _page(client, short, "?timeline=%00" + "9" * 100_000).count('class="tl-move') == 6  # not "all"
