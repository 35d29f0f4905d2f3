"""One row per change a person (or the system) made, written by the service that made it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from dealgate.audit.context import Surface
from dealgate.deals.models import AppendOnlyModel

__all__ = ["AuditEntry", "Surface"]


class AuditEntry(AppendOnlyModel):
    """Append-only, like stage history (decision 003): a wrong entry is corrected by a new one.

    `object_name` keeps the object's readable name as it was, so the log still reads when the
    object is renamed or deleted. One row per changed field; `field` is blank for whole-object
    actions (created, deleted).
    """

    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    surface = models.CharField(max_length=12, choices=Surface.choices, default=Surface.SYSTEM)
    object_type = models.CharField(max_length=30)
    object_id = models.BigIntegerField()
    object_name = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=30)
    field = models.CharField(max_length=60, blank=True)
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"]),
            models.Index(fields=["by", "at"]),
            models.Index(fields=["surface", "at"]),
            models.Index(fields=["at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.object_type} {self.object_id} {self.action}"
