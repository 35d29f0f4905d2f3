"""Input a database cannot take gets a clear 4xx naming the field or parameter, and loses nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.deals import services
from dealgate.deals.models import Activity, Contact, Deal, StageHistory
from dealgate.errors import ValidationFailed

HX = {"HX-Request": "true"}
NUL = "Call\x00back"


@pytest.fixture
def deal(make_deal, world):
    return make_deal(owner=world.alice, title="Acme rollout", amount=5000)


def _won(deal):
    return deal.pipeline.stages.get(kind="won")


def _move_to_won(client, deal, handoff):
    data = {"to": _won(deal).pk, "expected": deal.stage_id, "origin": "board", "handoff": handoff,
            "override_reason": "Signed early; paperwork follows"}
    return client.post(reverse("web:move", args=[deal.pk]), data, headers=HX)


def test_it_refuses_a_handoff_note_too_long_before_moving_so_a_retry_wins(client, world, deal):
    client.force_login(world.bob)
    services.approve_condition(deal, "pricing_approved", by=world.bob)
    response = _move_to_won(client, deal, "x" * 10_001)
    assert response.status_code == 422
    assert "longer than 10000 characters" in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage.key == "qualify" and deal.closed_at is None
    assert StageHistory.objects.filter(deal=deal).count() == 1
    assert not Activity.objects.filter(deal=deal).exists()

    retry = _move_to_won(client, deal, "Go-live 1 June")
    assert retry.status_code == 200
    deal.refresh_from_db()
    assert deal.stage.kind == "won"
    assert Activity.objects.get(deal=deal).notes == "Go-live 1 June"


@pytest.mark.parametrize(("action", "data"), [
    ("next_step", {"next_step": NUL, "next_step_due": "2030-01-01"}),
    ("activity", {"kind": "call", "subject": NUL}),
    ("activity", {"kind": "call", "subject": "Call", "notes": NUL}),
    ("checklist", {"item": "budget", "evidence": NUL, "form_id": "qualify-exit-budget"}),
    ("contact", {"name": NUL, "role": "decision_maker"}),
    ("fields", {"title": NUL}),
])
def test_it_refuses_a_nul_character_in_a_form_next_to_the_field(client, world, deal, action, data):
    client.force_login(world.alice)
    before = Deal.objects.get(pk=deal.pk)
    activities, contacts = Activity.objects.count(), Contact.objects.count()
    response = client.post(reverse("web:deal_action", args=[deal.pk, action]), {"form_id": action, **data})  # as the page posts it
    assert response.status_code == 422
    assert "contains a NUL character (\\x00), which cannot be stored" in response.content.decode()
    after = Deal.objects.get(pk=deal.pk)
    assert (after.title, after.next_step, after.version) == (before.title, before.next_step, before.version)
    assert (Activity.objects.count(), Contact.objects.count()) == (activities, contacts)
    assert not deal.checklist_answers.exists()


def test_it_refuses_a_lone_surrogate_in_a_title_naming_the_field(world, deal):
    with pytest.raises(ValidationFailed) as refused:
        services.update_deal(deal, by=world.alice, title="Acme \ud800")
    assert refused.value.details == {"title": ["contains an unpaired surrogate, which is not valid Unicode text"]}


@pytest.mark.parametrize(("url", "message"), [
    ("/deals/?q=a%00b", "q: contains a NUL character"),
    ("/deals/?owner=a%00b", "owner: contains a NUL character"),
    ("/deals/?stage=a%00b", "stage: contains a NUL character"),
    ("/deals/?pipeline=a%00b", "pipeline: contains a NUL character"),
    ("/accounts/?q=a%00b", "q: contains a NUL character"),
    ("/contacts/?q=a%00b", "q: contains a NUL character"),
    ("/insights/?source=a%00b", "source: contains a NUL character"),
    ("/insights/?segment=a%00b", "segment: contains a NUL character"),
    ("/insights/?pipeline=%C2%B2", "pipeline: &#x27;²&#x27; is not an id"),
    ("/insights/?owner=%D9%A3", "owner: &#x27;٣&#x27; is not an id"),
    ("/insights/forecast/?team=%EF%BC%91%EF%BC%92", "team: &#x27;１２&#x27; is not an id"),
    ("/insights/?pipeline=99999999999999999999999", "pipeline: is too large to be an id"),
    ("/deals/?q=" + "x" * 1_000_000, "q: is longer than 200 characters"),
])
def test_it_answers_a_bad_list_filter_with_a_400_naming_the_parameter(client, world, deal, url, message):
    client.force_login(world.bob)
    response = client.get(url)
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.parametrize("page", ["/insights/", "/insights/forecast/"])
def test_it_shows_an_as_of_past_the_calendar_as_an_error_on_the_page(client, world, deal, page):
    client.force_login(world.bob)
    response = client.get(page, {"as_of": "9999-12-31"})
    assert response.status_code == 200
    assert "as_of: must be between 1900-01-01 and 2999-12-31" in response.content.decode()
