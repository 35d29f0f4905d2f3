"""Deals: list (filtered, cursor-paginated), read, create, update, and move through the gates."""

from __future__ import annotations

from typing import Annotated, Literal

from django.db import transaction
from django.db.models import Q
from ninja import Query, Router

from dealgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.lookups import (
    DEAL_RELATED,
    account_by_id,
    pipeline_by_key,
    user_by_username,
    visible_deal,
)
from dealgate.api.schemas import (
    DealChangedOut,
    DealCreateIn,
    DealOut,
    DealPage,
    DealUpdateIn,
    MoveIn,
    StageHistoryOut,
)
from dealgate.deals import services
from dealgate.deals.models import Deal, StageHistory
from dealgate.people.access import visible_deals

router = Router(tags=["deals"])
CLEARABLE = {"amount", "expected_close_date", "probability_override"}

SearchText = Annotated[str, Query(max_length=200, pattern=r"^[^\x00]*$")]
KeyParam = Annotated[str, Query(max_length=60, pattern=r"^[A-Za-z0-9_-]+$")]
Cursor = Annotated[str, Query(max_length=500, pattern=r"^[A-Za-z0-9_-]*$",
                              description="`next_cursor` from the previous page.")]


@router.get("", response={200: DealPage, **ERRORS}, summary="List deals the caller can see")
def list_deals(
    request,
    pipeline: KeyParam | None = None,
    stage: KeyParam | None = None,
    owner: Annotated[str, Query(max_length=150, pattern=r"^[^\x00]*$",
                                description="Owner's username, or `me`.")] | None = None,
    status: Literal["open", "won", "lost"] | None = None,
    search: SearchText | None = Query(None, description="Matches the title or the account name."),
    cursor: Cursor | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
):
    deals = visible_deals(request.auth).select_related(*DEAL_RELATED)
    if pipeline:
        deals = deals.filter(pipeline__key=pipeline)
    if stage:
        deals = deals.filter(stage__key=stage)
    if owner:
        deals = deals.filter(owner_id=request.auth.pk) if owner == "me" else deals.filter(owner__username=owner)
    if status:
        deals = deals.filter(stage__kind=status)
    if search:
        deals = deals.filter(Q(title__icontains=search) | Q(account__name__icontains=search))
    items, next_cursor = paginate(deals, cursor=cursor, limit=limit, time_field="created_at")
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{int:deal_id}", response={200: DealOut, **ERRORS}, summary="Get a deal")
def get_deal(request, deal_id: int):
    return visible_deal(request.auth, deal_id)


@router.post("", response={201: DealOut, **WRITE_ERRORS}, summary="Create a deal (in the pipeline's first stage, or a later one whose gates it meets)")
def create_deal(request, payload: DealCreateIn):
    fields = payload.dict(exclude={"account", "pipeline", "owner"})
    deal = services.create_deal(
        by=request.auth, account=account_by_id(payload.account), pipeline=pipeline_by_key(payload.pipeline),
        owner=user_by_username(payload.owner) if payload.owner else None,
        **{name: value for name, value in fields.items() if value is not None},
    )
    return 201, visible_deal(request.auth, deal.pk)


@router.patch("/{int:deal_id}", response={200: DealChangedOut, **WRITE_ERRORS}, summary="Change a deal's fields",
              description="Answers the deal as saved. A reassignment to another team's user takes the deal out of "
                          "the caller's view: the answer is still 200 with the saved deal, `visible: false` and a "
                          "`notice`; later calls on it answer 404. A refused part refuses the whole request.")
def update_deal(request, deal_id: int, payload: DealUpdateIn):
    deal = visible_deal(request.auth, deal_id)
    changes = payload.dict(exclude_unset=True)
    owner_name = changes.pop("owner", None)
    owner = user_by_username(owner_name) if owner_name else None
    # null clears a field that can be empty (amount, close date, probability override); for the
    # others it means "no change".
    changes = {name: value for name, value in changes.items() if value is not None or name in CLEARABLE}
    with transaction.atomic():  # a refused reassignment keeps the other changes of the request unsaved too
        if changes:
            services.update_deal(deal, by=request.auth, **changes)
        if owner is not None:
            services.reassign_deal(deal, owner, by=request.auth)
    return _as_changed(request.auth, deal_id)


def _as_changed(user, deal_id: int) -> Deal:
    """The saved deal, read past the caller's visibility: they just wrote it, and must learn what it became."""
    deal = Deal.objects.select_related(*DEAL_RELATED, "team").get(pk=deal_id)
    deal.visible = visible_deals(user).filter(pk=deal_id).exists()
    deal.notice = None if deal.visible else (
        f"Saved: deal {deal_id} now belongs to {deal.owner.username}"
        f"{f' (team {deal.team.name})' if deal.team_id else ''}, outside what you can see; "
        "further calls on it answer 404.")
    return deal


@router.post(
    "/{int:deal_id}/move", response={200: StageHistoryOut, **WRITE_ERRORS},
    summary="Move a deal to another stage",
    description=(
        "Applies the stage gates. A blocked move changes nothing and answers 409 with "
        "`{code: \"move_blocked\", details: {unmet: [{key, label, kind, missing, stage, phase}]}}`. "
        "A move whose `expected_stage` no longer matches answers 409 `conflict`. "
        "An `override_reason` forces a blocked move for managers and admins (403 for reps)."
    ),
)
def move_deal(request, deal_id: int, payload: MoveIn):
    deal = visible_deal(request.auth, deal_id)
    expected = services.resolve_stage(deal.pipeline, payload.expected_stage) if payload.expected_stage else None
    row = services.move_deal(
        deal, payload.stage, by=request.auth, override_reason=payload.override_reason,
        lost_reason=payload.lost_reason, lost_note=payload.lost_note, expected_stage=expected,
    )
    return StageHistory.objects.select_related("from_stage", "to_stage", "by").get(pk=row.pk)
