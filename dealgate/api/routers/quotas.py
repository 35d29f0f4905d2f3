"""Quotas per owner or team and period: list, set (PUT, replacing the one there was), remove.

The same service as the settings page and `dealgate quota` (dealgate.analytics.services): an admin
sets any quota, a manager their team's and its reps', a rep none (403); everyone reads their own.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.contrib.auth import get_user_model
from ninja import Field, Router, Schema

from dealgate.analytics.models import Quota
from dealgate.analytics.services import remove_quota, set_quota, visible_quotas
from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.lookups import MAX_ID
from dealgate.api.schemas import AmountText, Currency, InputSchema, Money, PeriodText
from dealgate.errors import NotFound, ValidationFailed
from dealgate.people.models import Team

router = Router(tags=["quotas"])

Name = Annotated[str, Field(min_length=1, max_length=150, pattern=r"^[^\x00]*$")]


class QuotaOut(Schema):
    id: int
    period: str = Field(description="2026-Q4 (quarter), 2026-11 (month) or 2026 (year).")
    owner: str | None = Field(description="Owner's username; null for a team's quota.")
    team: str | None = Field(description="Team name; null for an owner's quota.")
    amount: AmountText
    currency: str

    @staticmethod
    def resolve_period(row: Quota) -> str:
        return row.period_label

    @staticmethod
    def resolve_owner(row: Quota) -> str | None:
        return row.user.username if row.user_id else None

    @staticmethod
    def resolve_team(row: Quota) -> str | None:
        return row.team.name if row.team_id else None

    @staticmethod
    def resolve_amount(row: Quota) -> str:
        return format(row.amount, "f")


class QuotaIn(InputSchema):
    """One of `owner` and `team`; setting a quota that exists for them and the period replaces it."""

    owner: Name | None = Field(None, description="Owner's username.")
    team: Name | None = Field(None, description="Team name.")
    period: PeriodText
    amount: Money = Field(description="What to win in the period, >= 0.")
    currency: Currency | None = Field(None, description="Default: the company's currency.")


def _target(payload: QuotaIn) -> dict[str, Any]:
    """The named owner and team (the service refuses both, or neither)."""
    target: dict[str, Any] = {"owner": None, "team": None}
    if payload.owner is not None:
        target["owner"] = get_user_model().objects.filter(username=payload.owner).first()
        if target["owner"] is None:
            raise ValidationFailed.for_field("owner", f"no user {payload.owner!r}")
    if payload.team is not None:
        target["team"] = Team.objects.filter(name=payload.team).first()
        if target["team"] is None:
            raise ValidationFailed.for_field("team", f"no team {payload.team!r}")
    return target


@router.get("", response={200: list[QuotaOut], **ERRORS},
            summary="Quotas you may read (an admin all, a manager their team's, a rep their own)")
def list_quotas(request, period: PeriodText | None = None):
    return list(visible_quotas(request.auth, period))


@router.put("", response={200: QuotaOut, **WRITE_ERRORS}, summary="Set the quota of an owner or a team for a period")
def put_quota(request, payload: QuotaIn):
    quota = set_quota(**_target(payload), period=payload.period, amount=payload.amount, currency=payload.currency,
                      by=request.auth)
    return Quota.objects.select_related("user", "team").get(pk=quota.pk)


@router.delete("/{int:quota_id}", response={204: None, **WRITE_ERRORS}, summary="Remove a quota")
def delete_quota(request, quota_id: int):
    quota = visible_quotas(request.auth).filter(pk=quota_id).first() if 0 < quota_id <= MAX_ID else None
    if quota is None:
        raise NotFound(f"No quota {quota_id}.", details={"quota": quota_id})
    remove_quota(quota, by=request.auth)
    return 204, None
