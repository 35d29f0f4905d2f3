"""The signals API: a user's open signals, their actions, and the reorder-risk ranking (thin over services)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Schema

from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.schemas import Day, InputSchema
from dealgate.deals.models import Account
from dealgate.people.access import role_of
from dealgate.people.models import Role
from dealgate.signals.models import Signal
from dealgate.signals.risk import account_risks
from dealgate.signals.services import convert_signal, dismiss_signal, inbox, signal_scope, snooze_signal

router = Router(tags=["signals"])


class SignalOut(Schema):
    id: int
    kind: str
    account: str
    account_id: int
    title: str
    revenue: float
    status: str
    as_of: dt.date
    snoozed_until: dt.date | None = None
    dismissed_reason: str = ""
    deal: int | None = None
    evidence: dict[str, Any]


class SnoozeIn(InputSchema):
    until: Day


class DismissIn(InputSchema):
    reason: str


class ConvertedOut(Schema):
    signal: SignalOut
    deal: int


class RiskOut(Schema):
    account: str
    account_id: int
    risk: float
    status: str
    last_order: dt.date
    days_since_last: int
    typical_gap_days: float | None = None
    expected: dt.date | None = None
    overdue_bands: float
    orders_recent: int
    orders_baseline: float
    orders: int
    no_cadence_reason: str | None = None


def out(signal: Signal) -> dict[str, Any]:
    return {"id": signal.pk, "kind": signal.kind, "account": signal.account.name, "account_id": signal.account_id,
            "title": signal.title, "revenue": float(signal.revenue), "status": signal.status, "as_of": signal.as_of,
            "snoozed_until": signal.snoozed_until, "dismissed_reason": signal.dismissed_reason,
            "deal": signal.deal_id, "evidence": signal.evidence}


def visible_signal(user: Any, pk: int) -> Signal:
    return get_object_or_404(Signal.objects.filter(signal_scope(user)).select_related("account"), pk=pk)


@router.get("", response={200: list[SignalOut], **ERRORS}, summary="Open signals on my accounts, highest revenue first")
def list_signals(request):
    return [out(s) for s in inbox(request.auth)[:500]]


@router.post("/{int:signal_id}/convert", response={201: ConvertedOut, **WRITE_ERRORS},
             summary="Convert a signal to a deal in the first stage (source: signal)")
def convert(request, signal_id: int):
    deal = convert_signal(visible_signal(request.auth, signal_id), by=request.auth)
    return 201, {"signal": out(visible_signal(request.auth, signal_id)), "deal": deal.pk}


@router.post("/{int:signal_id}/snooze", response={200: SignalOut, **WRITE_ERRORS},
             summary="Snooze a signal until a date")
def snooze(request, signal_id: int, payload: SnoozeIn):
    return out(snooze_signal(visible_signal(request.auth, signal_id), payload.until, by=request.auth))


@router.post("/{int:signal_id}/dismiss", response={200: SignalOut, **WRITE_ERRORS},
             summary="Dismiss a signal with a reason")
def dismiss(request, signal_id: int, payload: DismissIn):
    return out(dismiss_signal(visible_signal(request.auth, signal_id), payload.reason, by=request.auth))


@router.get("/risk", response={200: list[RiskOut], **ERRORS},
            summary="Accounts by reorder risk, highest first (orders before as_of only)")
def risk(request, as_of: Day | None = None):
    rows = account_risks(as_of or timezone.localdate())
    if role_of(request.auth) != Role.ADMIN:
        own = set(Account.objects.filter(owner=request.auth).values_list("pk", flat=True))
        if role_of(request.auth) == Role.MANAGER:
            from dealgate.people.access import team_id_of

            own |= set(Account.objects.filter(owner__profile__team_id=team_id_of(request.auth))
                       .values_list("pk", flat=True))
        rows = [r for r in rows if r["account_id"] in own]
    return rows
