"""Teams and the role each user plays in Dealgate."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    REP = "rep", "Sales rep"
    MANAGER = "manager", "Sales manager"
    ADMIN = "admin", "Administrator"


class Profile(models.Model):
    """One per user: the team they sell in and their role (rep, manager, admin)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.REP)

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class LoginThrottle(models.Model):
    """Recent failed sign-ins for one username from one address.

    Kept in the database, not in a process's memory, so every web process behind the proxy counts
    the same failures. The key is a digest: the table holds no usernames or addresses.
    """

    key = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.failures} failed sign-ins since {self.window_started_at:%Y-%m-%d %H:%M}"
