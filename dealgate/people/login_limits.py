"""Login attempts limited per username and client address, counted in the database.

After DEALGATE_LOGIN_MAX_FAILURES failed sign-ins for one username from one address within
DEALGATE_LOGIN_WINDOW_SECONDS, that pair is refused until the window ends, even with the right
password; a successful sign-in clears the count. Other users, and the same user from another
address, are not affected, so guessing at someone's password cannot lock them out everywhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dealgate.people.models import LoginThrottle


def throttle_key(username: str, address: str) -> str:
    return hashlib.sha256(f"{username.strip().lower()}\0{address}".encode()).hexdigest()


def window() -> dt.timedelta:
    return dt.timedelta(seconds=settings.DEALGATE_LOGIN_WINDOW_SECONDS)


def login_wait_seconds(username: str, address: str) -> int:
    """How long this username must wait before signing in from this address again (0: it may now)."""
    row = LoginThrottle.objects.filter(key=throttle_key(username, address)).first()
    if row is None or row.failures < settings.DEALGATE_LOGIN_MAX_FAILURES:
        return 0
    remaining = row.window_started_at + window() - timezone.now()
    return max(0, int(remaining.total_seconds()) + 1) if remaining.total_seconds() > 0 else 0


def record_failed_login(username: str, address: str) -> None:
    """Count one failure; a failure after the window ended starts a new window."""
    now = timezone.now()
    with transaction.atomic():
        row, created = LoginThrottle.objects.select_for_update().get_or_create(
            key=throttle_key(username, address), defaults={"failures": 1, "window_started_at": now})
        if created:
            return
        if row.window_started_at + window() <= now:
            LoginThrottle.objects.filter(pk=row.pk).update(failures=1, window_started_at=now)
        else:
            LoginThrottle.objects.filter(pk=row.pk).update(failures=F("failures") + 1)


def clear_failed_logins(username: str, address: str) -> None:
    LoginThrottle.objects.filter(key=throttle_key(username, address)).delete()


def client_address(request) -> str:
    """The address the request came from (behind a proxy: see docs/operations.md)."""
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""
