"""Writes for users and teams.

`by` is the acting user: when given it must be an admin (the settings pages pass it); None means
the system itself (demo data, imports, tests), as in the deal services. Users are never deleted:
stage history, activities and approvals name them. An admin deactivates them instead.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q

from dealgate.audit.services import record, record_changes
from dealgate.errors import NotAllowed, ValidationFailed
from dealgate.inputs import storable_text
from dealgate.people.access import role_of
from dealgate.people.models import Profile, Role, Team


def _require_admin(by: Any) -> None:
    if by is not None and role_of(by) != Role.ADMIN:
        raise NotAllowed("Only an administrator may manage users and teams.")


def _team_name(name: Any, *, excluding: Team | None = None) -> str:
    name = storable_text(name or "", "name").strip()
    if not name:
        raise ValidationFailed.for_field("name", "is required")
    if len(name) > Team._meta.get_field("name").max_length:
        raise ValidationFailed.for_field("name", "must be at most 100 characters")
    taken = Team.objects.filter(name__iexact=name)
    if excluding is not None:
        taken = taken.exclude(pk=excluding.pk)
    if taken.exists():
        raise ValidationFailed.for_field("name", f"a team called {name!r} already exists")
    return name


@transaction.atomic
def create_team(*, name: str, manager: Any = None, by: Any = None) -> Team:
    _require_admin(by)
    team = Team.objects.create(name=_team_name(name), manager=manager)
    record(team, "created", by=by)
    return team


@transaction.atomic
def rename_team(team: Team, *, name: Any, by: Any) -> Team:
    _require_admin(by)
    old_name = Team.objects.filter(pk=team.pk).values_list("name", flat=True).first()
    team.name = _team_name(name, excluding=team)
    team.save(update_fields=["name"])
    record_changes(team, [("name", old_name, team.name)], by=by)
    return team


def _role(role: Any) -> str:
    if role not in Role.values:
        raise ValidationFailed.for_field("role", f"{role!r} is not one of {', '.join(Role.values)}")
    return role


def _apply_role(user: Any, role: str) -> None:
    """Admins get Django's staff and superuser flags (the /admin/ site); nobody else keeps them."""
    user.is_staff = user.is_superuser = role == Role.ADMIN


def _sync_team_manager(user: Any, role: str, team: Team | None, old_team: Team | None = None) -> None:
    """A manager becomes the manager of a team that has none; leaving a team or the role hands it back."""
    if old_team is not None and old_team.manager_id == user.pk and (old_team != team or role != Role.MANAGER):
        old_team.manager = None
        old_team.save(update_fields=["manager"])
    if role == Role.MANAGER and team is not None and team.manager_id is None:
        team.manager = user
        team.save(update_fields=["manager"])


def _keep_an_admin(user: Any, field: str, doing: str) -> None:
    """Refuse the change that would leave no active admin: nobody could manage users any more."""
    if not user.is_active or role_of(user) != Role.ADMIN:
        return
    # Lock every active admin's row, this one included: two admins demoting each other at once
    # then run one after the other, and the second sees the first's change.
    admins = get_user_model().objects.select_for_update(of=("self",)).filter(is_active=True).filter(
        Q(is_superuser=True) | Q(profile__role=Role.ADMIN))
    if not any(pk != user.pk for pk in admins.values_list("pk", flat=True)):
        raise ValidationFailed.for_field(field, f"{user.username} is the only active administrator; "
                                                f"make someone else an administrator before {doing}")


@transaction.atomic
def create_user(*, username: str, password: str | None, role: str = Role.REP, team: Team | None = None,
                first_name: str = "", last_name: str = "", email: str = "", by: Any = None) -> Any:
    """A new user. Without a password the account cannot sign in until one is set (imports, demo)."""
    _require_admin(by)
    User = get_user_model()
    username = (username or "").strip()
    if not username:
        raise ValidationFailed.for_field("username", "is required")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise ValidationFailed.for_field("username", " ".join(exc.messages)) from None
    role = _role(role)
    if User.objects.filter(username=username).exists():
        raise ValidationFailed.for_field("username", f"{username!r} is taken")
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationFailed.for_field("email", f"{email!r} is not an email address") from None
    first_name, last_name = (storable_text(v or "", f).strip() for v, f in ((first_name, "first_name"), (last_name, "last_name")))
    user = User(username=username, first_name=first_name, last_name=last_name,
                email=email)
    _apply_role(user, role)
    if password:
        if by is not None:  # a person chose it: hold it to the site's password rules
            try:
                password_validation.validate_password(password, user)
            except ValidationError as exc:
                raise ValidationFailed.for_field("password", " ".join(exc.messages)) from None
        user.set_password(password)
    elif by is not None:
        raise ValidationFailed.for_field("password", "is required: the user signs in with it the first time")
    else:
        user.set_unusable_password()
    user.save()
    Profile.objects.create(user=user, team=team, role=role)
    _sync_team_manager(user, role, team)
    record(user, "created", by=by, field="role", after=role, note=f"team: {team.name}" if team else "")
    return user


@transaction.atomic
def update_user_role(user: Any, *, role: Any, team: Team | None, by: Any) -> Any:
    """Change what a user may do (role) and whose deals they share (team)."""
    _require_admin(by)
    role = _role(role)
    profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
    if role != Role.ADMIN:
        _keep_an_admin(user, "role", "changing this role")
    old_team, old_role = profile.team, profile.role
    profile.role, profile.team = role, team
    profile.save(update_fields=["role", "team"])
    record_changes(user, [("role", old_role, role), ("team", old_team, team)], by=by)
    _apply_role(user, role)
    user.save(update_fields=["is_staff", "is_superuser"])
    _sync_team_manager(user, role, team, old_team)
    return user


@transaction.atomic
def set_active(user: Any, active: bool, *, by: Any) -> Any:
    """Deactivate (cannot sign in, API tokens refused) or reactivate a user; their history stays."""
    _require_admin(by)
    if not active:
        if by is not None and user.pk == by.pk:
            raise ValidationFailed.for_field("active", "you cannot deactivate yourself")
        _keep_an_admin(user, "active", "deactivating them")
    was_active = user.is_active
    user.is_active = bool(active)
    user.save(update_fields=["is_active"])
    record_changes(user, [("active", was_active, user.is_active)], by=by)
    return user
