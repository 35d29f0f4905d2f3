"""Writes for API tokens: create (the secret is returned once, never stored), revoke, mark used."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from dealgate.api.models import ApiToken
from dealgate.audit.services import record
from dealgate.errors import NotFound, ValidationFailed
from dealgate.inputs import storable_text

TOKEN_PREFIX = "dg_"
# Writing last_used on every request would turn each read into a write; a minute is precise enough.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(*, user: Any, name: str) -> tuple[ApiToken, str]:
    """Return the token row and its secret. The secret exists only in this return value."""
    name = storable_text(name or "", "name").strip()
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    if len(name) > 100:
        raise ValidationFailed.for_field("name", "is longer than 100 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=secret[:10], hash=hash_token(secret))
        record(token, "created", by=user, note=f"prefix {token.prefix}")
    return token, secret


def revoke_token(token_id: int, *, by: Any) -> ApiToken:
    """Users revoke their own tokens; a token of someone else is reported as not found."""
    token = ApiToken.objects.filter(pk=token_id, user=by).first() if 0 < token_id < 2**63 else None
    if token is None:
        raise NotFound(f"No API token {token_id} of yours.", details={"token": token_id})
    if token.revoked_at is None:
        with transaction.atomic():
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record(token, "revoked", by=by, note=f"prefix {token.prefix}")
    return token


def user_for_token(secret: str) -> Any | None:
    """The active user a bearer token belongs to, or None; records when the token was last used."""
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    token = (ApiToken.objects.select_related("user", "user__profile")
             .filter(hash=hash_token(secret), revoked_at__isnull=True, user__is_active=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
