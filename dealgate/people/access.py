"""Who may see and change what. Views, API and services all ask these functions."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from dealgate.people.models import Role


def role_of(user: Any) -> str:
    if user is None or not user.is_authenticated:
        return ""
    if user.is_superuser:
        return Role.ADMIN
    profile = getattr(user, "profile", None)
    return profile.role if profile else Role.REP


def team_id_of(user: Any) -> int | None:
    profile = getattr(user, "profile", None)
    return profile.team_id if profile else None


def can_override(user: Any) -> bool:
    """Managers and admins may force a blocked move (with a reason); so may anyone granted the permission."""
    return role_of(user) in (Role.MANAGER, Role.ADMIN) or bool(user and user.has_perm("deals.override_gate"))


def deal_scope(user: Any) -> Q:
    """The deals a user can see: admins all, everyone else their own and their team's."""
    role = role_of(user)
    if role == Role.ADMIN:
        return Q()
    team = team_id_of(user)
    scope = Q(owner_id=user.pk)
    if team is not None:
        scope |= Q(team_id=team)
    return scope


def visible_deals(user: Any, queryset: QuerySet | None = None) -> QuerySet:
    from dealgate.deals.models import Deal

    qs = queryset if queryset is not None else Deal.objects.all()
    if not user or not user.is_authenticated:
        return qs.none()
    return qs.filter(deal_scope(user))


def can_view_deal(user: Any, deal: Any) -> bool:
    role = role_of(user)
    if role == Role.ADMIN:
        return True
    if not role:
        return False
    return deal.owner_id == user.pk or (deal.team_id is not None and deal.team_id == team_id_of(user))


def can_edit_deal(user: Any, deal: Any) -> bool:
    """Reps change their own deals; managers their team's; admins any."""
    role = role_of(user)
    if role == Role.ADMIN:
        return True
    if role == Role.MANAGER:
        return deal.owner_id == user.pk or (deal.team_id is not None and deal.team_id == team_id_of(user))
    return bool(role) and deal.owner_id == user.pk


def can_create_deal_for(user: Any, owner: Any) -> bool:
    """Reps create deals they own; managers and admins for anyone (as when they reassign one).

    `user=None` is the system (imports from the CLI, automation). Any path that creates deals asks
    this: the deal form, the API and CSV imports."""
    if user is None:
        return True
    role = role_of(user)
    if role in (Role.MANAGER, Role.ADMIN):
        return True
    return bool(role) and owner is not None and getattr(owner, "pk", None) == user.pk


def owners_for_new_deals(user: Any) -> QuerySet:
    """Whom a user's new-deal form offers as owner: a rep themselves, a manager their team (and
    themselves), an admin every active user. The service still asks `can_create_deal_for`."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    role = role_of(user)
    if role == Role.ADMIN:
        return users
    if role == Role.MANAGER and team_id_of(user) is not None:
        return users.filter(Q(pk=user.pk) | Q(profile__team_id=team_id_of(user)))
    return users.filter(pk=user.pk) if role else users.none()
