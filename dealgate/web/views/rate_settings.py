"""Settings: dated exchange rates into the company currency. Writes go through
dealgate.analytics.rates (`set_rate`, `remove_rate`), the same functions as the API and
`dealgate rates`. Admins only (decision 035); everyone else gets a 403."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from dealgate.analytics.rates import may_set_rates, rate_table, remove_rate, set_rate, visible_rates
from dealgate.errors import DealgateError, ValidationFailed


def _admins_only(request: HttpRequest) -> None:
    if not may_set_rates(request.user):
        raise PermissionDenied("Only an administrator may set exchange rates.")


def render_rates(request: HttpRequest, *, status: int = 200, errors: dict | None = None, error_target: str = "",
                 message: str = "") -> HttpResponse:
    table = dict(rate_table())
    today = timezone.localdate()
    rows = []
    for rate in visible_rates():
        in_force = table.get(rate.currency, ())
        rows.append((rate, bool(in_force) and in_force[-1][0] == rate.effective_from.isoformat(),
                     rate.effective_from > today))
    return render(request, "web/settings/rates.html", {
        "rates": rows, "company_currency": settings.DEALGATE_CURRENCY, "today": today,
        "errors": errors or {}, "error_target": error_target, "error_message": message,
        "posted": request.POST if error_target else {},
    }, status=status)


@login_required
def rates_settings(request: HttpRequest) -> HttpResponse:
    _admins_only(request)
    return render_rates(request)


@login_required
@require_POST
def rate_set(request: HttpRequest) -> HttpResponse:
    _admins_only(request)
    p = request.POST
    try:
        rate = set_rate(currency=p.get("currency", ""), rate=p.get("rate", ""), effective_from=p.get("date", ""),
                        by=request.user)
    except DealgateError as exc:
        errors = exc.details if isinstance(exc, ValidationFailed) else {}
        return render_rates(request, status=exc.http_status, errors=errors, error_target="new", message=exc.message)
    messages.success(request, f"Saved: 1 {rate.currency} = {rate.rate.normalize():f} {settings.DEALGATE_CURRENCY} "
                              f"from {rate.effective_from.isoformat()}.")
    return redirect("web:settings_rates")


@login_required
@require_POST
def rate_remove(request: HttpRequest, pk: int) -> HttpResponse:
    _admins_only(request)
    rate = get_object_or_404(visible_rates(), pk=pk)
    label = rate.label
    try:
        remove_rate(rate, by=request.user)
    except DealgateError as exc:  # pragma: no cover - admins only reach here, and removal has no other refusal
        return render_rates(request, status=exc.http_status, error_target=str(pk), message=exc.message)
    messages.success(request, f"Removed the {label}.")
    return redirect("web:settings_rates")
