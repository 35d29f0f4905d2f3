"""Who may call what: every endpoint needs an active token (or a session), and sees only its scope."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from django.test import Client
from django.utils import timezone

from dealgate.analytics.rates import set_rate
from dealgate.analytics.services import set_quota
from dealgate.api.models import ApiToken
from dealgate.api.router import api
from dealgate.api.services import create_token, revoke_token
from dealgate.automation.services import create_rule, create_task
from dealgate.deals import services as deal_services
from dealgate.deals.models import Deal
from dealgate.signals.models import Signal

# Every operation of the API, with a request body that would succeed for the right caller.
# {deal}, {account} and {contact} are alice's (team East); {spare_account} is used by no deal.
ENDPOINTS = [
    ("get", "/api/pipelines", None),
    ("get", "/api/pipelines/test", None),
    ("post", "/api/pipelines", {"template": "b2b-7", "key": "new-business"}),
    ("patch", "/api/pipelines/test", {"name": "Renamed"}),
    ("patch", "/api/pipelines/test/stages/qualify", {"probability": 25}),
    ("post", "/api/pipelines/test/stages", {"name": "Technical review", "probability": 30}),
    ("delete", "/api/pipelines/test/stages/qualify", None),
    ("post", "/api/pipelines/test/stages/qualify/move", {"direction": "down"}),
    ("post", "/api/pipelines/test/stages/qualify/retire", {"move_deals_to": "propose", "override_reason": "Retiring"}),
    ("post", "/api/pipelines/test/stages/qualify/restore", None),
    ("put", "/api/pipelines/test/stage-order", {"stages": ["propose", "qualify", "negotiate", "technical-review"]}),
    ("post", "/api/pipelines/test/stages/qualify/criteria",
     {"phase": "entry", "key": "champion", "label": "Champion named", "kind": "contact_role",
      "config": {"role": "champion"}}),
    ("patch", "/api/pipelines/test/stages/qualify/criteria/budget", {"label": "Budget signed"}),
    ("delete", "/api/pipelines/test/stages/qualify/criteria/budget", None),
    ("get", "/api/lost-reasons", None),
    ("get", "/api/deals", None),
    ("post", "/api/deals", {"title": "New", "account": "{account}", "pipeline": "test"}),
    ("get", "/api/deals/{deal}", None),
    ("patch", "/api/deals/{deal}", {"amount": 10}),
    ("post", "/api/deals/{deal}/move", {"stage": "lost", "lost_reason": "price"}),
    ("get", "/api/deals/{deal}/next-step", None),
    ("put", "/api/deals/{deal}/next-step", {"text": "Call", "due": "2030-01-01"}),
    ("get", "/api/deals/{deal}/contacts", None),
    ("post", "/api/deals/{deal}/contacts", {"contact": "{contact}", "role": "champion"}),
    ("delete", "/api/deals/{deal}/contacts/{contact}/champion", None),
    ("get", "/api/deals/{deal}/checklist", None),
    ("put", "/api/deals/{deal}/checklist/budget", {"evidence": "yes"}),
    ("get", "/api/deals/{deal}/approvals", None),
    ("post", "/api/deals/{deal}/approvals", {"condition": "pricing_approved"}),
    ("get", "/api/deals/{deal}/history", None),
    ("get", "/api/deals/{deal}/flags", None),
    ("get", "/api/accounts", None),
    ("post", "/api/accounts", {"name": "Globex"}),
    ("get", "/api/accounts/{account}", None),
    ("patch", "/api/accounts/{account}", {"segment": "Enterprise"}),
    ("delete", "/api/accounts/{spare_account}", None),
    ("get", "/api/contacts", None),
    ("post", "/api/contacts", {"name": "Sam"}),
    ("get", "/api/contacts/{contact}", None),
    ("patch", "/api/contacts/{contact}", {"title": "CFO"}),
    ("delete", "/api/contacts/{contact}", None),
    ("get", "/api/activities", None),
    ("post", "/api/activities", {"kind": "call", "subject": "Intro", "deal": "{deal}"}),
    ("get", "/api/tokens", None),
    ("post", "/api/tokens", {"name": "script"}),
    ("delete", "/api/tokens/{token}", None),
    ("get", "/api/metrics", None),
    ("get", "/api/forecast", None),
    ("get", "/api/bottlenecks", None),
    ("get", "/api/audit", None),
    ("get", "/api/tasks", None),
    ("post", "/api/tasks", {"title": "Call back", "due": "2030-01-01", "deal": "{deal}"}),
    ("patch", "/api/tasks/{task}", {"done": True}),
    ("get", "/api/signals", None),
    ("post", "/api/signals/{signal}/convert", None),
    ("post", "/api/signals/{signal}/snooze", {"until": "2099-01-01"}),
    ("post", "/api/signals/{signal}/dismiss", {"reason": "Bought elsewhere"}),
    ("get", "/api/signals/risk", None),
    ("get", "/api/signal-conversion", None),
    ("post", "/api/imports/orders", None),  # a multipart upload: refused here before its file is asked for
    ("post", "/api/imports/quotes", None),
    ("get", "/api/rules", None),
    ("post", "/api/rules", {"name": "Follow up", "trigger": "deal_won",
                            "actions": [{"type": "create_task", "title": "Say thanks"}]}),
    ("patch", "/api/rules/{rule}", {"enabled": False}),
    ("delete", "/api/rules/{rule}", None),
    ("get", "/api/quotas", None),
    ("put", "/api/quotas", {"owner": "alice", "period": "2026-Q4", "amount": 500000}),
    ("delete", "/api/quotas/{quota}", None),
    ("get", "/api/exchange-rates", None),
    ("put", "/api/exchange-rates", {"currency": "USD", "rate": "0.92", "effective_from": "2026-11-01"}),
    ("delete", "/api/exchange-rates/{rate}", None),
]
# Endpoints about one of alice's deals, tokens, tasks or signals: someone else must not learn it exists.
OWNED_ENDPOINTS = [e for e in ENDPOINTS if any(k in e[1] for k in ("{deal}", "{token}", "{task}", "{signal}"))]
DEAL_ENDPOINTS = [e for e in ENDPOINTS if "{deal}" in e[1]]
IDS = [f"{m.upper()} {p}" for m, p, _ in ENDPOINTS]


@pytest.fixture
def alices(world, make_deal):
    deal = make_deal(owner=world.alice)
    contact = deal_services.create_contact(by=world.alice, name="Pat", account=deal.account)
    token, _ = create_token(user=world.alice, name="alice's script")
    spare = deal_services.create_account(by=world.alice, name="Spare")
    signal = Signal.objects.create(kind="expired_quote", account=spare, cause_key="expired_quote:alice",
                                   title="Quote expired", as_of=dt.date(2026, 7, 1), raised_at=timezone.now())
    task = create_task(by=world.alice, deal=deal, title="Send the proposal", due="2030-01-01")
    rule = create_rule(by=world.dave, name="Thank the buyer", trigger="deal_won",
                       actions=[{"type": "create_task", "title": "Say thanks"}])
    quota = set_quota(owner=world.alice, period="2026-Q4", amount=100000, by=world.dave)
    rate = set_rate(currency="USD", rate="0.9", effective_from="2026-01-01", by=world.dave)
    return {"rule": rule.pk, "quota": quota.pk, "rate": rate.pk, "deal": deal.pk, "account": deal.account_id, "contact": contact.pk, "token": token.pk,
            "spare_account": spare.pk, "task": task.pk, "signal": signal.pk}


def fill(value, ids):
    if isinstance(value, str):
        if value.startswith("{") and value.strip("{}") in ids:
            return ids[value.strip("{}")]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


def call(client, method, path, body, ids, headers=None):
    kwargs = {"headers": headers or {}}
    if body is not None:
        kwargs |= {"data": fill(body, ids), "content_type": "application/json"}
    return getattr(client, method)(fill(path, ids), **kwargs)


def test_the_endpoint_list_covers_every_operation_in_the_schema():
    schema = api.get_openapi_schema()
    documented = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    listed = {(m, p.replace("{deal}", "{deal_id}").replace("{account}", "{account_id}")
               .replace("{spare_account}", "{account_id}")
               .replace("/contacts/{contact}/champion", "/contacts/{contact_id}/{role}")
               .replace("{contact}", "{contact_id}").replace("/test", "/{key}")
               .replace("/stages/qualify", "/stages/{stage_key}").replace("/criteria/budget", "/criteria/{criterion_key}")
               .replace("/checklist/budget", "/checklist/{item}").replace("{token}", "{token_id}")
               .replace("{task}", "{task_id}").replace("{signal}", "{signal_id}").replace("{rule}", "{rule_id}").replace("{quota}", "{quota_id}")
               .replace("{rate}", "{rate_id}")) for m, p, _ in ENDPOINTS}
    assert listed == documented


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
def test_it_refuses_a_call_without_a_token(client, alices, method, path, body):
    deals_before = Deal.objects.count()
    response = call(client, method, path, body, alices)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert set(response.json()) == {"code", "message", "details"}
    assert Deal.objects.count() == deals_before


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
def test_it_refuses_a_revoked_token(client, world, alices, token_for, method, path, body):
    secret = token_for(world.alice)
    revoke_token(ApiToken.objects.get(hash=hashlib.sha256(secret.encode()).hexdigest()).pk, by=world.alice)
    response = call(client, method, path, body, alices, {"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=IDS)
def test_it_refuses_a_made_up_token(client, alices, method, path, body):
    response = call(client, method, path, body, alices, {"Authorization": "Bearer dg_not-a-real-token"})
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), OWNED_ENDPOINTS,
                         ids=[f"{m.upper()} {p}" for m, p, _ in OWNED_ENDPOINTS])
def test_it_hides_a_deal_or_token_from_another_team(client, world, alices, auth, method, path, body):
    response = call(client, method, path, body, alices, auth(world.carol))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(("method", "path", "body"), [e for e in DEAL_ENDPOINTS if e[0] != "get"],
                         ids=[f"{m.upper()} {p}" for m, p, _ in DEAL_ENDPOINTS if m != "get"])
def test_it_refuses_a_teammate_changing_a_reps_deal(client, world, make_deal, alices, auth, method, path, body):
    """bob's rep alice can see his deal (same team) but not change it."""
    bobs = make_deal(owner=world.bob)
    ids = {**alices, "deal": bobs.pk}
    response = call(client, method, path, body, ids, auth(world.alice))
    assert response.status_code == 403
    assert response.json()["code"] == "not_allowed"


def test_it_lets_only_an_admin_create_a_pipeline(client, world, pipeline, auth):
    body = {"template": "b2b-7", "key": "new-business"}
    refused = client.post("/api/pipelines", body, content_type="application/json", headers=auth(world.bob))
    assert refused.status_code == 403
    created = client.post("/api/pipelines", body, content_type="application/json", headers=auth(world.dave))
    assert created.status_code == 201, created.json()
    assert created.json()["key"] == "new-business"
    assert len(created.json()["stages"]) >= 3


def test_it_accepts_the_browser_session_and_checks_csrf_on_writes(world, pipeline):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.alice)
    assert browser.get("/api/deals").status_code == 200
    refused = browser.post("/api/accounts", {"name": "Globex"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    browser.get("/tokens/")  # any page with a form sets the csrftoken cookie
    csrf = browser.cookies["csrftoken"].value
    created = browser.post("/api/accounts", {"name": "Globex"}, content_type="application/json",
                           headers={"X-CSRFToken": csrf})
    assert created.status_code == 201


def test_a_bearer_token_needs_no_csrf_token(world, pipeline, auth):
    script = Client(enforce_csrf_checks=True)
    response = script.post("/api/accounts", {"name": "Globex"}, content_type="application/json",
                           headers=auth(world.alice))
    assert response.status_code == 201


def test_a_script_can_mint_a_token_with_its_password(client, world):
    wrong = client.post("/api/tokens", {"name": "x"}, content_type="application/json",
                        headers={"Authorization": "Basic " + base64.b64encode(b"alice:wrong").decode()})
    assert wrong.status_code == 401
    basic = "Basic " + base64.b64encode(f"alice:{world.password}".encode()).decode()
    minted = client.post("/api/tokens", {"name": "nightly sync"}, content_type="application/json",
                         headers={"Authorization": basic})
    assert minted.status_code == 201
    secret = minted.json()["token"]
    assert client.get("/api/tokens", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert secret not in client.get("/api/tokens", headers={"Authorization": f"Bearer {secret}"}).content.decode()
    assert client.get("/api/deals", headers={"Authorization": basic}).status_code == 401, "password only mints tokens"


def test_it_answers_unknown_api_paths_with_the_error_shape(client, world, auth):
    response = client.get("/api/no-such-thing", headers=auth(world.alice))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_answers_a_wrong_method_with_the_error_shape(client, world, auth):
    response = client.put("/api/deals", {}, content_type="application/json", headers=auth(world.alice))
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.json()["details"]["allowed"]) == {"GET", "POST"}
