"""Settings for admins: users (role, team, active) and teams. Writes go through dealgate.people.services."""

from __future__ import annotations

from typing import Any, Callable

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dealgate.errors import DealgateError, ValidationFailed
from dealgate.people import services
from dealgate.people.models import Role, Team
from dealgate.web.views.common import admin_required


def render_users(request: HttpRequest, *, status: int = 200, errors: dict | None = None, error_action: str = "",
                 error_target: int | None = None, message: str = "") -> HttpResponse:
    """The page; after a refused write, again with the errors beside the form that caused them."""
    users = (get_user_model().objects.select_related("profile", "profile__team")
             .order_by("-is_active", "username"))
    teams = Team.objects.select_related("manager").annotate(
        active_members=Count("members", filter=Q(members__user__is_active=True))).order_by("name")
    return render(request, "web/settings/users.html", {
        "users": users, "teams": teams, "roles": Role.choices,
        "errors": errors or {}, "error_action": error_action, "error_target": error_target,
        "error_message": message, "posted": request.POST if error_action else {},
    }, status=status)


@admin_required
def users_settings(request: HttpRequest) -> HttpResponse:
    return render_users(request)


def _team(value: Any) -> Team | None:
    if not value:
        return None
    team = Team.objects.filter(pk=value).first() if str(value).isascii() and str(value).isdigit() and int(value) < 2**63 else None
    if team is None:
        raise ValidationFailed.for_field("team", f"no team {value!r}; pick one from the list")
    return team


def _user(target: int) -> Any:
    return get_object_or_404(get_user_model(), pk=target)


def _user_add(request: HttpRequest, target: int) -> str:
    p = request.POST
    user = services.create_user(username=p.get("username", ""), password=p.get("password", ""),
                                role=p.get("role", ""), team=_team(p.get("team")), first_name=p.get("first_name", ""),
                                last_name=p.get("last_name", ""), email=p.get("email", ""), by=request.user)
    return f"Created {user.username}."


def _user_edit(request: HttpRequest, target: int) -> str:
    user = services.update_user_role(_user(target), role=request.POST.get("role", ""),
                                     team=_team(request.POST.get("team")), by=request.user)
    return f"Saved {user.username}."


def _user_active(request: HttpRequest, target: int) -> str:
    active = request.POST.get("active") == "1"
    user = services.set_active(_user(target), active, by=request.user)
    return f"{'Reactivated' if active else 'Deactivated'} {user.username}."


def _team_add(request: HttpRequest, target: int) -> str:
    team = services.create_team(name=request.POST.get("name", ""), by=request.user)
    return f"Created team {team.name}."


def _team_rename(request: HttpRequest, target: int) -> str:
    team = services.rename_team(get_object_or_404(Team, pk=target), name=request.POST.get("name", ""),
                                by=request.user)
    return f"Renamed the team to {team.name}."


USER_ACTIONS: dict[str, Callable[[HttpRequest, int], str]] = {
    "user-add": _user_add, "user": _user_edit, "user-active": _user_active,
    "team-add": _team_add, "team": _team_rename,
}


@admin_required
@require_POST
def users_action(request: HttpRequest, action: str, target: int = 0) -> HttpResponse:
    handler = USER_ACTIONS.get(action)
    if handler is None:
        return HttpResponse("Unknown action.", status=404)
    try:
        done = handler(request, target)
    except DealgateError as exc:
        errors: dict[str, Any] = exc.details if isinstance(exc, ValidationFailed) else {}
        return render_users(request, status=exc.http_status, errors=errors, error_action=action,
                            error_target=target or None, message=exc.message)
    messages.success(request, done)
    return redirect("web:settings_users")
