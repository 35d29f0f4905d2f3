"""The demo company's people, teams and pipelines, created once and found again on later runs.

Users are created through `dealgate.people.services.create_user`; pipelines through
`dealgate.pipelines.services.create_pipeline_from_template`. Running the demo twice reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from dealgate.people.models import Role, Team
from dealgate.people.services import create_team, create_user
from dealgate.pipelines.models import LostReason, Pipeline
from dealgate.pipelines.services import create_pipeline_from_template, ensure_lost_reasons

DEMO_PASSWORD = "dealgate-demo"

# team name, pipeline template, share of accounts, manager, reps (username, how well they sell)
TEAMS: tuple[tuple[str, str, float, str, tuple[tuple[str, float], ...]], ...] = (
    ("Enterprise", "b2b-7", 0.35, "maria", (("alice", 1.08), ("bob", 0.93), ("chen", 1.0))),
    ("Mid-Market", "b2b-7", 0.40, "omar", (("diana", 1.12), ("erik", 0.9), ("fatima", 1.02))),
    ("Channel", "distributor-5", 0.25, "sofia", (("george", 1.05), ("hana", 0.95))),
)
ADMIN = "admin"

# Segments each team's accounts fall in, with the typical deal size (company currency).
SEGMENTS = {
    "Enterprise": (("Enterprise", 60_000), ("Mid-Market", 22_000)),
    "Mid-Market": (("Mid-Market", 18_000), ("SMB", 6_000)),
    "Channel": (("Distributor", 25_000), ("Wholesaler", 14_000), ("Retail chain", 40_000)),
}


@dataclass(frozen=True)
class DemoTeam:
    team: Team
    pipeline: Pipeline
    share: float
    manager: Any
    reps: tuple[Any, ...]
    skills: tuple[float, ...]
    segments: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Cast:
    admin: Any
    teams: tuple[DemoTeam, ...]

    def logins(self) -> list[tuple[str, str]]:
        """(username, role) of the users worth logging in as, the first rep first."""
        first = self.teams[0]
        return [(first.reps[0].username, Role.REP), (first.manager.username, Role.MANAGER), (self.admin.username, Role.ADMIN)]


def ensure_cast() -> Cast:
    """Create whatever part of the demo company is missing and return all of it."""
    with transaction.atomic():
        ensure_lost_reasons()
        created: list[int] = []
        admin = _ensure_user(ADMIN, Role.ADMIN, None, created)
        teams = []
        for name, template, share, manager_name, reps in TEAMS:
            team = Team.objects.filter(name=name).first() or create_team(name=name)
            manager = _ensure_user(manager_name, Role.MANAGER, team, created)
            rep_users = tuple(_ensure_user(username, Role.REP, team, created) for username, _ in reps)
            teams.append(DemoTeam(team, _ensure_pipeline(template), share, manager, rep_users,
                                  tuple(skill for _, skill in reps), SEGMENTS[name]))
        if created:
            # One PBKDF2 hash costs about 0.3 s; the demo has a dozen users who share one password,
            # so it is hashed once and given to every user created above.
            get_user_model().objects.filter(pk__in=created).update(password=make_password(DEMO_PASSWORD))
    return Cast(admin, tuple(teams))


def _ensure_user(username: str, role: str, team: Team | None, created: list[int]) -> Any:
    user = get_user_model().objects.select_related("profile").filter(username=username).first()
    if user is None:
        user = create_user(username=username, password=None, role=role, team=team,
                           first_name=username.capitalize(), email=f"{username}@dealgate.example")
        created.append(user.pk)
    return user


def _ensure_pipeline(template: str) -> Pipeline:
    found = Pipeline.objects.filter(key=template).first() or Pipeline.objects.filter(template=template).order_by("id").first()
    return found or create_pipeline_from_template(template)


def lost_reasons() -> list[LostReason]:
    return list(LostReason.objects.filter(active=True).order_by("key"))
