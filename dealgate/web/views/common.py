"""What every page shares: finding a deal the user may see, role checks, error rendering."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from dealgate.deals.models import Deal
from dealgate.people.access import can_edit_deal, role_of, visible_deals
from dealgate.people.models import Role


def deal_for(request: HttpRequest, pk: int, *, edit: bool = False) -> Deal:
    """The deal if this user may see it (404 otherwise: its existence is none of their business);
    403 when they may see but not change it and `edit` is asked."""
    deal = get_object_or_404(
        visible_deals(request.user, Deal.objects.select_related("stage", "pipeline", "account", "owner", "team")),
        pk=pk,
    )
    if edit and not can_edit_deal(request.user, deal):
        raise PermissionDenied(f"{deal.title} belongs to {deal.owner}; you may look but not change it.")
    return deal


def admin_required(view: Callable) -> Callable:
    """Pages that configure the installation: admins only (403 for reps and managers)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any):
        if role_of(request.user) != Role.ADMIN:
            raise PermissionDenied("Only an administrator may change the settings.")
        return view(request, *args, **kwargs)

    return wrapper


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def not_found(message: str) -> Http404:
    return Http404(message)
