"""Personal API tokens: a user's key to the REST API, stored as a SHA-256 hash only."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """The secret is shown once at creation; we keep its hash (to check it) and prefix (to recognise it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'ERP sync'.")
    prefix = models.CharField(max_length=16, help_text="The token's first characters, shown in lists.")
    hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the whole token, hex.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
