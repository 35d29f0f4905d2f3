"""The deal page: path, exit question and criteria, next step, facts, contacts, conditions, timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from dealgate.deals import services
from dealgate.deals.models import Activity, Deal


@pytest.fixture
def deal(make_deal, world):
    return make_deal(owner=world.alice, title="Acme rollout", amount=5000)


def _page(client, deal):
    response = client.get(reverse("web:deal", args=[deal.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_path_the_exit_question_and_the_criteria_progress(client, world, deal):
    client.force_login(world.alice)
    html = _page(client, deal)
    assert 'aria-current="step"' in html
    assert "Is there budget for this?" in html
    assert "1 of 3 for Propose" in html  # Qualify's exit: amount (met), budget; Propose's entry: decision maker
    assert "Amount estimated" in html and "Budget confirmed" in html
    path = html[html.index('aria-label="Stage path"'):]  # the header's "1 of 3 for Propose" names Propose first
    assert path.index("Qualify") < path.index("Propose") < path.index("Negotiate")


def test_another_rep_of_the_team_can_read_the_deal_without_any_edit_form(client, world, deal):
    client.force_login(world.bob)
    assert 'name="next_step"' in _page(client, deal)  # bob manages alice
    from dealgate.people.services import create_user

    teammate = create_user(username="erin", password="x" * 12, role="rep", team=world.east)
    client.force_login(teammate)
    html = _page(client, deal)
    assert "Acme rollout" in html and "Budget confirmed" in html
    assert 'name="next_step"' not in html and 'name="evidence"' not in html


def test_it_sets_the_next_step_in_place_and_refuses_one_without_a_date(client, world, deal):
    client.force_login(world.alice)
    url = reverse("web:deal_action", args=[deal.pk, "next_step"])
    response = client.post(url, {"next_step": "Call CFO", "next_step_due": "", "form_id": "next_step"})
    assert response.status_code == 422
    assert "a next step needs a due date" in response.content.decode()
    due = timezone.localdate() + dt.timedelta(days=2)
    response = client.post(url, {"next_step": "Call CFO", "next_step_due": due.isoformat(), "form_id": "next_step"})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.next_step, deal.next_step_due) == ("Call CFO", due)


def test_it_logs_a_call_with_one_click(client, world, deal):
    client.force_login(world.alice)
    response = client.post(reverse("web:deal_action", args=[deal.pk, "activity"]), {"kind": "call", "subject": ""})
    assert response.status_code == 302
    activity = Activity.objects.get(deal=deal)
    assert (activity.kind, activity.subject, activity.by) == ("call", "Call", world.alice)
    assert "Call: Call" in _page(client, deal)


def test_it_edits_key_fields_and_shows_errors_next_to_them(client, world, deal):
    client.force_login(world.alice)
    url = reverse("web:deal_action", args=[deal.pk, "fields"])
    response = client.post(url, {"title": "Acme rollout", "amount": "-5", "form_id": "fields"})
    assert response.status_code == 422
    assert "cannot be negative" in response.content.decode()
    client.post(url, {"title": "Acme rollout", "amount": "7000", "currency": "usd", "form_id": "fields"})
    deal.refresh_from_db()
    assert (deal.amount, deal.currency) == (7000, "USD")
    assert "Amount changed" in _page(client, deal)


def test_it_links_a_contact_with_a_role(client, world, deal):
    client.force_login(world.alice)
    client.post(reverse("web:deal_action", args=[deal.pk, "contact"]),
                {"name": "Dana Buyer", "email": "dana@acme.test", "role": "champion"})
    html = _page(client, deal)
    assert "Dana Buyer" in html and "Champion" in html


def test_it_lists_close_conditions_with_who_approved_them(client, world, deal):
    client.force_login(world.alice)
    assert "awaiting a manager or admin" in _page(client, deal)
    response = client.post(reverse("web:deal_action", args=[deal.pk, "approve"]), {"condition": "pricing_approved"})
    assert response.status_code == 403  # a rep may not approve pricing
    client.force_login(world.bob)
    client.post(reverse("web:deal_action", args=[deal.pk, "approve"]), {"condition": "pricing_approved", "note": "ok"})
    assert "approved by Bob" in _page(client, deal)


def test_the_timeline_shows_moves_with_overrides_and_who(client, world, deal):
    services.move_deal(deal, "propose", by=world.bob, override_reason="Budget confirmed by phone")
    client.force_login(world.alice)
    html = _page(client, deal)
    assert "Qualify → Propose" in html and "Override: Budget confirmed by phone" in html and "Bob" in html


def test_it_shows_flags_with_their_reasons(client, world, deal):
    client.force_login(world.alice)
    assert "No next step" in _page(client, deal)


def test_a_closed_deal_page_shows_the_result(client, world, deal):
    services.move_deal(deal, "lost", by=world.alice, lost_reason="price", lost_note="Too pricey")
    client.force_login(world.alice)
    html = _page(client, Deal.objects.get(pk=deal.pk))
    assert "Lost: Price too high" in html


def test_the_timeline_names_the_people_and_teams_of_a_reassignment(client, world, deal):
    services.reassign_deal(deal, world.carol, by=world.dave)
    client.force_login(world.dave)
    html = _page(client, deal)
    assert "Owner changed" in html and "Alice → Carol" in html
    assert "Team changed" in html and "East → West" in html


def test_the_timeline_shows_amounts_with_separators_and_currency_and_dates_as_days(client, world, deal):
    """amount 13600 -> 10100 on a EUR deal reads "13,600.00 → 10,100.00 EUR" (was "13600.00 → 10100.00");
    the close date 2031-02-03 -> 2031-03-04 reads "3 Feb 2031 → 4 Mar 2031" (not this year, so with the year)."""
    services.update_deal(deal, by=world.alice, currency="EUR", amount="13600", expected_close_date="2031-02-03")
    services.update_deal(deal, by=world.alice, amount="10100", expected_close_date="2031-03-04")
    client.force_login(world.alice)
    html = _page(client, deal)
    assert "13,600.00 → 10,100.00 EUR" in html
    assert "3 Feb 2031 → 4 Mar 2031" in html
