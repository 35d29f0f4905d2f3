"""Typed readers for settings taken from the environment.

Each one refuses a bad value with a message naming the variable, so a misconfigured
installation fails at start-up instead of misbehaving later.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off.")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum of {minimum}.")
    return value


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envintlist(name: str, default: list[int], *, minimum: int | None = None) -> list[int]:
    """Comma-separated whole numbers, e.g. DEALGATE_WEBHOOK_RETRY_DELAYS=60,300,1800."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    try:
        values = [int(part) for part in raw.split(",")]
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a comma-separated list of whole numbers.") from None
    if minimum is not None and any(value < minimum for value in values):
        raise ImproperlyConfigured(f"{name}={raw!r} has a number below the minimum of {minimum}.")
    return values
