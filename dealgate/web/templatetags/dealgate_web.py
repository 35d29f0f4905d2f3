"""Small formatting helpers: money with thousands separators and its currency, dates as people say them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def money(value: Any, currency: str = "") -> str:
    """12345.6, "EUR" -> "EUR 12,346"; empty amounts read as a dash (dealgate.words.money)."""
    from dealgate.words import money as money_text

    return money_text(value, currency)


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
    """Two letters that tell people apart: 'Alice Smith' -> 'AS', 'Alice' -> 'AL', 'admin' -> 'AD'."""
    name = (user.get_full_name() or user.username) if user else ""
    parts = [p for p in name.split() if p[0].isalnum()] or name.split()
    if len(parts) >= 2:
        return (parts[0][0] + parts[-1][0]).upper()
    return parts[0][:2].upper() if parts else "?"


AVATAR_COLOURS = 8


@register.filter
def avatar_colour(user: Any) -> int:
    """One of eight background colours, fixed per person (so two 'AL's still differ)."""
    return (user.pk or 0) % AVATAR_COLOURS if user else 0


@register.filter
def day_time(value: Any) -> str:
    """A moment as every page shows it: '8 Dec, 14:05' (local time)."""
    if not value:
        return ""
    from dealgate.words import day as day_text

    local = timezone.localtime(value) if isinstance(value, dt.datetime) and timezone.is_aware(value) else value
    return f"{day_text(local)}, {local:%H:%M}"


@register.filter
def day(value: Any) -> str:
    """The one date format of every page: '8 Dec' this year, '3 Feb 2027' otherwise (dealgate.words.day)."""
    from dealgate.words import day as day_text

    return day_text(value)


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@register.filter
def value_words(value: Any) -> Any:
    """A stored value as a person reads it: an ISO day ('2027-02-03', as the audit log keeps dates) in the
    pages' one date format; anything else unchanged."""
    if isinstance(value, str) and ISO_DAY.fullmatch(value):
        try:
            return day(dt.date.fromisoformat(value))
        except ValueError:
            return value
    return value


@register.filter
def words(key: Any) -> str:
    """decision_maker -> decision maker."""
    return str(key or "").replace("_", " ").replace("-", " ")


@register.filter
def eq(value: Any, other: Any) -> bool:
    """{% with mine=error_action|eq:'stage' %}: `with` takes no comparison of its own."""
    return value == other
