"""Settings: quotas per owner and team per period. Writes go through dealgate.analytics.services
(`set_quota`, `remove_quota`), the same functions as the API and `dealgate quota`.

Admins see and set every quota; a manager their team's and its reps'; reps get a 403 (their quota
shows on Insights and Forecast)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dealgate.analytics.periods import period_containing
from dealgate.analytics.services import may_manage_quotas, may_set_quota, remove_quota, set_quota, visible_quotas
from dealgate.errors import DealgateError, ValidationFailed
from dealgate.inputs import query_text
from dealgate.people.access import role_of, team_id_of
from dealgate.people.models import Role, Team


def _managers_only(request: HttpRequest) -> None:
    if not may_manage_quotas(request.user):
        raise PermissionDenied("Only an administrator or a sales manager may set quotas.")


def quota_targets(user: Any) -> tuple[list[Any], list[Team]]:
    """The owners and teams whose quota this user may set, for the form's choices."""
    owners = get_user_model().objects.filter(is_active=True).select_related("profile").order_by("username")
    teams = Team.objects.order_by("name")
    if role_of(user) != Role.ADMIN:
        owners = owners.filter(profile__team_id=team_id_of(user) or -1, profile__role=Role.REP)
        teams = teams.filter(pk=team_id_of(user) or -1)
    return [o for o in owners if may_set_quota(user, owner=o)], list(teams)


def _target(value: Any) -> dict[str, Any]:
    """"owner:12" or "team:3" from the form's select -> set_quota's owner= or team=."""
    kind, _, pk = str(value or "").partition(":")
    if kind in ("owner", "team") and pk.isascii() and pk.isdigit() and int(pk) < 2**63:
        model = get_user_model() if kind == "owner" else Team
        found = model.objects.filter(pk=int(pk)).first()
        if found is not None:
            return {kind: found}
    raise ValidationFailed.for_field("owner", "pick an owner or a team from the list")


def render_quotas(request: HttpRequest, *, status: int = 200, errors: dict | None = None, error_target: Any = None,
                  message: str = "") -> HttpResponse:
    period_text = query_text(request.GET, "period", max_length=10)
    filter_error = ""
    try:
        rows = list(visible_quotas(request.user, period_text))
    except DealgateError as exc:
        rows, filter_error, status = list(visible_quotas(request.user)), exc.message, 400 if status == 200 else status
    owners, teams = quota_targets(request.user)
    current = period_containing(timezone.localdate(), 3).label
    return render(request, "web/settings/quotas.html", {
        "quotas": [(q, may_set_quota(request.user, owner=q.user, team=q.team)) for q in rows],
        "target_choices": [("Teams", [(f"team:{t.pk}", f"Team {t.name}") for t in teams]),
                           ("Owners", [(f"owner:{o.pk}", f"{o.get_full_name() or o.username} ({o.username})")
                                       for o in owners])],
        "period": period_text, "filter_error": filter_error,
        "default_period": period_text if period_text and not filter_error else current,
        "company_currency": settings.DEALGATE_CURRENCY, "is_admin": role_of(request.user) == Role.ADMIN,
        "errors": errors or {}, "error_target": error_target, "error_message": message,
        "posted": request.POST if error_target is not None else {},
    }, status=status)


@login_required
def quotas_settings(request: HttpRequest) -> HttpResponse:
    _managers_only(request)
    return render_quotas(request)


@login_required
@require_POST
def quota_set(request: HttpRequest) -> HttpResponse:
    _managers_only(request)
    p = request.POST
    row = p.get("row", "new")
    try:
        quota = set_quota(**_target(p.get("target")), period=p.get("period", ""), amount=p.get("amount", ""),
                          currency=p.get("currency", ""), by=request.user)
    except DealgateError as exc:
        errors = exc.details if isinstance(exc, ValidationFailed) else {}
        return render_quotas(request, status=exc.http_status, errors=errors, error_target=row, message=exc.message)
    messages.success(request, f"Saved the {quota.label}: {quota.amount:,.2f} {quota.currency}.")
    return redirect(f"{reverse('web:settings_quotas')}?period={quota.period_label}")


@login_required
@require_POST
def quota_remove(request: HttpRequest, pk: int) -> HttpResponse:
    _managers_only(request)
    quota = get_object_or_404(visible_quotas(request.user), pk=pk)
    label = quota.label
    try:
        remove_quota(quota, by=request.user)
    except DealgateError as exc:
        return render_quotas(request, status=exc.http_status, error_target=str(pk), message=exc.message)
    messages.success(request, f"Removed the {label}.")
    return redirect("web:settings_quotas")
