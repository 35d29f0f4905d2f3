"""The webhook action: a signed JSON POST of a deal's event, sent by the worker, retried with back-off.

A rule run records a `WebhookDelivery` in its own transaction and queues `jobs.deliver_webhook`
on commit: a rolled-back write sends nothing, and no request waits on the network. Each attempt
is claimed with a conditional update of `attempts` (two workers cannot send the same attempt),
POSTed with a timeout and no redirects, and recorded (`WebhookAttempt`). A 2xx is delivered;
anything else is retried after `DEALGATE_WEBHOOK_RETRY_DELAYS` (one delay per retry, queued with
django-tasks' `run_after`) and given up after the last, with a notification to every admin.

Signature: `X-Dealgate-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`.
The body carries `timestamp` (also sent as `X-Dealgate-Timestamp`), so the signature covers it and
a receiver can refuse old replays. docs/automation.md shows how to verify it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, Q, QuerySet, When
from django.utils import timezone

from dealgate.automation.models import (DeliveryStatus, NotificationKind, Rule, RuleRun, WebhookAttempt,
                                        WebhookDelivery)
from dealgate.deals.models import Deal
from dealgate.errors import NotAllowed
from dealgate.people.models import Role

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Dealgate-Signature"
MASK = "••••"


# ---------------------------------------------------------------------------------------------
# The action as stored in a rule: its address, and its secret kept out of sight


def url_problem(value: str) -> str:
    """Why `value` cannot be a webhook address, or "" when it can."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port  # a port that is not a number raises here
    except ValueError:
        return "is not a web address"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "needs a host name, e.g. https://hooks.example.com/dealgate"
    if parts.username or parts.password:
        return "must not hold a user name or password (the signature proves the sender)"
    if port == 0 or any(c.isspace() or not c.isprintable() for c in value):
        return "is not a web address"
    return ""


def mask_secret(secret: str | None) -> str:
    """What is shown of a saved secret: its last four characters."""
    return f"{MASK}{secret[-4:]}" if secret else ""


def public_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A rule's actions as they may be shown back (pages, API, CLI): webhook secrets masked."""
    return [{**a, "secret": mask_secret(a.get("secret"))} if a.get("type") == "webhook" else a for a in actions]


def keep_secrets(new: Any, old: list[dict[str, Any]]) -> Any:
    """Editing a rule: a webhook action sent back without its secret (or with the masked one)
    keeps the secret saved for the same address, or for the webhook action in the same place."""
    if not isinstance(new, list):
        return new
    saved = [a for a in old if isinstance(a, dict) and a.get("type") == "webhook"]
    kept = []
    for index, step in enumerate(new):
        if isinstance(step, dict) and step.get("type") == "webhook":
            same = next((a for a in saved if a.get("url") == step.get("url")), None)
            if same is None and index < len(old) and isinstance(old[index], dict) and old[index].get("type") == "webhook":
                same = old[index]
            given = step.get("secret")
            if same is not None and (not given or given == mask_secret(same.get("secret"))):
                step = {**step, "secret": same.get("secret")}
        kept.append(step)
    return kept


# ---------------------------------------------------------------------------------------------
# Recording (inside the rule run's transaction)


def deal_link(deal: Deal) -> str:
    return f"{settings.DEALGATE_BASE_URL}/deals/{deal.pk}/"


def payload_for(rule: Rule, run: RuleRun, deal: Deal) -> dict[str, Any]:
    """What the receiver learns: the event, the rule, and the deal as it is when the rule runs."""
    owner = deal.owner
    return {
        "event": run.trigger,
        "occurrence": run.occurrence,
        "rule": {"id": rule.pk, "name": rule.name},
        "deal": {
            "id": deal.pk, "title": deal.title, "url": deal_link(deal),
            "pipeline": deal.pipeline.key, "stage": {"key": deal.stage.key, "name": deal.stage.name},
            "owner": {"username": owner.username, "name": owner.get_full_name() or owner.username},
            "amount": None if deal.amount is None else str(deal.amount), "currency": deal.currency,
            "expected_close_date": deal.expected_close_date.isoformat() if deal.expected_close_date else None,
            "forecast_category": deal.forecast_category, "source": deal.source,
        },
    }


def record_delivery(step: dict[str, Any], rule: Rule, run: RuleRun, deal: Deal) -> WebhookDelivery:
    """The webhook action of a rule run: a delivery row now, its first attempt queued on commit."""
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        rule=rule, run=run, deal=deal, url=step["url"], secret=step["secret"], payload=payload_for(rule, run, deal),
        status=DeliveryStatus.PENDING, next_attempt_at=now, created_at=now, updated_at=now)
    transaction.on_commit(lambda: _enqueue(delivery.pk, now), robust=True)
    return delivery


def _enqueue(delivery_id: int, at: dt.datetime) -> None:
    from dealgate.automation.jobs import deliver_webhook

    job = deliver_webhook
    if at > timezone.now() and can_defer():
        job = job.using(run_after=at)
    job.enqueue(delivery_id)


def can_defer() -> bool:
    """Whether the task backend can hold a job until a time (the database queue can; the immediate
    backend, which runs a job as it is queued, cannot: there a retry follows at once)."""
    from dealgate.automation.jobs import deliver_webhook

    return bool(deliver_webhook.get_backend().supports_defer)


# ---------------------------------------------------------------------------------------------
# Sending (in the worker)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delays() -> list[int]:
    return list(settings.DEALGATE_WEBHOOK_RETRY_DELAYS)


def attempt_delivery(delivery_id: int) -> str:
    """Claim the delivery's next attempt, POST it, record what happened; returns the new status.

    Nothing to do (already delivered or given up, claimed by another worker, not due yet) returns
    the status as it stands.
    """
    now = timezone.now()
    delivery = WebhookDelivery.objects.select_related("deal", "rule").filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    lease_over = now - dt.timedelta(seconds=settings.DEALGATE_WEBHOOK_TIMEOUT + 60)
    claimable = (Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=now)
                 | Q(status=DeliveryStatus.SENDING, sending_since__lt=lease_over))  # its worker died mid-POST
    number = delivery.attempts + 1
    claimed = WebhookDelivery.objects.filter(claimable, pk=delivery.pk, attempts=delivery.attempts).update(
        attempts=number, status=DeliveryStatus.SENDING, sending_since=now, updated_at=now)
    if not claimed:
        if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED) and delivery.next_attempt_at and \
                delivery.next_attempt_at > now and can_defer():  # the job ran early: wait for the attempt's time
            _enqueue(delivery.pk, delivery.next_attempt_at)
        return delivery.status
    status_code, error, took_ms = post(delivery, number)
    return _record(delivery, number, status_code, error, took_ms)


def post(delivery: WebhookDelivery, number: int) -> tuple[int | None, str, int]:
    """One POST: (status code or None, error in words or "", milliseconds)."""
    sent = timezone.now()
    body = json.dumps({"delivery": delivery.pk, "attempt": number, **delivery.payload,
                       "sent_at": sent.isoformat(), "timestamp": int(sent.timestamp())},
                      separators=(",", ":"), ensure_ascii=False).encode()
    request = urllib.request.Request(delivery.url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "Dealgate-Webhook/1",
        "X-Dealgate-Delivery": str(delivery.pk), "X-Dealgate-Event": delivery.payload.get("event", ""),
        "X-Dealgate-Timestamp": str(int(sent.timestamp())), SIGNATURE_HEADER: sign(delivery.secret, body)})
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=settings.DEALGATE_WEBHOOK_TIMEOUT) as response:
            response.read(65536)
            code, error = response.status, ""
    except urllib.error.HTTPError as exc:  # the receiver answered, with a status that is not 2xx
        code, error = exc.code, f"HTTP {exc.code} {exc.reason or ''}".strip()
        exc.close()
    except TimeoutError:
        code, error = None, f"no answer within {settings.DEALGATE_WEBHOOK_TIMEOUT} s"
    except urllib.error.URLError as exc:
        code, error = None, f"could not connect: {exc.reason}"
    except (OSError, ValueError, http.client.HTTPException) as exc:  # a broken connection, a malformed answer
        code, error = None, f"{type(exc).__name__}: {exc}"
    return code, error, int((time.monotonic() - started) * 1000)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: the POST is not repeated elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _record(delivery: WebhookDelivery, number: int, status_code: int | None, error: str, took_ms: int) -> str:
    now = timezone.now()
    delays = retry_delays()
    if status_code is not None and 200 <= status_code < 300:
        status, next_at, error = DeliveryStatus.DELIVERED, None, ""
    elif number > len(delays):
        status, next_at = DeliveryStatus.GIVEN_UP, None
    else:
        status, next_at = DeliveryStatus.FAILED, now + dt.timedelta(seconds=delays[number - 1] if can_defer() else 0)
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery=delivery, number=number, at=now, status_code=status_code,
                                      error=error, duration_ms=took_ms)
        updated = WebhookDelivery.objects.filter(pk=delivery.pk, attempts=number,
                                                 status=DeliveryStatus.SENDING).update(
            status=status, next_attempt_at=next_at, sending_since=None, last_status_code=status_code,
            last_error=error, updated_at=now, delivered_at=now if status == DeliveryStatus.DELIVERED else None)
        if not updated:  # taken over after a lease ran out; the newer attempt decides
            return DeliveryStatus.SENDING
        if status == DeliveryStatus.FAILED:
            transaction.on_commit(lambda: _enqueue(delivery.pk, next_at), robust=True)
        elif status == DeliveryStatus.GIVEN_UP:
            _tell_admins(delivery, number, status_code, error)
    return status


def _tell_admins(delivery: WebhookDelivery, attempts: int, status_code: int | None, error: str) -> None:
    from dealgate.automation.services import notify

    admins = get_user_model().objects.filter(is_active=True).filter(
        Q(is_superuser=True) | Q(profile__role=Role.ADMIN)).distinct()
    for admin in admins:
        notify(admin, kind=NotificationKind.ALERT,
               title=f"Webhook given up: rule '{delivery.rule.name}' could not reach {delivery.url}",
               body=f"{attempts} attempts for {delivery.deal.title}; the last: {error or status_code}. "
                    "Settings → Automation rules lists the webhook deliveries.",
               deal=delivery.deal)


def send_again(delivery: WebhookDelivery, *, by: Any) -> WebhookDelivery:
    """An admin's "Send again" (e.g. once the receiver is fixed): one more attempt, queued now.

    A delivery being sent, or waiting for its first attempt, is left as it is. A given-up one that
    fails again is given up again (its retries were used); a retrying or delivered one keeps what
    is left of its retries.
    """
    from dealgate.automation.services import _require_admin

    if by is None:
        raise NotAllowed("Only an administrator may send a webhook again.")
    _require_admin(by)
    now = timezone.now()
    with transaction.atomic():
        updated = WebhookDelivery.objects.filter(
            pk=delivery.pk, status__in=[DeliveryStatus.FAILED, DeliveryStatus.GIVEN_UP, DeliveryStatus.DELIVERED]).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now, updated_at=now)
        if updated:  # the attempt count goes on: past the schedule, one failure gives up again
            transaction.on_commit(lambda: _enqueue(delivery.pk, now), robust=True)
    delivery.refresh_from_db()
    return delivery


# ---------------------------------------------------------------------------------------------
# Reading


def deliveries_for_admins(limit: int = 50) -> QuerySet:
    """Recent deliveries, the failing ones first (given up, then retrying), newest first within each."""
    rank = Case(When(status=DeliveryStatus.GIVEN_UP, then=0), When(status=DeliveryStatus.FAILED, then=1), default=2)
    return (WebhookDelivery.objects.select_related("rule", "deal").annotate(rank=rank)
            .order_by("rank", "-created_at", "-id")[:limit])
