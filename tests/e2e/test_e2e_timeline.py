"""The deal page's timeline, bounded to its newest entries (issue #16), at desktop and phone width."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dealgate.web.views.deal import TIMELINE_LIMIT
from tests.e2e.conftest import shot, sign_in

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from test_web_history_length import _deal_with_history  # noqa: E402


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1440, 390])
def test_a_long_history_shows_the_newest_entries_and_a_link_to_all(page, world, pipeline, width):
    deal = _deal_with_history(pipeline, world, TIMELINE_LIMIT + 2)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "alice", world.password)
    page.goto(f"/deals/{deal.pk}/")
    assert page.locator("ol.timeline > li.tl-move").count() == TIMELINE_LIMIT
    link = page.get_by_role("link", name="Show the whole timeline")
    link.scroll_into_view_if_needed()
    assert link.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    shot(page, f"deal-timeline-limited-{width}")
    link.click()
    page.wait_for_url(lambda url: "timeline=all" in url)
    assert page.locator("ol.timeline > li.tl-move").count() == TIMELINE_LIMIT + 2
    assert page.get_by_text("Created in Qualify").is_visible()
    assert page.get_by_role("link", name="Show the whole timeline").count() == 0
