"""The signal inbox: a rep's open signals, highest revenue first, each converted, snoozed or dismissed."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from dealgate.errors import DealgateError
from dealgate.signals.cadence import cadence_of
from dealgate.signals.models import OrderLine, Quote, QuoteStatus, Signal
from dealgate.signals.services import convert_signal, dismiss_signal, inbox, signal_scope, snooze_signal

ACTIONS = ("convert", "snooze", "dismiss")


@login_required
def inbox_page(request: HttpRequest) -> HttpResponse:
    signals = list(inbox(request.user)[:200])
    return render(request, "signals/inbox.html", {"signals": signals,
                                                  "snooze_default": dt.date.today() + dt.timedelta(days=14)})


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
            messages.success(request, f"Snoozed until {until.isoformat()}.")
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
    return {
        "cadence": cadence_of(account_id, as_of),
        "order_months": list(months),
        "product_lines": list(lines.annotate(last_order=Max("ordered_at"), revenue=Sum("revenue"))),
        "open_quotes": list(Quote.objects.filter(account_id=account_id, status=QuoteStatus.OPEN).order_by("expires")),
        "account_signals": list(Signal.objects.filter(account_id=account_id).order_by("-raised_at", "-id")[:20]),
    }
