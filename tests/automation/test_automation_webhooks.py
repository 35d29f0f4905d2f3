"""The webhook action, end to end: the real worker (`dealgate worker --batch`) POSTs to a real HTTP
receiver on 127.0.0.1, which checks the signature; failures are retried, then given up."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from dealgate.automation import services
from dealgate.automation.models import Notification, RuleRun, WebhookAttempt, WebhookDelivery
from dealgate.automation.rules import describe
from dealgate.automation.webhooks import public_actions
from dealgate.deals import services as deal_services
from dealgate.errors import ValidationFailed

from tests.automation.conftest import SECRET, webhook, workers_at_once

pytestmark = pytest.mark.django_db(transaction=True)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "automation.md"


def signature_ok(headers, body: bytes, secret: str = SECRET) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Dealgate-Signature"])


def test_it_posts_the_deal_signed_and_records_the_delivery(world, make_deal, make_rule, run_worker, receiver):
    rule = make_rule(name="Tell the ERP", trigger="deal_created", actions=[webhook(receiver.url)])
    deal = make_deal(title="Acme roll-out", amount=1000, owner=world.alice)
    assert not receiver.requests  # nothing is sent from inside the request
    run_worker()
    (headers, body), = receiver.requests
    assert signature_ok(headers, body)
    assert not signature_ok(headers, body, secret="another-secret-of-16+")
    delivery = WebhookDelivery.objects.get()
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Dealgate-Delivery"] == str(delivery.pk)
    sent = json.loads(body)
    assert sent["timestamp"] == int(headers["X-Dealgate-Timestamp"])
    assert (sent["event"], sent["rule"], sent["delivery"], sent["attempt"]) == (
        "deal_created", {"id": rule.pk, "name": "Tell the ERP"}, delivery.pk, 1)
    assert sent["deal"]["id"] == deal.pk and sent["deal"]["title"] == "Acme roll-out"
    assert sent["deal"]["stage"] == {"key": "qualify", "name": "Qualify"}
    assert sent["deal"]["owner"] == {"username": "alice", "name": "Alice"}
    assert (sent["deal"]["amount"], sent["deal"]["url"]) == ("1000.00", f"/deals/{deal.pk}/")
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None and delivery.run == RuleRun.objects.get()
    assert list(WebhookAttempt.objects.values_list("number", "status_code")) == [(1, 200)]
    assert RuleRun.objects.get().actions == [f"webhook {delivery.pk} to {receiver.url} queued"]


def test_a_failing_receiver_is_retried_then_given_up_and_admins_are_told(
        world, make_deal, make_rule, run_worker, receiver, settings):
    settings.DEALGATE_WEBHOOK_RETRY_DELAYS = [0, 0]  # three attempts, no waiting
    receiver.answers = [500]
    make_rule(name="Tell the ERP", trigger="deal_created", actions=[webhook(receiver.url)])
    deal = make_deal(title="Acme roll-out")
    run_worker()
    assert len(receiver.requests) == 3
    delivery = WebhookDelivery.objects.get()
    assert {h["X-Dealgate-Delivery"] for h, _ in receiver.requests} == {str(delivery.pk)}
    assert [json.loads(b)["attempt"] for _, b in receiver.requests] == [1, 2, 3]
    assert all(signature_ok(h, b) for h, b in receiver.requests)  # each attempt signed afresh
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("given_up", 3, 500)
    assert "500" in delivery.last_error
    assert list(WebhookAttempt.objects.values_list("number", "status_code")) == [(1, 500), (2, 500), (3, 500)]
    alert = Notification.objects.exclude(kind="review").get(user=world.dave)  # the worker also sends the weekly review
    assert "given up" in alert.title and receiver.url in alert.title and alert.deal == deal
    assert not Notification.objects.filter(user__in=[world.alice, world.bob, world.carol], kind="alert").exists()
    run_worker()
    assert len(receiver.requests) == 3  # given up means given up


def test_a_retry_waits_for_its_delay_and_then_delivers(world, make_deal, make_rule, run_worker, receiver, settings):
    settings.DEALGATE_WEBHOOK_RETRY_DELAYS = [3600]
    receiver.answers = [503, 200]
    make_rule(trigger="deal_created", actions=[webhook(receiver.url)])
    make_deal()
    before = timezone.now()
    run_worker()
    delivery = WebhookDelivery.objects.get()
    assert (len(receiver.requests), delivery.status, delivery.attempts) == (1, "failed", 1)
    assert before + dt.timedelta(seconds=3590) < delivery.next_attempt_at < timezone.now() + dt.timedelta(seconds=3610)
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.task_path.endswith("deliver_webhook") and retry.run_after == delivery.next_attempt_at
    run_worker()
    assert len(receiver.requests) == 1  # not due yet: the worker leaves it
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)  # the clock moves on
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=an_hour_ago)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=an_hour_ago)
    run_worker()
    delivery.refresh_from_db()
    assert (len(receiver.requests), delivery.status, delivery.attempts, delivery.last_error) == (2, "delivered", 2, "")


def test_a_rolled_back_move_queues_no_webhook(world, make_deal, make_rule, run_worker, receiver):
    make_rule(trigger="stage_entered", trigger_stage="propose", actions=[webhook(receiver.url)])
    deal = make_deal(amount=1000)
    run_worker()  # the creation's job: no rule for it
    with pytest.raises(RuntimeError), transaction.atomic():
        deal_services.move_deal(deal, "propose", by=world.bob, override_reason="tested elsewhere")
        raise RuntimeError("the request failed after the move")
    assert not DBTaskResult.objects.filter(status="READY").exists()
    run_worker()
    assert not WebhookDelivery.objects.exists() and receiver.requests == []


def test_a_failed_rule_run_records_no_delivery(world, make_deal, make_rule, run_worker, receiver):
    """The webhook is part of the rule's all-or-nothing actions: a refused move undoes it."""
    make_rule(trigger="deal_created", actions=[webhook(receiver.url), {"type": "move_to_stage", "stage": "propose"}])
    make_deal(amount=None)
    run_worker()
    assert RuleRun.objects.get().outcome == "failed"
    assert not WebhookDelivery.objects.exists() and receiver.requests == []


def test_an_unreachable_receiver_or_a_redirect_is_a_failed_attempt(world, make_deal, make_rule, run_worker,
                                                                    receiver, settings):
    import socket

    settings.DEALGATE_WEBHOOK_RETRY_DELAYS = []  # one attempt
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    receiver.answers = [302]
    make_rule(trigger="deal_created", actions=[webhook(closed), webhook(receiver.url)])
    make_deal()
    run_worker()
    refused, redirected = WebhookDelivery.objects.order_by("id")
    assert (refused.status, refused.last_status_code) == ("given_up", None)
    assert refused.last_error.startswith("could not connect")
    assert (redirected.status, redirected.last_status_code) == ("given_up", 302)
    assert len(receiver.requests) == 1  # the redirect was not followed


def test_two_workers_send_each_attempt_once(world, make_deal, make_rule, receiver):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("in-memory SQLite locks whole tables without waiting; run on PostgreSQL (or DEALGATE_TEST_SQLITE)")
    from django.core.management import call_command

    from dealgate.automation.jobs import deliver_webhook

    make_rule(trigger="deal_created", actions=[webhook(receiver.url)])
    for _ in range(3):
        make_deal()
    call_command("worker", batch=True, interval=0, max_jobs=3)  # the rule runs: each queues its delivery
    assert WebhookDelivery.objects.filter(status="pending").count() == 3 and receiver.requests == []
    for delivery in WebhookDelivery.objects.all():
        deliver_webhook.enqueue(delivery.pk)  # every delivery queued twice
    assert workers_at_once(2) == []
    assert sorted(h["X-Dealgate-Delivery"] for h, _ in receiver.requests) == sorted(
        str(pk) for pk in WebhookDelivery.objects.values_list("pk", flat=True))
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


def test_a_delivery_left_sending_by_a_killed_worker_is_sent_again(world, make_deal, make_rule, run_worker,
                                                                  receiver):
    from dealgate.automation.webhooks import attempt_delivery

    make_rule(trigger="deal_created", actions=[webhook(receiver.url)])
    make_deal()
    run_worker(max_jobs=1)  # the rule runs and queues its delivery
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="sending", attempts=1,
                                                           sending_since=timezone.now())
    assert attempt_delivery(delivery.pk) == "sending"  # another worker is still on it
    WebhookDelivery.objects.filter(pk=delivery.pk).update(sending_since=timezone.now() - dt.timedelta(minutes=5))
    assert attempt_delivery(delivery.pk) == "delivered"
    assert len(receiver.requests) == 1 and json.loads(receiver.requests[0][1])["attempt"] == 2


def documented_verify():
    """The Python snippet under "Verifying the signature" in docs/automation.md, run as written."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("### Verifying the signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    return namespace["verify"]


def test_the_documented_recipe_verifies_a_real_delivery(world, make_deal, make_rule, run_worker, receiver):
    verify = documented_verify()
    make_rule(trigger="deal_created", actions=[webhook(receiver.url)])
    deal = make_deal()
    run_worker()
    (headers, body), = receiver.requests
    event = verify(SECRET, headers, body)
    assert event["deal"]["id"] == deal.pk
    with pytest.raises(ValueError):
        verify(SECRET, headers, body.replace(b'"attempt":1', b'"attempt":2'))
    with pytest.raises(ValueError):
        verify("not-the-secret-at-all", headers, body)


# --- Saving a rule with a webhook ----------------------------------------------------------------


@pytest.mark.parametrize("url, says", [
    ("ftp://hooks.example.com/x", "must start with http:// or https://"),
    ("javascript:alert(1)", "must start with http:// or https://"),
    ("https:///no-host", "needs a host name"),
    ("https://user:pw@hooks.example.com/", "must not hold a user name or password"),
    ("https://hooks.example.com:99999/", "is not a web address"),
    ("https://hooks.example.com/a b", "is not a web address"),
    ("https://" + "a" * 2000 + ".com/", "at most 2000 characters"),
])
def test_it_refuses_a_webhook_address_that_is_not_http_naming_the_field(world, make_rule, url, says):
    with pytest.raises(ValidationFailed) as refused:
        make_rule(trigger="deal_created", actions=[webhook(url)])
    assert "url" in refused.value.message and says in refused.value.message


def test_it_refuses_a_webhook_without_a_secret_or_with_a_short_one(world, make_rule):
    with pytest.raises(ValidationFailed) as missing:
        make_rule(trigger="deal_created", actions=[webhook("https://hooks.example.com/", secret=None)])
    assert "actions.webhook.secret" in missing.value.details
    with pytest.raises(ValidationFailed) as short:
        make_rule(trigger="deal_created", actions=[webhook("https://hooks.example.com/", secret="short")])
    assert "secret" in short.value.message and "16 characters" in short.value.message


def test_the_secret_is_never_shown_back_and_an_edit_keeps_it(world, make_rule):
    rule = make_rule(trigger="deal_created", actions=[webhook("https://hooks.example.com/dealgate")])
    assert SECRET not in describe(rule) and "https://hooks.example.com/dealgate" in describe(rule)
    shown = public_actions(rule.actions)
    assert shown[0]["secret"] == "••••this" and SECRET not in json.dumps(shown)
    services.update_rule(rule, by=world.dave, actions=shown)  # sent back as shown: the secret stays
    services.update_rule(rule, by=world.dave, actions=[webhook("https://hooks.example.com/v2", secret=None)])
    rule.refresh_from_db()
    assert rule.actions == [webhook("https://hooks.example.com/v2")]
    services.update_rule(rule, by=world.dave, actions=[webhook("https://hooks.example.com/v2", "a-new-secret-16chars")])
    rule.refresh_from_db()
    assert rule.actions[0]["secret"] == "a-new-secret-16chars"


def test_the_rules_page_lists_deliveries_failing_first_without_the_secret(
        world, make_deal, make_rule, run_worker, receiver, settings, client):
    settings.DEALGATE_WEBHOOK_RETRY_DELAYS = []
    receiver.answers = [200, 500]
    make_rule(name="Tell the ERP", trigger="deal_created", actions=[webhook(receiver.url)])
    make_deal(title="Delivered deal")
    run_worker()
    make_deal(title="Failing deal")
    run_worker()
    client.force_login(world.dave)
    page = client.get("/settings/rules/").content.decode()
    section = page.split("Webhook deliveries", 1)[1]
    assert section.index("Failing deal") < section.index("Delivered deal")
    assert "given up" in section and "HTTP 500" in section and receiver.url in section
    assert SECRET not in page
    client.force_login(world.bob)
    assert client.get("/settings/rules/").status_code == 403


def test_rules_deliveries_prints_the_failing_ones_first(world, make_deal, make_rule, run_worker, receiver,
                                                         settings, capsys):
    from django.core.management import call_command

    settings.DEALGATE_WEBHOOK_RETRY_DELAYS = []
    receiver.answers = [200, 500]
    make_rule(trigger="deal_created", actions=[webhook(receiver.url)])
    make_deal(title="Delivered deal")
    run_worker()
    make_deal(title="Failing deal")
    run_worker()
    capsys.readouterr()
    call_command("rules", "deliveries", "--json")
    rows = json.loads(capsys.readouterr().out)
    assert [(r["status"], r["last_status_code"], r["attempts"]) for r in rows] == [("given_up", 500, 1),
                                                                                  ("delivered", 200, 1)]
    call_command("rules", "deliveries")
    out = capsys.readouterr().out
    assert "given_up" in out and "HTTP 500" in out and SECRET not in out


def test_the_retry_delays_setting_refuses_what_is_not_a_list_of_seconds(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from dealgate.env import envintlist

    monkeypatch.setenv("DEALGATE_WEBHOOK_RETRY_DELAYS", "10, 60,600")
    assert envintlist("DEALGATE_WEBHOOK_RETRY_DELAYS", [1]) == [10, 60, 600]
    monkeypatch.setenv("DEALGATE_WEBHOOK_RETRY_DELAYS", "")
    assert envintlist("DEALGATE_WEBHOOK_RETRY_DELAYS", [1]) == [1]
    for bad, says in (("60,soon", "not a comma-separated list"), ("60,-1", "below the minimum of 0")):
        monkeypatch.setenv("DEALGATE_WEBHOOK_RETRY_DELAYS", bad)
        with pytest.raises(ImproperlyConfigured, match=says):
            envintlist("DEALGATE_WEBHOOK_RETRY_DELAYS", [1], minimum=0)


def test_without_a_worker_the_immediate_backend_sends_after_commit_and_retries_at_once(
        world, make_deal, make_rule, receiver, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    receiver.answers = [500, 500, 200]  # the delays (minutes by default) cannot be waited for there
    make_rule(trigger="deal_created", actions=[webhook(receiver.url)])
    make_deal()
    delivery = WebhookDelivery.objects.get()
    assert (len(receiver.requests), delivery.status, delivery.attempts) == (3, "delivered", 3)


def test_an_admin_sends_a_given_up_delivery_again_once_the_receiver_is_fixed(
        world, make_deal, make_rule, run_worker, receiver, settings, client):
    settings.DEALGATE_WEBHOOK_RETRY_DELAYS = [0]
    receiver.answers = [500, 500, 500, 200]
    make_rule(trigger="deal_created", actions=[webhook(receiver.url)])
    make_deal(title="Acme roll-out")
    run_worker()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("given_up", 2)
    client.force_login(world.bob)
    assert client.post(f"/settings/webhooks/{delivery.pk}/send/").status_code == 403
    client.force_login(world.dave)
    answer = client.post(f"/settings/webhooks/{delivery.pk}/send/", follow=True)
    assert "will be sent again" in answer.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and len(receiver.requests) == 2  # sent by the worker, not the request
    client.post(f"/settings/webhooks/{delivery.pk}/send/")  # twice: still one attempt queued
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("given_up", 3)  # its retries were used: one failure gives up
    assert Notification.objects.filter(user=world.dave, title__startswith="Webhook given up").count() == 2
    client.post(f"/settings/webhooks/{delivery.pk}/send/")
    run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(receiver.requests)) == ("delivered", 4, 4)
    assert "Send&nbsp;again" in client.get("/settings/rules/").content.decode()
