"""The board in a real browser: a gated drag, fixing criteria from the panel, closing as Lost, scope."""

from __future__ import annotations

import time

import pytest

from dealgate.deals import services
from dealgate.deals.models import Deal
from tests.e2e.conftest import shot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _column(page, stage_key_name: str):
    return page.locator(f"section.column[aria-label='{stage_key_name}']")


def _drag_to_closer(page, card, zone_selector: str) -> None:
    """Won and Lost only appear once a drag has started, as on the real board."""
    card.hover()
    page.mouse.down()
    box = card.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 30, steps=5)
    zone = page.locator(zone_selector)
    zone.wait_for(state="visible")
    zone.hover()
    page.mouse.up()


def test_a_refused_drag_opens_the_panel_and_a_fixed_deal_lands_with_totals_updated(page, world, make_deal):
    deal = make_deal(owner=world.alice, title="Acme rollout", amount=5000)
    sign_in(page, "alice", world.password)
    page.goto("/board/test/")
    card = page.locator(f"#deal-{deal.pk}")
    propose = _column(page, "Propose")
    assert "No amounts" in propose.locator(".column-money").inner_text()

    card.drag_to(propose)
    panel = page.locator("#panel")
    panel.get_by_text("Can't move to Propose yet").wait_for()
    assert "Budget confirmed" in panel.inner_text()
    assert "Decision maker identified" in panel.inner_text()
    assert _column(page, "Qualify").locator(f"#deal-{deal.pk}").count() == 1  # the card came back
    shot(page, "e2e-refused")

    panel.locator("input[name=evidence]").fill("CFO confirmed budget on the call of 12 May")
    panel.get_by_role("button", name="Tick").click()
    panel.get_by_text("Ticked budget").wait_for()
    panel.locator("form.fix-contact input[name=name]").fill("Dana Buyer")
    panel.locator("form.fix-contact input[name=email]").fill("dana@acme.test")
    panel.locator("form.fix-contact button").click()
    panel.get_by_text("All 3 criteria for Propose are met").wait_for()

    page.locator("[data-close-panel]").click()
    page.locator(f"#deal-{deal.pk}").drag_to(propose)
    page.locator(f"section.column[aria-label='Propose'] #deal-{deal.pk}").wait_for()
    assert "EUR 5,000" in _column(page, "Propose").locator(".column-money").inner_text()
    assert "No amounts" in _column(page, "Qualify").locator(".column-money").inner_text()
    shot(page, "e2e-landed")
    deal.refresh_from_db()
    assert deal.stage.key == "propose"


def test_dropping_on_lost_asks_for_a_reason_and_closes_the_deal(page, world, make_deal):
    deal = make_deal(owner=world.alice, title="Globex pilot", amount=1200)
    sign_in(page, "alice", world.password)
    page.goto("/board/test/")
    _drag_to_closer(page, page.locator(f"#deal-{deal.pk}"), ".dropzone.lost")
    panel = page.locator("#panel")
    panel.get_by_role("button", name="Mark as lost").wait_for()
    panel.get_by_role("button", name="Mark as lost").click()  # no reason yet: the browser or server refuses
    panel.locator("select[name=lost_reason]").select_option("competitor")
    panel.locator("input[name=lost_note]").fill("Went with the incumbent")
    shot(page, "e2e-lost-form")
    panel.get_by_role("button", name="Mark as lost").click()
    page.locator(f"#deal-{deal.pk}").wait_for(state="detached")
    deal.refresh_from_db()
    assert deal.stage.kind == "lost" and deal.lost_reason.key == "competitor"


def test_the_keyboard_moves_a_card_without_a_mouse(page, world, make_deal):
    deal = make_deal(owner=world.alice, title="Initech upgrade", amount=800)
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="Approved in Q2 plan")
    sign_in(page, "alice", world.password)
    page.goto("/board/test/")
    page.locator(f"#deal-{deal.pk}").focus()
    page.keyboard.press("m")
    panel = page.locator("#panel")
    panel.get_by_role("button", name="Propose").click()
    panel.get_by_text("Decision maker identified").wait_for()  # entry criterion still unmet
    assert Deal.objects.get(pk=deal.pk).stage.key == "qualify"


def test_a_rep_cannot_open_another_teams_deal(page, world, make_deal):
    deal = make_deal(owner=world.alice, title="East secret")
    sign_in(page, "carol", world.password)
    page.goto("/board/test/")
    assert page.locator(f"#deal-{deal.pk}").count() == 0
    response = page.goto(f"/deals/{deal.pk}/")
    assert response.status == 404


def _wait_for_focus_in_panel(page, seconds: float = 10) -> None:
    """Polls from the test side: `wait_for_function` with a string polls by eval in the page, which
    the app's Content Security Policy (no unsafe-eval) refuses whenever the first check is false."""
    deadline = time.monotonic() + seconds
    while not page.evaluate("document.getElementById('panel').contains(document.activeElement)"):
        assert time.monotonic() < deadline, "focus never moved into the refusal panel"
        page.wait_for_timeout(50)


def test_the_refusal_panel_is_a_dialog_on_the_keyboard_path(page, world, make_deal):
    """Shift+→ on a card whose move is refused: focus moves into the panel (a dialog), Tab stays in it, a fix
    refreshes the card's count (1 of 3 -> 2 of 3 for Propose), Escape closes it and focus is back on the card."""
    deal = make_deal(owner=world.alice, title="Acme rollout", amount=5000)
    sign_in(page, "alice", world.password)
    page.goto("/board/test/")
    card = page.locator(f"#deal-{deal.pk}")
    assert "1 of 3 for Propose" in card.inner_text()
    card.focus()
    page.keyboard.press("Shift+ArrowRight")
    panel = page.locator("#panel")
    panel.get_by_text("Can't move to Propose yet").wait_for()
    _wait_for_focus_in_panel(page)
    assert panel.get_attribute("role") == "dialog" and panel.get_attribute("aria-modal") == "true"
    assert "1 of 3 for Propose" in panel.inner_text()
    for _ in range(25):  # more Tabs than the panel has controls: focus never leaves it
        page.keyboard.press("Tab")
        assert page.evaluate("document.getElementById('panel').contains(document.activeElement)")
    shot(page, "e2e-refusal-dialog")

    panel.locator("input[name=evidence]").fill("CFO confirmed budget on the call of 12 May")
    panel.locator("input[name=evidence]").press("Enter")
    panel.get_by_text("2 of 3 for Propose").wait_for()
    page.locator(f"#deal-{deal.pk}").get_by_text("2 of 3 for Propose").wait_for()  # the card behind refreshed
    _wait_for_focus_in_panel(page)

    page.keyboard.press("Escape")
    page.locator("#panel .panel-inner").wait_for(state="detached")
    assert page.evaluate("document.activeElement.id") == f"deal-{deal.pk}"
    assert page.locator("#panel").get_attribute("role") is None


def test_after_a_drop_load_more_still_shows_every_card_of_the_column_left(page, world, make_deal):
    """The column a card leaves is not drawn again (only its header changes), so the page it was drawn
    with shows one card fewer than its "Load more" offset counts: no card may be skipped."""
    leaving = make_deal(owner=world.alice, title="Leaving first", amount=100,
                        expected_close_date="2026-01-05")  # the column's first card (earliest close date)
    services.record_checklist_answer(leaving, "budget", by=world.alice, evidence="ok")
    services.link_contact(leaving, services.create_contact(by=world.alice, name="Dana", account=leaving.account),
                          "decision_maker", by=world.alice)
    staying = [make_deal(owner=world.alice, title=f"Staying {n:02d}", amount=100) for n in range(31)]
    sign_in(page, "alice", world.password)
    page.goto("/board/test/")
    qualify = _column(page, "Qualify")
    assert qualify.locator(".card").count() == 30 and qualify.locator(f"#deal-{leaving.pk}").count() == 1

    page.locator(f"#deal-{leaving.pk}").drag_to(_column(page, "Propose"))
    page.locator(f"section.column[aria-label='Propose'] #deal-{leaving.pk}").wait_for()
    assert qualify.locator(".count").inner_text() == "31" and qualify.locator(".card").count() == 29

    qualify.locator(".load-more button").click()
    qualify.locator(".load-more").wait_for(state="detached")
    shown = qualify.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.deal)")
    assert sorted(map(int, shown)) == sorted(deal.pk for deal in staying)


def test_a_card_landing_past_a_full_first_page_comes_with_load_more(page, world, make_deal):
    """The joined column showed all its 30 cards and no "Load more"; the dropped card closes last, so it
    is the 31st: the drop adds the "Load more" that brings it, in card order."""
    mover = make_deal(owner=world.alice, title="Closes last", amount=100, expected_close_date="2027-06-30")
    services.record_checklist_answer(mover, "budget", by=world.alice, evidence="ok")
    services.link_contact(mover, services.create_contact(by=world.alice, name="Dana", account=mover.account),
                          "decision_maker", by=world.alice)
    propose_stage = mover.pipeline.stages.get(key="propose")
    there = [make_deal(owner=world.alice, title=f"In Propose {n:02d}", amount=100,
                       expected_close_date=f"2027-01-{n + 1:02d}") for n in range(30)]
    Deal.objects.filter(pk__in=[d.pk for d in there]).update(stage=propose_stage)
    sign_in(page, "alice", world.password)
    page.goto("/board/test/")
    propose = _column(page, "Propose")
    assert propose.locator(".card").count() == 30 and propose.locator(".load-more").count() == 0

    page.locator(f"#deal-{mover.pk}").drag_to(propose)
    propose.locator(".count").get_by_text("31").wait_for()
    assert propose.locator(f"#deal-{mover.pk}").count() == 0  # not on the first page
    propose.locator(".load-more button").click()
    propose.locator(f"#deal-{mover.pk}").wait_for()
    shown = propose.locator(".card").evaluate_all("cards => cards.map(c => Number(c.dataset.deal))")
    assert shown == [d.pk for d in there] + [mover.pk]
