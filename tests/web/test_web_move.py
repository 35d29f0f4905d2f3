"""Moving from the board: the move service decides; a refusal opens the panel with fixes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.deals import services
from dealgate.deals.models import Deal, StageHistory

HX = {"HX-Request": "true"}


@pytest.fixture
def deal(make_deal, world):
    return make_deal(owner=world.alice, title="Acme rollout", amount=5000)


def _stage(deal, key):
    return deal.pipeline.stages.get(key=key)


def _move(client, deal, key, **extra):
    data = {"to": _stage(deal, key).pk, "expected": deal.stage_id, "origin": "board", **extra}
    return client.post(reverse("web:move", args=[deal.pk]), data, headers=HX)


def test_a_refused_move_changes_nothing_and_lists_each_unmet_criterion_with_its_fix(client, world, deal):
    client.force_login(world.alice)
    response = _move(client, deal, "propose")
    html = response.content.decode()
    assert response.status_code == 409
    assert "Can't move to Propose yet" in html
    assert "Budget confirmed" in html and 'name="evidence"' in html
    assert "Decision maker identified" in html and 'name="role" value="decision_maker"' in html
    assert "Override" not in html  # alice is a rep
    assert Deal.objects.get(pk=deal.pk).stage.key == "qualify"
    assert StageHistory.objects.filter(deal=deal).count() == 1


def test_a_manager_sees_the_override_form_in_the_panel(client, world, deal):
    client.force_login(world.bob)
    assert "Override as a manager" in _move(client, deal, "propose").content.decode()


def test_fixing_from_the_panel_rerenders_it_with_what_is_left(client, world, deal):
    client.force_login(world.alice)
    propose = _stage(deal, "propose")
    url = reverse("web:deal_action", args=[deal.pk, "checklist"])
    response = client.post(url, {"item": "budget", "evidence": "CFO said yes", "panel_to": propose.pk,
                                 "form_id": "qualify-exit-budget"}, headers=HX)
    html = response.content.decode()
    assert response.status_code == 200
    # amount (met) + budget (just ticked) of Qualify's exit, Propose's decision maker still missing: 2 of 3
    assert "Ticked budget" in html and "2 of 3 for Propose" in html
    response = client.post(reverse("web:deal_action", args=[deal.pk, "contact"]),
                           {"name": "Dana Buyer", "email": "dana@acme.test", "role": "decision_maker",
                            "panel_to": propose.pk}, headers=HX)
    assert "All 3 criteria for Propose are met" in response.content.decode()
    assert deal.contact_links.get().contact.account_id == deal.account_id


def test_a_fix_with_bad_input_shows_the_error_next_to_its_form(client, world, deal):
    client.force_login(world.alice)
    services.update_deal(deal, by=world.alice, amount=None)
    response = client.post(reverse("web:deal_action", args=[deal.pk, "field"]),
                           {"field": "amount", "value": "lots", "panel_to": _stage(deal, "propose").pk,
                            "form_id": "qualify-exit-amount"}, headers=HX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "is not a number" in html
    assert html.index("is not a number") > html.index('id="crit-qualify-exit-amount"')


def test_a_successful_move_sends_only_the_two_headers_and_the_card_at_its_place(client, world, deal, make_deal):
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="ok")
    contact = services.create_contact(by=world.alice, name="Dana", account=deal.account)
    services.link_contact(deal, contact, "decision_maker", by=world.alice)
    qualify, propose = _stage(deal, "qualify"), _stage(deal, "propose")
    Deal.objects.filter(pk=deal.pk).update(expected_close_date="2026-06-15")
    # Already in Propose: one closing before the deal, one after it (cards go by close date).
    earlier, later = (make_deal(owner=world.alice, title=title, amount=100, expected_close_date=day)
                      for title, day in (("Earlier", "2026-06-01"), ("Later", "2026-07-01")))
    for other in (earlier, later):
        Deal.objects.filter(pk=other.pk).update(stage=propose)
    client.force_login(world.alice)
    response = _move(client, deal, "propose")
    html = response.content.decode()
    assert response.status_code == 200
    # The column it left: its header (now empty) and the card taken out; no other card is sent again.
    assert f'<header class="column-head" id="col-head-{qualify.pk}" hx-swap-oob="true">' in html
    assert f'<div hx-swap-oob="delete:#col-{qualify.pk} #deal-{deal.pk}"></div>' in html
    # The column it joined: its header with the new totals, and the card after the one closing before it.
    joined = html[html.index(f'id="col-head-{propose.pk}"'):]
    assert "EUR 5,200" in joined and "EUR 3,120" in joined  # 5,000 + 2 x 100, 60% weighted
    assert f'<div hx-swap-oob="afterend:#col-{propose.pk} #deal-{earlier.pk}"><li class="card" id="deal-{deal.pk}"' in html
    assert f'id="deal-{earlier.pk}"' not in html and f'id="deal-{later.pk}"' not in html
    assert '<section class="column"' not in html  # no column drawn whole
    assert "dg:moved" in response["HX-Trigger-After-Settle"]
    assert Deal.objects.get(pk=deal.pk).stage == propose


def test_a_card_landing_first_goes_to_the_top_of_the_column(client, world, deal):
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="ok")
    services.link_contact(deal, services.create_contact(by=world.alice, name="Dana", account=deal.account),
                          "decision_maker", by=world.alice)
    client.force_login(world.alice)
    propose = _stage(deal, "propose")
    html = _move(client, deal, "propose").content.decode()
    assert f'<div hx-swap-oob="afterbegin:#col-{propose.pk} ol.cards"><li class="card" id="deal-{deal.pk}"' in html


def test_a_stale_drop_is_a_conflict_not_a_second_move(client, world, deal):
    client.force_login(world.alice)
    lost = _stage(deal, "lost")
    services.move_deal(deal, lost, by=world.alice, lost_reason="price")
    response = client.post(reverse("web:move", args=[deal.pk]),
                           {"to": _stage(deal, "negotiate").pk, "expected": _stage(deal, "qualify").pk}, headers=HX)
    assert response.status_code == 409
    assert "someone moved it" in response.content.decode()


def test_lost_needs_a_reason_shown_next_to_the_select(client, world, deal):
    client.force_login(world.alice)
    response = _move(client, deal, "lost")
    assert response.status_code == 422
    assert "needs a reason" in response.content.decode()
    response = _move(client, deal, "lost", lost_reason="competitor", lost_note="Incumbent")
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage.kind == "lost" and deal.lost_reason.key == "competitor" and deal.lost_note == "Incumbent"


def test_won_opens_a_checklist_and_records_the_handoff(client, world, deal):
    client.force_login(world.bob)
    panel = client.get(reverse("web:panel", args=[deal.pk, "won"])).content.decode()
    assert "Pricing approved" in panel and "Approve" in panel
    # Winning from Qualify passes Propose: its gates are on the checklist too (issue 11).
    assert "Budget confirmed" in panel and "Decision maker identified" in panel and "Proposal meeting held" in panel
    services.record_checklist_answer(deal, "budget", by=world.alice, evidence="CFO confirmed")
    buyer = services.create_contact(by=world.alice, name="Dana Buyer", account=deal.account)
    services.link_contact(deal, buyer, "decision_maker", by=world.alice)
    services.log_activity(by=world.alice, kind="meeting", subject="Proposal", deal=deal, outcome="held")
    services.approve_condition(deal, "pricing_approved", by=world.bob)
    response = _move(client, deal, "won", handoff="Go-live 1 June; 40 seats")
    assert response.status_code == 200
    deal.refresh_from_db()
    assert deal.stage.kind == "won"
    assert deal.activities.get(subject="Handoff").notes == "Go-live 1 June; 40 seats"


def test_the_keyboard_menu_lists_every_stage(client, world, deal):
    client.force_login(world.alice)
    html = client.get(reverse("web:panel", args=[deal.pk, "menu"])).content.decode()
    for name in ("Qualify (now)", "Propose", "Negotiate", "Won…", "Lost…"):
        assert name in html


def test_a_move_from_the_deal_page_redirects_back_to_it(client, world, deal):
    client.force_login(world.alice)
    response = _move(client, deal, "lost", lost_reason="price", origin="deal")
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("web:deal", args=[deal.pk])


def test_the_won_flow_asks_for_the_handoff_once(client, world, deal, pipeline):
    """The test pipeline's Won stage has no handoff checklist: the panel asks for handoff notes (one box).
    Once Won has its own handoff checklist item (the handoff record), the panel lists that item and drops the
    notes box that asked the same again."""
    from dealgate.pipelines.models import Criterion

    client.force_login(world.bob)
    panel = client.get(reverse("web:panel", args=[deal.pk, "won"])).content.decode()
    assert panel.count('name="handoff"') == 1
    Criterion.objects.create(stage=_stage(deal, "won"), phase="entry", key="agreed-terms", kind="checklist",
                             label="Handoff: agreed price, scope and terms written down", config={"item": "agreed_terms"},
                             position=5)
    panel = client.get(reverse("web:panel", args=[deal.pk, "won"])).content.decode()
    assert "Handoff: agreed price, scope and terms written down" in panel
    assert 'name="handoff"' not in panel


def test_a_stage_chosen_before_htmx_wires_the_menu_still_moves_the_deal(client, world, deal):
    """htmx binds a swapped-in form only after its settle delay; a fast tap in that window submits the
    form natively. It must post to the move view (with its CSRF token), not GET the board with ?to=."""
    import re

    client = type(client)(enforce_csrf_checks=True)
    client.force_login(world.alice)
    html = client.get(reverse("web:panel", args=[deal.pk, "menu"])).content.decode()
    form = next(f for f in re.findall(r"<form[^>]*>.*?</form>", html, re.S) if ">Propose<" in f)
    action = re.search(r'action="([^"]+)"', form).group(1)
    assert 'method="post"' in form and action == reverse("web:move", args=[deal.pk])
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    response = client.post(action, fields)  # no HX-Request header: the browser's own submit
    page = response.content.decode()
    assert response.status_code == 409 and "Can't move to Propose yet." in page  # refused: its criteria are unmet
    assert "<header class=\"topbar" in page and "data-close-panel" not in page  # a whole page, not a loose fragment
    assert not StageHistory.objects.filter(deal=deal, to_stage__key="propose").exists()
