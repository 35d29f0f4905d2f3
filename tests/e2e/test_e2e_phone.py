"""Dealgate on a phone (390 px) and a tablet (768 px), in a real Chromium with a touch screen:
no page scrolls sideways, the menu button reaches every item, a deal moves by a tap on "Move to…",
tapping a card opens the deal page."""

from __future__ import annotations

import pytest

from dealgate.deals.models import Deal
from tests.e2e.conftest import shot, sign_in
from tests.e2e.test_e2e_showcase import meet_criteria, seed_team_board

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}


@pytest.fixture
def phone(browser, live_server):
    """A touch phone: taps are touch events, the viewport is 390 px wide."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, base_url=live_server.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


def _sideways_overflow(page) -> int:
    """How many pixels the page itself is wider than the screen (a table or board scrolling inside its box is fine)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_no_page_scrolls_sideways_on_a_phone_or_a_tablet(phone, world):
    pipeline, deals = seed_team_board(world)
    sign_in(phone, "dave", world.password)
    pages = {
        "board": f"/board/{pipeline.key}/",
        "deal": f"/deals/{deals['Cold-chain tracking'].pk}/",
        "deals": "/deals/",
        "accounts": "/accounts/",
        "contacts": "/contacts/",
        "account": f"/accounts/{deals['Line sensors'].account_id}/",
        "my-day": "/my-day/",
        "settings": "/settings/",
        "settings-pipeline": f"/settings/pipelines/{pipeline.key}/",
        "tokens": "/tokens/",
        "inbox": "/inbox/",
        "signals": "/signals/",
        "imports": "/imports/",
        "insights": "/insights/",
        "rules": "/settings/rules/",
        "users": "/settings/users/",
        "audit": "/settings/audit/",
    }
    for size in (PHONE, TABLET):
        phone.set_viewport_size(size)
        for name, url in pages.items():
            phone.goto(url)
            overflow = _sideways_overflow(phone)
            shot(phone, f"phone-{size['width']}-{name}", full_page=True)
            assert overflow <= 0, f"{url} is {overflow}px wider than a {size['width']} px screen"


def test_george_reads_his_signals_as_cards_on_a_phone(phone, world):
    """The demo's distributor rep at 390 px: a card per signal, nothing scrolls sideways, inside the list either."""
    from io import StringIO

    from django.conf import settings

    from dealgate.demo.cast import DEMO_PASSWORD
    from dealgate.demo.generator import generate

    import datetime as dt

    from django.contrib.auth import get_user_model

    from dealgate.signals.services import inbox

    # A fixed day: how many of the demo's planted lapses are george's to read changes from day to day
    # (2 as of 2026-12-05, 6 as of 2026-11-30, for 120 deals).
    generate(deals=120, seed=3, today=dt.date(2026, 11, 30), stdout=StringIO())
    waiting = inbox(get_user_model().objects.get(username="george")).count()
    sign_in(phone, "george", DEMO_PASSWORD)
    phone.goto("/signals/")
    cards = phone.locator(".signal-list tbody tr")
    assert cards.count() == waiting > 3
    assert phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    assert phone.evaluate("(() => { const l = document.querySelector('.signal-list'); return l.scrollWidth - l.clientWidth })()") <= 0
    first = cards.first
    box = first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    evidence = first.locator(".signal-evidence")
    assert evidence.bounding_box()["width"] > 250  # a sentence across the card, not a word a line
    assert "_" not in evidence.inner_text() and f"{settings.DEALGATE_CURRENCY} " in first.inner_text()
    first.get_by_text("Dismiss…").click()
    assert first.get_by_label("Why dismiss it?").is_visible()
    shot(phone, "signals-george-390", full_page=True)


@pytest.mark.parametrize("width", [390, 768, 1024, 1440])
def test_the_deal_page_stage_path_reads_in_full_at_any_width(phone, world, width):
    pipeline, deals = seed_team_board(world)
    sign_in(phone, "alice", world.password)
    phone.set_viewport_size({"width": width, "height": 900})
    phone.goto(f"/deals/{deals['Cold-chain tracking'].pk}/")
    steps = phone.get_by_role("navigation", name="Stage path").locator(".step > span, .step > button")
    names = [text.strip(" ✓\u00a0") for text in steps.all_inner_texts()]
    assert "Solution Presentation" in names and len(names) >= 6
    assert set(names) <= {stage.name for stage in pipeline.stages.all()}
    for n, name in enumerate(names):
        step = steps.nth(n)
        # Every stage name is shown whole, on the screen: nothing cut off, nothing to scroll to.
        assert step.evaluate("el => el.scrollWidth <= el.clientWidth"), f"{name} is cut off on the stage path"
        box = step.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"{name} is off screen"
    shot(phone, f"deal-path-{width}")


@pytest.mark.parametrize("size", [PHONE, TABLET], ids=["390", "768"])
def test_the_menu_button_reaches_api_tokens(phone, world, size):
    sign_in(phone, "dave", world.password)
    phone.set_viewport_size(size)
    phone.goto("/deals/")
    tokens = phone.locator("header.topbar").get_by_role("link", name="API tokens")
    assert not tokens.is_visible(), "the menu is collapsed until asked"
    phone.locator("header.topbar summary").tap()
    tokens.wait_for(state="visible")
    for name in ("Board", "Deals", "Accounts", "Insights", "Settings", "Audit log"):
        link = phone.locator("header.topbar").get_by_role("link", name=name, exact=True)
        box = link.bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= size["width"], f"{name} is off screen"
        assert box["y"] + box["height"] <= size["height"], f"{name} is below the screen"
    assert phone.get_by_role("button", name="Sign out").is_visible()
    shot(phone, f"phone-menu-{size['width']}")
    tokens.tap()
    phone.wait_for_url("**/tokens/")


def test_the_menu_is_a_plain_row_on_a_laptop(page, world):
    pipeline, _ = seed_team_board(world)
    sign_in(page, "dave", world.password)
    page.goto(f"/board/{pipeline.key}/")
    topbar = page.locator("header.topbar")
    assert not topbar.locator("summary").is_visible()
    for name in ("Board", "API tokens", "Audit log", "Sign out"):
        box = topbar.get_by_role("link" if name != "Sign out" else "button", name=name).bounding_box()
        assert box and box["x"] + box["width"] <= 1440, f"{name} is cut off"
    assert topbar.locator(".who").is_visible()
    assert _sideways_overflow(page) <= 0
    shot(page, "laptop-board-menu")


def _alice_on_a_board_with_a_deal_ready_to_move(tab, world):
    """The team board, signed in as alice; "Warehouse scanners" meets what Lead Qualification asks."""
    pipeline, deals = seed_team_board(world)
    qualification = pipeline.stages.get(key="lead-qualification")
    meet_criteria(deals["Warehouse scanners"], qualification, world.alice, world.bob)
    sign_in(tab, "alice", world.password)
    tab.goto(f"/board/{pipeline.key}/")
    return pipeline, deals, deals["Warehouse scanners"], qualification


def test_a_tap_on_move_to_moves_a_deal_and_a_refused_one_says_what_is_missing(phone, world):
    pipeline, deals, scanners, qualification = _alice_on_a_board_with_a_deal_ready_to_move(phone, world)

    phone.locator(f"#deal-{scanners.pk}").get_by_role("button", name="Move Warehouse scanners to…").tap()
    panel = phone.locator("#panel")
    panel.get_by_role("button", name=qualification.name).wait_for()
    shot(phone, "phone-move-menu")
    panel.get_by_role("button", name=qualification.name).tap()
    phone.locator(f"section.column[aria-label='{qualification.name}'] #deal-{scanners.pk}").wait_for()
    assert Deal.objects.get(pk=scanners.pk).stage_id == qualification.pk
    assert not panel.is_visible()  # the panel closed after the move

    analytics = deals["Store analytics"]  # in Lead Qualification, nothing done for the next stage
    needs = pipeline.stages.get(key="needs-analysis")
    phone.locator(f"#deal-{analytics.pk}").scroll_into_view_if_needed()
    phone.locator(f"#deal-{analytics.pk}").get_by_role("button", name="Move Store analytics to…").tap()
    panel.get_by_role("button", name=needs.name).tap()
    panel.get_by_text(f"Can't move to {needs.name} yet").wait_for()
    shot(phone, "phone-move-refused")
    assert f" for {needs.name} met" in panel.inner_text()
    assert panel.locator(".criterion.unmet").count() >= 1
    assert _sideways_overflow(phone) <= 0
    assert Deal.objects.get(pk=analytics.pk).stage_id == analytics.stage_id


def test_move_to_works_from_the_keyboard(page, world):
    _, _, scanners, qualification = _alice_on_a_board_with_a_deal_ready_to_move(page, world)
    page.locator(f"#deal-{scanners.pk}").focus()
    page.keyboard.press("Tab")  # from the card to its "Move to…" button
    # It reads "Move to…"; a screen reader hears the deal's name in it too (axe: the name contains the visible text).
    assert page.evaluate("document.activeElement.textContent") == f"Move {scanners.title} to…"
    page.keyboard.press("Enter")
    page.locator("#panel").get_by_role("button", name=qualification.name).focus()
    page.keyboard.press("Enter")
    page.locator(f"section.column[aria-label='{qualification.name}'] #deal-{scanners.pk}").wait_for()


def test_tapping_a_card_opens_the_deal_page(phone, world):
    pipeline, deals = seed_team_board(world)
    sensors = deals["Line sensors"]
    sign_in(phone, "alice", world.password)
    phone.goto(f"/board/{pipeline.key}/")
    card = phone.locator(f"#deal-{sensors.pk}")
    card.scroll_into_view_if_needed()
    card.locator(".card-account").tap()  # not the title link: anywhere on the card
    phone.wait_for_url(f"**/deals/{sensors.pk}/")
    assert phone.get_by_role("heading", name="Line sensors").is_visible()


def test_the_menu_opens_without_javascript(browser, live_server, world):
    context = browser.new_context(viewport=PHONE, has_touch=True, java_script_enabled=False, base_url=live_server.url)
    tab = context.new_page()
    try:
        sign_in(tab, "alice", world.password)
        tokens = tab.locator("header.topbar").get_by_role("link", name="API tokens")
        assert not tokens.is_visible()
        tab.locator("header.topbar summary").tap()
        tokens.tap()
        tab.wait_for_url("**/tokens/")
    finally:
        context.close()
