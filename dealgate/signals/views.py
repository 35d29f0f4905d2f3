"""The signal inbox: a rep's open signals, highest revenue first, each converted, snoozed or dismissed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dealgate import words
from dealgate.errors import DealgateError
from dealgate.signals.cadence import cadence_of, since_win
from dealgate.signals.models import OrderLine, Quote, QuoteStatus, Signal
from dealgate.signals.risk import risk_level, risks_of
from dealgate.signals.services import convert_signal, dismiss_signal, inbox, signal_scope, snooze_signal
from dealgate.signals.wording import evidence_sentence, signal_currency

ACTIONS = ("convert", "snooze", "dismiss")


@login_required
def inbox_page(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    signals = list(inbox(request.user, today=today)[:200])
    risk = risks_of(sorted({s.account_id for s in signals}), today)
    for s in signals:
        s.sentence = evidence_sentence(s.kind, s.evidence, today=today)
        s.currency = signal_currency(s.kind, s.evidence)
        s.risk_level = risk_level(risk.get(s.account_id))
        s.about = f"{s.account.name}, {s.get_kind_display().lower()}"  # the actions' names for screen readers
    return render(request, "signals/inbox.html", {"signals": signals,
                                                  "snooze_default": today + dt.timedelta(days=14)})


@login_required
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404("No such action.")
    signal = get_object_or_404(Signal.objects.filter(signal_scope(request.user)), pk=pk)
    try:
        if action == "convert":
            deal = convert_signal(signal, by=request.user)
            messages.success(request, f"Deal created in {deal.stage.name}.")
            return redirect(reverse("web:deal", args=[deal.pk]))
        if action == "snooze":
            until = parse_day(request.POST.get("until", ""))
            snooze_signal(signal, until, by=request.user)
            messages.success(request, f"Snoozed until {words.day(until)}.")
        else:
            dismiss_signal(signal, request.POST.get("reason", ""), by=request.user)
            messages.success(request, "Dismissed.")
    except DealgateError as error:
        messages.error(request, error.message)
    return redirect(reverse("signals:inbox"))


def parse_day(text: str) -> dt.date:
    from dealgate.errors import ValidationFailed

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed.for_field("until", "pick a date (YYYY-MM-DD) to snooze until") from None


def order_rhythm(account_id: int, as_of: dt.date | None = None) -> dict:
    """What the account page shows of an account's buying: cadence, monthly orders, lines, open quotes, signals."""
    as_of = as_of or dt.date.today()
    lines = (OrderLine.objects.filter(account_id=account_id, ordered_at__lt=as_of).exclude(product_line="")
             .values("product_line").order_by("product_line"))
    from django.db.models import Count, Max, Sum
    from django.db.models.functions import TruncMonth

    months = (OrderLine.objects.filter(account_id=account_id, ordered_at__lt=as_of)
              .annotate(month=TruncMonth("ordered_at")).values("month")
              .annotate(revenue=Sum("revenue"), orders=Count("order_id", distinct=True)).order_by("-month")[:24])
    cadence = cadence_of(account_id, as_of)
    return {
        "cadence": cadence,
        "retention": retention(account_id, as_of, cadence),
        "order_months": list(months),
        "product_lines": list(lines.annotate(last_order=Max("ordered_at"), revenue=Sum("revenue"))),
        "open_quotes": list(Quote.objects.filter(account_id=account_id, status=QuoteStatus.OPEN).order_by("expires")),
        "account_signals": list(Signal.objects.filter(account_id=account_id).order_by("-raised_at", "-id")[:20]),
    }


def retention(account_id: int, as_of: dt.date, cadence: Any) -> dict | None:
    """For a won account: its latest win before `as_of`, the orders since, and whether it reorders on
    schedule (its cadence counted from the win: on time / late / overdue). None when it never won."""
    from django.db.models import Count, Sum

    from dealgate.deals.models import Deal
    from dealgate.pipelines.models import StageKind

    won_at = (Deal.objects.filter(account_id=account_id, stage__kind=StageKind.WON, closed_at__isnull=False)
              .order_by("-closed_at").values_list("closed_at", flat=True).first())
    won_on = timezone.localdate(won_at) if won_at is not None else None
    if won_on is None or won_on >= as_of:
        return None
    since = OrderLine.objects.filter(account_id=account_id, ordered_at__gte=won_on, ordered_at__lt=as_of).aggregate(
        orders=Count("ordered_at", distinct=True), revenue=Sum("revenue"))
    return {"won_on": won_on, "orders": since["orders"], "revenue": since["revenue"] or 0,
            "cadence": since_win(cadence, won_on) if cadence is not None else None}
