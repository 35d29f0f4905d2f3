"""Small formatting helpers: money with thousands separators and its currency, dates as people say them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def money(value: Any, currency: str = "") -> str:
    """12345.6, "EUR" -> "EUR 12,346"; empty amounts read as a dash."""
    if value is None or value == "":
        return "—"
    amount = Decimal(str(value))
    text = f"{amount:,.0f}"
    return f"{currency} {text}".strip()


@register.filter
def days_ago(value: Any) -> str:
    if not value:
        return ""
    day = timezone.localdate(value) if isinstance(value, dt.datetime) else value
    delta = (timezone.localdate() - day).days
    if delta == 0:
        return "today"
    if delta == 1:
        return "yesterday"
    if delta == -1:
        return "tomorrow"
    return f"{delta} days ago" if delta > 0 else f"in {-delta} days"


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """dict lookup with a variable key: {{ errors|get:'amount' }}."""
    if not mapping:
        return None
    return mapping.get(key)


@register.simple_tag
def role(user: Any) -> str:
    """The user's role (rep, manager, admin) for showing or hiding links."""
    from dealgate.people.access import role_of

    return role_of(user)


@register.filter
def initials(user: Any) -> str:
    name = (user.get_full_name() or user.username) if user else ""
    parts = name.split()
    return "".join(p[0] for p in parts[:2]).upper() or "?"


@register.filter
def words(key: Any) -> str:
    """decision_maker -> decision maker."""
    return str(key or "").replace("_", " ").replace("-", " ")


@register.filter
def eq(value: Any, other: Any) -> bool:
    """{% with mine=error_action|eq:'stage' %}: `with` takes no comparison of its own."""
    return value == other
