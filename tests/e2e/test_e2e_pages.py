"""The other screens in a real browser, at laptop and tablet width: lists, my day, account, settings."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import shot, sign_in
from tests.e2e.test_e2e_showcase import DEALS, seed_team_board

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_lists_my_day_and_the_account_page_render_for_a_rep(page, world):
    pipeline, deals = seed_team_board(world)
    sign_in(page, "alice", world.password)
    page.goto("/deals/?sort=-amount")
    rows = page.locator("table.data tbody tr")
    assert rows.count() == len(DEALS)
    assert "Grid forecasting" in rows.first.inner_text()  # the biggest deal first
    shot(page, "deals-table")
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename.startswith("deals-")
    page.goto("/my-day/")
    assert "Store analytics" in page.locator("section").first.inner_text()  # its next step is overdue
    shot(page, "my-day")
    page.goto(f"/accounts/{deals['Line sensors'].account_id}/")
    assert "Line sensors" in page.content()
    shot(page, "account")


def test_the_board_and_deal_page_fit_a_tablet(page, world):
    pipeline, deals = seed_team_board(world)
    page.set_viewport_size({"width": 820, "height": 1180})
    sign_in(page, "alice", world.password)
    page.goto(f"/board/{pipeline.key}/?scope=team")  # a rep opens on her own deals; the team's are one choice away
    assert page.locator(".card").count() == len(DEALS)
    shot(page, "board-tablet")
    page.goto(f"/deals/{deals['Cold-chain tracking'].pk}/")
    page.get_by_role("navigation", name="Stage path").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 820, f"the deal page scrolls sideways on a tablet ({width}px)"
    shot(page, "deal-tablet", full_page=True)


def test_an_admin_edits_a_stage_in_the_settings(page, world):
    pipeline, _ = seed_team_board(world)
    sign_in(page, "dave", world.password)
    page.goto(f"/settings/pipelines/{pipeline.key}/")
    page.locator("#stages").get_by_role("link", name="Lead Qualification").click()  # each stage has its own page
    stage = page.locator("section", has=page.get_by_role("heading", name="The stage"))
    stage.locator("input[name=probability]").fill("25")
    stage.get_by_role("button", name="Save stage").click()
    page.get_by_text("Saved stage Lead Qualification").wait_for()
    shot(page, "settings", full_page=False)
    assert pipeline.stages.get(key="lead-qualification").probability == 25
