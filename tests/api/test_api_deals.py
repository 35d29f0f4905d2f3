"""Deals through the API: the same services, gates and visibility rules as the UI."""

from __future__ import annotations

import pytest

from dealgate.deals import services as deal_services
from dealgate.deals.models import Deal, StageHistory


def test_it_creates_a_deal_in_the_first_stage(client, world, pipeline, auth):
    account = deal_services.create_account(by=world.alice, name="Acme")
    response = client.post("/api/deals", {"title": "Acme roll-out", "account": account.pk, "pipeline": "test",
                                          "amount": "12000", "currency": "usd"},
                           content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["stage"] == {"key": "qualify", "name": "Qualify", "kind": "open"}
    assert body["amount"] == "12000.00" and body["currency"] == "USD"
    assert body["owner"]["username"] == "alice" and body["status"] == "open"
    assert StageHistory.objects.filter(deal_id=body["id"], kind="created").count() == 1


def test_it_refuses_a_rep_creating_a_deal_for_someone_else(client, world, pipeline, auth):
    account = deal_services.create_account(by=world.alice, name="Acme")
    response = client.post("/api/deals", {"title": "x", "account": account.pk, "pipeline": "test", "owner": "bob"},
                           content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed"
    assert not Deal.objects.exists()


def test_it_answers_422_with_the_fields_at_fault(client, world, pipeline, auth):
    response = client.post("/api/deals", {"account": "not-a-number", "pipeline": "test", "amount": -5},
                           content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed"
    assert {"title", "account", "amount"} <= set(body["details"])
    assert all(isinstance(messages, list) and messages for messages in body["details"].values())


def test_it_maps_service_validation_to_422(client, world, make_deal, auth):
    deal = make_deal()
    response = client.patch(f"/api/deals/{deal.pk}", {"custom_fields": {"nope": 1}},
                            content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert "custom_fields" in response.json()["details"]


def test_it_updates_fields_and_records_a_close_date_slip(client, world, make_deal, auth):
    deal = make_deal(expected_close_date="2026-03-01")
    response = client.patch(f"/api/deals/{deal.pk}", {"expected_close_date": "2026-04-01", "amount": 500},
                            content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 200, response.json()
    assert response.json()["close_date_slips"] == 1
    history = client.get(f"/api/deals/{deal.pk}/history", headers=auth(world.alice)).json()
    assert {c["field"] for c in history["field_changes"]} == {"expected_close_date", "amount"}
    assert [s["kind"] for s in history["stages"]] == ["created"]


def test_it_lets_a_manager_reassign_but_not_a_rep(client, world, make_deal, auth):
    deal = make_deal()
    refused = client.patch(f"/api/deals/{deal.pk}", {"owner": "bob"}, content_type="application/json",
                           headers=auth(world.alice))
    assert refused.status_code == 403
    done = client.patch(f"/api/deals/{deal.pk}", {"owner": "bob"}, content_type="application/json",
                        headers=auth(world.bob))
    assert done.status_code == 200 and done.json()["owner"]["username"] == "bob"


def test_it_answers_409_with_every_unmet_criterion_and_changes_nothing(client, world, make_deal, auth):
    deal = make_deal()
    response = client.post(f"/api/deals/{deal.pk}/move", {"stage": "propose"}, content_type="application/json",
                           headers=auth(world.alice))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "move_blocked" and body["message"]
    unmet = body["details"]["unmet"]
    assert {u["key"] for u in unmet} == {"amount", "budget", "decision-maker"}
    for u in unmet:
        assert set(u) == {"key", "label", "kind", "missing", "stage", "phase"}
        assert u["missing"]
    deal.refresh_from_db()
    assert deal.stage.key == "qualify"
    assert StageHistory.objects.filter(deal=deal).count() == 1


def test_it_moves_a_deal_once_its_criteria_hold(client, world, make_deal, auth):
    deal = make_deal(amount=1000)
    headers = auth(world.alice)
    contact = client.post("/api/contacts", {"name": "Dana Buyer"}, content_type="application/json", headers=headers)
    assert contact.status_code == 201
    linked = client.post(f"/api/deals/{deal.pk}/contacts", {"contact": contact.json()["id"], "role": "decision_maker"},
                         content_type="application/json", headers=headers)
    assert linked.status_code == 201 and linked.json()["role"] == "decision_maker"
    ticked = client.put(f"/api/deals/{deal.pk}/checklist/budget", {"evidence": "CFO confirmed 50k"},
                        content_type="application/json", headers=headers)
    assert ticked.status_code == 200 and ticked.json()["checked"] is True
    moved = client.post(f"/api/deals/{deal.pk}/move", {"stage": "propose", "expected_stage": "qualify"},
                        content_type="application/json", headers=headers)
    assert moved.status_code == 200, moved.json()
    row = moved.json()
    assert (row["from_stage"], row["to_stage"], row["kind"], row["by"]) == ("qualify", "propose", "forward", "alice")
    assert row["override"] is False and row["probability"] == 60


def test_it_answers_409_conflict_when_the_deal_moved_since_the_caller_looked(client, world, make_deal, auth):
    deal = make_deal()
    response = client.post(f"/api/deals/{deal.pk}/move", {"stage": "lost", "lost_reason": "price",
                                                           "expected_stage": "propose"},
                           content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_it_refuses_an_override_from_a_rep_and_records_one_from_a_manager(client, world, make_deal, auth):
    deal = make_deal()
    body = {"stage": "propose", "override_reason": "Customer signed a letter of intent"}
    refused = client.post(f"/api/deals/{deal.pk}/move", body, content_type="application/json", headers=auth(world.alice))
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_allowed"
    forced = client.post(f"/api/deals/{deal.pk}/move", body, content_type="application/json", headers=auth(world.bob))
    assert forced.status_code == 200
    assert forced.json()["override"] is True
    assert forced.json()["override_reason"] == "Customer signed a letter of intent"


def test_it_needs_a_lost_reason_to_lose_a_deal(client, world, make_deal, auth):
    deal = make_deal()
    missing = client.post(f"/api/deals/{deal.pk}/move", {"stage": "lost"}, content_type="application/json",
                          headers=auth(world.alice))
    assert missing.status_code == 422 and "lost_reason" in missing.json()["details"]
    lost = client.post(f"/api/deals/{deal.pk}/move", {"stage": "lost", "lost_reason": "price"},
                       content_type="application/json", headers=auth(world.alice))
    assert lost.status_code == 200 and lost.json()["kind"] == "lost"
    assert client.get(f"/api/deals/{deal.pk}", headers=auth(world.alice)).json()["lost_reason"] == "price"


def test_it_hides_another_teams_deal_as_not_found(client, world, make_deal, auth):
    deal = make_deal(owner=world.alice)
    response = client.get(f"/api/deals/{deal.pk}", headers=auth(world.carol))
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": f"No deal {deal.pk}.", "details": {"deal": deal.pk}}
    listed = client.get("/api/deals", headers=auth(world.carol)).json()
    assert listed["items"] == []


def test_it_walks_every_visible_deal_once_with_the_cursor(client, world, make_deal, auth):
    ids = {make_deal(owner=world.alice).pk for _ in range(7)} | {make_deal(owner=world.bob).pk for _ in range(4)}
    make_deal(owner=world.carol)  # another team: never listed
    headers, seen, cursor, pages = auth(world.alice), [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/deals", params, headers=headers)
        assert page.status_code == 200
        seen += [d["id"] for d in page.json()["items"]]
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == 4
    assert len(seen) == len(set(seen)) == 11
    assert set(seen) == ids


def test_it_pages_deals_created_in_the_same_instant_without_losing_any(client, world, make_deal, auth):
    deals = [make_deal() for _ in range(5)]
    Deal.objects.filter(pk__in=[d.pk for d in deals]).update(created_at=deals[0].created_at)
    seen, cursor = [], None
    while True:
        page = client.get("/api/deals", {"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=auth(world.alice)).json()
        seen += [d["id"] for d in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(d.pk for d in deals)


def test_it_refuses_a_forged_cursor(client, world, auth):
    response = client.get("/api/deals", {"cursor": "bm90LWEtY3Vyc29y"}, headers=auth(world.alice))
    assert response.status_code == 422
    assert "cursor" in response.json()["details"]


@pytest.mark.parametrize(("query", "expected"), [
    ({"status": "lost"}, {"Lost one"}),
    ({"owner": "bob"}, {"Bob's"}),
    ({"search": "initech"}, {"Initech upgrade"}),
    ({"stage": "qualify", "owner": "me"}, {"Initech upgrade"}),
])
def test_it_filters_deals(client, world, make_deal, auth, query, expected):
    initech = deal_services.create_account(by=world.alice, name="Initech")
    make_deal(title="Initech upgrade", account=initech)
    make_deal(owner=world.bob, title="Bob's")
    lost = make_deal(title="Lost one")
    deal_services.move_deal(lost, "lost", by=world.alice, lost_reason="price")
    response = client.get("/api/deals", query, headers=auth(world.alice))
    assert response.status_code == 200
    assert {d["title"] for d in response.json()["items"]} == expected


def test_it_reports_flags_and_criteria_progress_like_the_board(client, world, make_deal, auth):
    deal = make_deal(amount=1000)
    response = client.get(f"/api/deals/{deal.pk}/flags", headers=auth(world.alice))
    assert response.status_code == 200
    body = response.json()
    assert "no_next_step" in {f["code"] for f in body["flags"]}
    # Qualify -> Propose: amount (met), budget (not ticked), Propose's entry: a decision maker (none)
    assert (body["criteria"]["met"], body["criteria"]["total"], body["criteria"]["next_stage"]) == (1, 3, "Propose")
    assert {r["key"]: r["met"] for r in body["criteria"]["results"]} == {"amount": True, "budget": False, "decision-maker": False}


def test_listing_deals_costs_the_same_queries_for_three_or_twelve(client, world, make_deal, auth,
                                                                  django_assert_max_num_queries):
    headers = auth(world.alice)
    for _ in range(3):
        make_deal()
    with django_assert_max_num_queries(6) as few:
        assert len(client.get("/api/deals", headers=headers).json()["items"]) == 3
    for _ in range(9):
        make_deal()
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/deals", headers=headers).json()["items"]) == 12


def test_it_creates_a_deal_in_a_later_stage_only_through_its_gates(client, world, pipeline, auth):
    account = deal_services.create_account(by=world.alice, name="Acme")
    body = {"title": "Acme roll-out", "account": account.pk, "pipeline": "test", "amount": "12000", "stage": "propose"}
    response = client.post("/api/deals", body, content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 409, response.json()
    refused = response.json()
    assert refused["code"] == "move_blocked" and refused["details"]["deal"] is None
    assert {item["key"] for item in refused["details"]["unmet"]} == {"budget", "decision-maker"}
    assert not Deal.objects.exists()
    response = client.post("/api/deals", {**body, "stage": "qualify"}, content_type="application/json",
                           headers=auth(world.alice))
    assert response.status_code == 201 and response.json()["stage"]["key"] == "qualify"
