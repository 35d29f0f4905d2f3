"""Writes for users and teams."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from dealgate.errors import ValidationFailed
from dealgate.people.models import Profile, Role, Team


def create_team(*, name: str, manager: Any = None) -> Team:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    if Team.objects.filter(name=name).exists():
        raise ValidationFailed.for_field("name", f"a team called {name!r} already exists")
    return Team.objects.create(name=name, manager=manager)


@transaction.atomic
def create_user(*, username: str, password: str | None, role: str = Role.REP, team: Team | None = None,
                first_name: str = "", last_name: str = "", email: str = "") -> Any:
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationFailed.for_field("username", "is required")
    if role not in Role.values:
        raise ValidationFailed.for_field("role", f"{role!r} is not one of {', '.join(Role.values)}")
    if User.objects.filter(username=username).exists():
        raise ValidationFailed.for_field("username", f"{username!r} is taken")
    user = User(username=username, first_name=first_name, last_name=last_name, email=email,
                is_staff=role == Role.ADMIN, is_superuser=role == Role.ADMIN)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    Profile.objects.create(user=user, team=team, role=role)
    if role == Role.MANAGER and team is not None and team.manager_id is None:
        team.manager = user
        team.save(update_fields=["manager"])
    return user
