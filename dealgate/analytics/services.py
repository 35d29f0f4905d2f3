"""The writes analytics offers: adopting a learned stage probability (audited, reversible), and
setting or removing quotas (audited).

Who may set a quota: an admin anyone's and any team's; a manager their own team's and the reps' on
their team (not their own: their admin sets it); a rep nobody's. `by=None` is the system (the CLI
without --user, demo data, tests). See docs/decisions/ for why.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from dealgate.analytics.models import ProbabilityAdoption, Quota
from dealgate.analytics.periods import Period, parse_period
from dealgate.audit.services import record, record_changes
from dealgate.errors import Conflict, NotAllowed, ValidationFailed
from dealgate.people.access import role_of, team_id_of
from dealgate.people.models import Role, Team
from dealgate.pipelines.models import Stage


@transaction.atomic
def adopt_probability(stage: Stage, probability: int, *, by: Any, sample_closed: int = 0, sample_won: int = 0,
                      reverts: ProbabilityAdoption | None = None) -> ProbabilityAdoption:
    """Write `probability` into an open stage's default and keep the old value in an audit row."""
    if by is not None and role_of(by) != "admin":
        raise NotAllowed("Only an admin may change a stage's probability.")
    if not 0 <= int(probability) <= 100:
        raise ValidationFailed.for_field("probability", "must be between 0 and 100")
    locked = Stage.objects.select_for_update().get(pk=stage.pk)
    if locked.kind != "open":
        raise ValidationFailed.for_field("stage", f"{locked.name} is a closed stage; its probability is fixed")
    audit = ProbabilityAdoption.objects.create(
        stage=locked, old_probability=locked.probability, new_probability=int(probability),
        sample_closed=sample_closed, sample_won=sample_won, reverts=reverts, by=by,
    )
    record(locked, "changed", by=by, field="probability", before=locked.probability, after=int(probability),
           note="reverted an adoption" if reverts else "adopted the learned probability")
    locked.probability = int(probability)
    locked.save(update_fields=["probability"])
    stage.probability = locked.probability
    return audit


def revert_adoption(adoption: ProbabilityAdoption, *, by: Any) -> ProbabilityAdoption:
    """Put the stage back to the value it had before `adoption` (itself recorded)."""
    return adopt_probability(adoption.stage, adoption.old_probability, by=by, reverts=adoption)


# -- quotas -----------------------------------------------------------------------------------


def may_set_quota(by: Any, *, owner: Any = None, team: Team | None = None) -> bool:
    """Whether `by` may set or remove the quota of `owner` or `team` (None: the system may)."""
    if by is None:
        return True
    role = role_of(by)
    if role == Role.ADMIN:
        return True
    own_team = team_id_of(by)
    if role != Role.MANAGER or own_team is None:
        return False
    if team is not None:
        return team.pk == own_team
    return owner is not None and owner.pk != by.pk and role_of(owner) == Role.REP and team_id_of(owner) == own_team


def may_manage_quotas(user: Any) -> bool:
    """Whether the quota settings (page, API writes) are for this user at all: admins and managers."""
    return role_of(user) in (Role.ADMIN, Role.MANAGER)


def visible_quotas(user: Any, period: Period | str | None = None) -> QuerySet:
    """The quotas a user may read (of those starting inside `period`, if given): an admin and the
    system (None) all; anyone else their own, and a manager their team's and its members'."""
    rows = Quota.objects.select_related("user__profile", "team").order_by(
        "-period_start", "months", "team__name", "user__username")
    if period:
        period = _period(period)
        rows = rows.filter(period_start__gte=period.start.date(), period_start__lt=period.end.date())
    role = role_of(user)
    if user is None or role == Role.ADMIN:
        return rows
    if not role:
        return rows.none()
    mine = Q(user_id=user.pk)
    if role == Role.MANAGER and team_id_of(user) is not None:
        mine |= Q(team_id=team_id_of(user)) | Q(user__profile__team_id=team_id_of(user))
    return rows.filter(mine)


def check_quota_target(owner: Any, team: Team | None) -> None:
    """One of owner and team, and an owner who can still sign in; else ValidationFailed."""
    if (owner is None) == (team is None):
        raise ValidationFailed("Give an owner or a team (one of them).",
                               details={"owner": ["give an owner or a team"]})
    if owner is not None and not owner.is_active:
        raise ValidationFailed.for_field("owner", f"{owner.username} is deactivated")


def _period(period: Period | str) -> Period:
    return period if isinstance(period, Period) else parse_period(str(period or ""))


def find_quota(*, owner: Any = None, team: Team | None = None, period: Period | str) -> Quota | None:
    """The quota set for exactly this owner or team and period, or None."""
    check_quota_target(owner, team)
    period = _period(period)
    rows = Quota.objects.select_related("user", "team").filter(period_start=period.start.date(), months=period.months)
    return rows.filter(user=owner).first() if owner is not None else rows.filter(team=team).first()


@transaction.atomic
def set_quota(*, owner: Any = None, team: Team | None = None, period: Period | str, amount: Any,
              currency: Any = None, by: Any) -> Quota:
    """Set the quota of an owner or a team for a period (2026-Q4, 2026-11, 2026), replacing the one
    there was. The amount is >= 0; the currency defaults to the company's."""
    from dealgate.deals.services import parse_amount, parse_currency

    check_quota_target(owner, team)
    if not may_set_quota(by, owner=owner, team=team):
        raise NotAllowed("Only an admin, or the manager of the team, may set this quota.")
    period = _period(period)
    value = parse_amount(amount)
    if value is None:
        raise ValidationFailed.for_field("amount", "is required")
    code = parse_currency(currency)
    where = {"user": owner} if owner is not None else {"team": team}
    quota = Quota.objects.select_for_update().filter(
        period_start=period.start.date(), months=period.months, **where).first()
    if quota is None:
        try:
            with transaction.atomic():
                quota = Quota.objects.create(period_start=period.start.date(), months=period.months, amount=value,
                                             currency=code, **where)
        except IntegrityError:  # set by someone else between the look-up and the insert
            raise Conflict("This quota was set by someone else just now; reload and try again.") from None
        record(quota, "created", by=by, field="amount", after=f"{value} {code}")
        return quota
    before = (quota.amount, quota.currency)
    quota.amount, quota.currency = value, code
    quota.save(update_fields=["amount", "currency"])
    record_changes(quota, [("amount", before[0], value), ("currency", before[1], code)], by=by)
    return quota


@transaction.atomic
def remove_quota(quota: Quota, *, by: Any) -> None:
    if not may_set_quota(by, owner=quota.user, team=quota.team):
        raise NotAllowed("Only an admin, or the manager of the team, may remove this quota.")
    record(quota, "deleted", by=by, field="amount", before=f"{quota.amount} {quota.currency}")
    quota.delete()
