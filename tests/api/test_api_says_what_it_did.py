"""The API answers with what it did: no field silently dropped, no success reported as a failure,
no loose value let through, and a request body too large for the server gets a 413 it can act on."""

from __future__ import annotations

import json

import pytest

from dealgate.deals import services as deal_services
from dealgate.deals.models import Activity, Deal, FieldChange


def send(client, method, path, body, headers):
    return getattr(client, method)(path, json.dumps(body), content_type="application/json", headers=headers)


# --- a reassignment out of the caller's view is reported as done -------------------------------


def test_it_answers_a_managers_reassignment_to_another_team_with_the_saved_deal(client, world, make_deal, auth):
    deal = make_deal(owner=world.alice)
    response = send(client, "patch", f"/api/deals/{deal.pk}", {"owner": "carol"}, auth(world.bob))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["owner"]["username"] == "carol" and body["team_id"] == world.west.pk
    assert body["visible"] is False
    assert "carol" in body["notice"] and "404" in body["notice"]
    assert Deal.objects.get(pk=deal.pk).owner == world.carol
    # From now on the deal is outside bob's view, as the notice said.
    assert client.get(f"/api/deals/{deal.pk}", headers=auth(world.bob)).status_code == 404


def test_it_marks_an_ordinary_change_as_still_visible(client, world, make_deal, auth):
    deal = make_deal(owner=world.alice)
    response = send(client, "patch", f"/api/deals/{deal.pk}", {"owner": "bob", "amount": "10"}, auth(world.bob))
    assert response.status_code == 200, response.json()
    assert (response.json()["visible"], response.json()["notice"]) == (True, None)


def test_a_refused_reassignment_leaves_the_other_changes_of_the_request_unsaved(client, world, make_deal, auth):
    deal = make_deal(owner=world.alice, amount=100)
    response = send(client, "patch", f"/api/deals/{deal.pk}", {"amount": "999", "owner": "bob"}, auth(world.alice))
    assert response.status_code == 403
    assert str(Deal.objects.get(pk=deal.pk).amount) == "100.00"
    assert not FieldChange.objects.filter(deal=deal).exists()


def test_a_reassignment_to_an_unknown_user_leaves_the_other_changes_unsaved(client, world, make_deal, auth):
    deal = make_deal(owner=world.alice, amount=100)
    response = send(client, "patch", f"/api/deals/{deal.pk}", {"amount": "999", "owner": "nobody"}, auth(world.bob))
    assert response.status_code == 404
    assert str(Deal.objects.get(pk=deal.pk).amount) == "100.00"


# --- unknown and read-only fields are refused by name ------------------------------------------


def test_it_refuses_a_stage_sent_to_patch_and_points_to_the_move_endpoint(client, world, make_deal, auth):
    deal = make_deal()
    response = send(client, "patch", f"/api/deals/{deal.pk}", {"stage": "won"}, auth(world.alice))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_failed" and list(body["details"]) == ["stage"]
    assert f"/api/deals/{deal.pk}/move" in body["details"]["stage"][0].replace("{id}", str(deal.pk))
    assert Deal.objects.get(pk=deal.pk).stage.key == "qualify"


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("patch", "/api/deals/{deal}", {"amount": "5", "colour": "red"}, "colour"),
    ("patch", "/api/deals/{deal}", {"status": "won"}, "status"),
    ("patch", "/api/deals/{deal}", {"next_step": "Call"}, "next_step"),
    ("post", "/api/deals", {"title": "X", "account": 1, "pipeline": "test", "closed_at": "2026-01-01"}, "closed_at"),
    ("patch", "/api/accounts/{account}", {"segment": "SMB", "owner": "carol"}, "owner"),
    ("patch", "/api/contacts/{contact}", {"nmae": "Pat"}, "nmae"),
    ("post", "/api/activities", {"kind": "call", "subject": "Hi", "deal": 1, "by": "carol"}, "by"),
    ("post", "/api/deals/{deal}/move", {"stage": "lost", "lost_reason": "price", "force": True}, "force"),
    ("put", "/api/deals/{deal}/next-step", {"text": "Call", "due": "2030-01-01", "owner": "bob"}, "owner"),
])
def test_it_refuses_unknown_fields_by_name_and_writes_nothing(client, world, make_deal, auth, method, path, body,
                                                              field):
    deal = make_deal(amount=100)
    contact = deal_services.create_contact(by=world.alice, name="Pat", account=deal.account)
    url = path.format(deal=deal.pk, account=deal.account_id, contact=contact.pk)
    before = (Deal.objects.count(), Activity.objects.count(), FieldChange.objects.count())
    response = send(client, method, url, body, auth(world.alice))
    assert response.status_code == 422, response.json()
    assert list(response.json()["details"]) == [field]
    assert field in response.json()["message"]
    assert (Deal.objects.count(), Activity.objects.count(), FieldChange.objects.count()) == before
    deal.refresh_from_db()
    assert (deal.stage.key, str(deal.amount), deal.next_step) == ("qualify", "100.00", "")


def test_an_admin_patch_of_a_stage_refuses_an_unknown_field(client, world, pipeline, auth):
    response = send(client, "patch", "/api/pipelines/test/stages/qualify", {"probability": 30, "kind": "won"},
                    auth(world.dave))
    assert response.status_code == 422
    assert list(response.json()["details"]) == ["kind"]
    assert pipeline.stages.get(key="qualify").probability == 20


# --- a JSON body that is not an object is refused, as the schema says ---------------------------


@pytest.mark.parametrize(("path", "who"), [
    ("/api/accounts/{account}", "alice"),
    ("/api/contacts/{contact}", "alice"),
    ("/api/deals/{deal}", "alice"),
    ("/api/pipelines/test", "dave"),
    ("/api/pipelines/test/stages/qualify", "dave"),
])
@pytest.mark.parametrize("body", [[], ["name", "x"], "text", 3])
def test_it_refuses_a_body_that_is_not_a_json_object(client, world, make_deal, auth, path, who, body):
    deal = make_deal()
    contact = deal_services.create_contact(by=world.alice, name="Pat")
    url = path.format(deal=deal.pk, account=deal.account_id, contact=contact.pk)
    response = send(client, "patch", url, body, auth(getattr(world, who)))
    assert response.status_code == 422, response.json()
    assert response.json()["code"] == "validation_failed"
    assert list(response.json()["details"]) == ["body"]


# --- loose values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"currency": "QQQ"}, "currency"),
    ({"currency": "XYZ"}, "currency"),
    ({"expected_close_date": 0}, "expected_close_date"),
    ({"expected_close_date": "0"}, "expected_close_date"),
    ({"expected_close_date": 1767225600}, "expected_close_date"),
    ({"expected_close_date": "2026-01-01T00:00:00"}, "expected_close_date"),
    ({"expected_close_date": "２０２６-０１-０１"}, "expected_close_date"),
    ({"amount": "１２"}, "amount"),
    ({"amount": "1e3"}, "amount"),
    ({"amount": "12.345"}, "amount"),
    ({"amount": True}, "amount"),
    ({"amount": ""}, "amount"),
    ({"probability_override": "５０"}, "probability_override"),
])
def test_it_refuses_loose_values_on_a_deal_and_writes_nothing(client, world, make_deal, auth, body, field):
    deal = make_deal(amount=100, currency="EUR", expected_close_date="2030-06-30")
    response = send(client, "patch", f"/api/deals/{deal.pk}", body, auth(world.alice))
    assert response.status_code == 422, response.json()
    assert list(response.json()["details"]) == [field]
    deal.refresh_from_db()
    assert (str(deal.amount), deal.currency, str(deal.expected_close_date)) == ("100.00", "EUR", "2030-06-30")


def test_it_accepts_a_real_currency_and_plain_numbers(client, world, make_deal, auth):
    deal = make_deal(amount=100)
    response = send(client, "patch", f"/api/deals/{deal.pk}", {"currency": "chf", "amount": "1250.5",
                                                               "expected_close_date": "2030-01-31"}, auth(world.alice))
    assert response.status_code == 200, response.json()
    assert (response.json()["currency"], response.json()["amount"]) == ("CHF", "1250.50")
    cleared = send(client, "patch", f"/api/deals/{deal.pk}", {"amount": None}, auth(world.alice))
    assert cleared.status_code == 200 and cleared.json()["amount"] is None


def test_it_refuses_a_new_deal_in_a_currency_that_does_not_exist(client, world, pipeline, auth):
    account = deal_services.create_account(by=world.alice, name="Acme")
    response = send(client, "post", "/api/deals", {"title": "X", "account": account.pk, "pipeline": "test",
                                                   "currency": "QQQ"}, auth(world.alice))
    assert response.status_code == 422
    assert list(response.json()["details"]) == ["currency"]
    assert not Deal.objects.exists()


def test_it_refuses_an_activity_whose_deal_and_account_do_not_belong_together(client, world, make_deal, auth):
    deal = make_deal()
    other = deal_services.create_account(by=world.alice, name="Globex")
    response = send(client, "post", "/api/activities", {"kind": "call", "subject": "Hi", "deal": deal.pk,
                                                        "account": other.pk}, auth(world.alice))
    assert response.status_code == 422, response.json()
    assert list(response.json()["details"]) == ["account"]
    assert not Activity.objects.exists()
    same = send(client, "post", "/api/activities", {"kind": "call", "subject": "Hi", "deal": deal.pk,
                                                    "account": deal.account_id}, auth(world.alice))
    assert same.status_code == 201


@pytest.mark.parametrize("occurred_at", [0, "0", 1767225600])
def test_it_refuses_an_activity_time_given_as_a_number(client, world, make_deal, auth, occurred_at):
    deal = make_deal()
    response = send(client, "post", "/api/activities", {"kind": "call", "subject": "Hi", "deal": deal.pk,
                                                        "occurred_at": occurred_at}, auth(world.alice))
    assert response.status_code == 422
    assert list(response.json()["details"]) == ["occurred_at"]


# --- the served schema says what the API accepts ------------------------------------------------


def test_the_schema_forbids_extra_fields_on_every_request_body(client, world, auth):
    document = client.get("/api/openapi.json", headers=auth(world.alice)).json()
    bodies = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in ref:
                bodies.add(ref["$ref"].rsplit("/", 1)[1])
    assert {"DealUpdateIn", "AccountUpdateIn", "ContactUpdateIn", "PipelineUpdateIn", "StageUpdateIn"} <= bodies
    loose = {name for name in bodies if document["components"]["schemas"][name].get("additionalProperties") is not False}
    assert loose == set()


def test_the_schema_describes_an_amount_string_as_the_api_reads_it(client, world, auth):
    document = client.get("/api/openapi.json", headers=auth(world.alice)).json()
    amount = document["components"]["schemas"]["DealUpdateIn"]["properties"]["amount"]
    strings = [branch for branch in amount["anyOf"] if branch.get("type") == "string"]
    assert len(strings) == 1 and strings[0]["pattern"]
    import re

    pattern = re.compile(strings[0]["pattern"])
    assert [bool(pattern.search(text)) for text in ("1250.50", "12", "", "1e3", "１２", "12.345")] == [
        True, True, False, False, False, False]


# --- a body too large to read answers 413, not 500 ------------------------------------------------


def test_it_answers_a_30_mb_body_with_413_and_writes_nothing(client, world, make_deal, auth):
    deal = make_deal()
    body = json.dumps({"kind": "note", "subject": "Big", "deal": deal.pk, "notes": "x" * (30 * 1024 * 1024)})
    response = client.post("/api/activities", body, content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "too_large"
    assert response.json()["details"] == {"max_bytes": 2_621_440}
    assert not Activity.objects.exists()


def test_the_body_limit_is_the_setting(client, world, make_deal, auth, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    deal = make_deal()
    under = {"kind": "note", "subject": "Fits", "deal": deal.pk, "notes": "x" * 9_000}
    over = {**under, "notes": "x" * 200_000}
    assert send(client, "post", "/api/activities", under, auth(world.alice)).status_code == 201
    refused = send(client, "post", "/api/activities", over, auth(world.alice))
    assert refused.status_code == 413 and refused.json()["details"] == {"max_bytes": 100_000}
    assert Activity.objects.count() == 1


def test_a_web_form_over_the_same_limit_answers_400_not_500(client, world, make_deal, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    deal = make_deal()
    client.force_login(world.alice)
    response = client.post(f"/deals/{deal.pk}/do/fields/", {"title": "x" * 200_000, "form_id": "fields"})
    assert response.status_code == 400
    assert Deal.objects.get(pk=deal.pk).title == deal.title


def test_the_figures_refuse_a_currency_that_does_not_exist(client, world, auth):
    response = client.get("/api/metrics", {"currency": "QQQ"}, headers=auth(world.alice))
    assert response.status_code == 422
    assert list(response.json()["details"]) == ["currency"]
    assert client.get("/api/metrics", {"currency": "usd"}, headers=auth(world.alice)).status_code == 200
