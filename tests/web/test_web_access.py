"""Every page and action checks who is asking: anonymous users sign in first, a rep never reaches
another team's deal by editing a URL, only managers override, only admins configure."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealgate.deals.models import Deal, StageHistory


@pytest.fixture
def alices_deal(make_deal, world):
    return make_deal(owner=world.alice, title="Alice's deal", amount=1000)


def _get_urls(deal):
    return [
        reverse("web:home"), reverse("web:board", args=["test"]),
        reverse("web:column", args=["test", deal.stage_id]), reverse("web:deal", args=[deal.pk]),
        reverse("web:panel", args=[deal.pk, "menu"]), reverse("web:deals"), reverse("web:accounts"),
        reverse("web:account", args=[deal.account_id]), reverse("web:contacts"), reverse("web:my_day"),
        reverse("web:settings"),
    ]


def _post_urls(deal):
    return [reverse("web:move", args=[deal.pk]), reverse("web:deal_action", args=[deal.pk, "checklist"])]


def test_it_sends_anonymous_visitors_to_the_login_page(client, alices_deal):
    for url in _get_urls(alices_deal) + _post_urls(alices_deal):
        method = client.post if url in _post_urls(alices_deal) else client.get
        response = method(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_it_signs_in_and_out_with_django_auth(client, world, alices_deal):
    response = client.post("/login/", {"username": "alice", "password": world.password})
    assert response.status_code == 302
    assert client.get(reverse("web:board", args=["test"])).status_code == 200
    client.post("/logout/")
    assert client.get(reverse("web:board", args=["test"])).status_code == 302


def test_it_shows_the_error_next_to_the_login_form_for_a_wrong_password(client, world):
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert b"field-error" in response.content


def test_a_rep_of_another_team_gets_404_for_every_url_of_the_deal(client, world, alices_deal):
    client.force_login(world.carol)
    deal = alices_deal
    for url in [reverse("web:deal", args=[deal.pk]), reverse("web:panel", args=[deal.pk, "menu"]),
                reverse("web:account", args=[deal.account_id])]:
        assert client.get(url).status_code == 404, url
    for action in ("checklist", "field", "next_step", "activity", "contact", "approve", "fields"):
        response = client.post(reverse("web:deal_action", args=[deal.pk, action]),
                               {"item": "budget", "evidence": "x", "kind": "call", "subject": "x"})
        assert response.status_code == 404, action
    stage = deal.stage_id
    response = client.post(reverse("web:move", args=[deal.pk]),
                           {"to": deal.pipeline.stages.get(key="lost").pk, "lost_reason": "price"})
    assert response.status_code == 404
    assert Deal.objects.get(pk=deal.pk).stage_id == stage
    assert not deal.checklist_answers.exists() and not deal.activities.exists()


def test_a_rep_sees_a_teammates_deal_but_cannot_change_it(client, world, make_deal):
    bobs = make_deal(owner=world.bob, title="Bob's deal", amount=10)
    client.force_login(world.alice)
    assert client.get(reverse("web:deal", args=[bobs.pk])).status_code == 200
    lost = bobs.pipeline.stages.get(key="lost").pk
    response = client.post(reverse("web:move", args=[bobs.pk]), {"to": lost, "lost_reason": "price"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert Deal.objects.get(pk=bobs.pk).closed_at is None
    response = client.post(reverse("web:deal_action", args=[bobs.pk, "activity"]), {"kind": "call", "subject": "x"})
    assert response.status_code == 403
    assert not bobs.activities.exists()


def test_a_rep_cannot_override_unmet_criteria(client, world, alices_deal):
    client.force_login(world.alice)
    propose = alices_deal.pipeline.stages.get(key="propose")
    response = client.post(reverse("web:move", args=[alices_deal.pk]),
                           {"to": propose.pk, "override_reason": "trust me"}, headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert b"Only a manager or admin may override" in response.content
    assert Deal.objects.get(pk=alices_deal.pk).stage.key == "qualify"


def test_a_manager_overrides_with_a_reason_and_the_history_says_so(client, world, alices_deal):
    client.force_login(world.bob)
    propose = alices_deal.pipeline.stages.get(key="propose")
    response = client.post(reverse("web:move", args=[alices_deal.pk]),
                           {"to": propose.pk, "override_reason": "CFO confirmed budget verbally"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    row = StageHistory.objects.filter(deal=alices_deal).last()
    assert row.override and row.override_reason == "CFO confirmed budget verbally" and row.by == world.bob


def test_only_admins_open_the_settings(client, world, pipeline):
    for user in (world.alice, world.bob, world.carol):
        client.force_login(user)
        assert client.get(reverse("web:settings")).status_code == 403
        assert client.get(reverse("web:settings_pipeline", args=["test"])).status_code == 403
    client.force_login(world.dave)
    assert client.get(reverse("web:settings")).status_code == 200
    assert client.get(reverse("web:settings_pipeline", args=["test"])).status_code == 200
