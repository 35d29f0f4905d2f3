"""The weekly review and a manager's My day in a real browser, at laptop (1440 px) and phone (390 px) width."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in
from tests.e2e.test_e2e_showcase import seed_team_board

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _fits(page) -> bool:
    """Nothing but the tables' own scrolling boxes is wider than the window."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_manager_opens_the_weekly_review_from_insights_and_steps_back_a_week(page, world):
    seed_team_board(world)
    sign_in(page, "bob", world.password)
    page.goto("/insights/")
    page.get_by_role("link", name="Weekly review →").click()
    page.get_by_role("heading", name="Pipeline review").wait_for()
    owners = page.locator("section", has_text="Per owner").locator("tbody tr")
    assert [owners.nth(i).locator("td").first.inner_text() for i in range(owners.count())] == ["Alice", "Bob"]
    assert "team East" in page.locator(".hint").first.inner_text()
    shot(page, "review-1440", full_page=True)
    this_week = page.locator(".week-nav strong").inner_text()
    page.get_by_role("link", name="← Week").click()
    page.wait_for_url("**/insights/review/?week=*")
    assert page.locator(".week-nav strong").inner_text() != this_week
    page.get_by_role("link", name="This week").click()
    page.wait_for_url("**/insights/review/?week=*")
    assert page.locator(".week-nav strong").inner_text() == this_week
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert _fits(page)
    shot(page, "review-390", full_page=True)


def test_a_managers_my_day_lists_the_teams_stale_deals_on_a_phone(page, world):
    seed_team_board(world)
    sign_in(page, "bob", world.password)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/my-day/")
    team = page.locator("section", has_text="Your team's quiet or slow deals")
    assert "Alice" in team.inner_text() and "Nothing is quiet or slow" not in page.content()
    assert _fits(page)
    shot(page, "my-day-manager-390", full_page=True)
    page.set_viewport_size({"width": 1440, "height": 900})
    shot(page, "my-day-manager-1440", full_page=True)
