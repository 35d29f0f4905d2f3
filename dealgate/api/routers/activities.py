"""Activities (calls, emails, meetings, notes, tasks) on deals the caller can see, or on accounts."""

from __future__ import annotations

from typing import Annotated

from django.db.models import Q
from ninja import Query, Router

from dealgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.deals import Cursor
from dealgate.api.routers.lookups import account_by_id, visible_deal
from dealgate.api.schemas import ActivityIn, ActivityOut, ActivityPage, RowId
from dealgate.deals import services
from dealgate.deals.models import Activity, Contact
from dealgate.errors import ValidationFailed
from dealgate.people.access import visible_deals

router = Router(tags=["activities"])


def visible_activities(user):
    """Activities on deals the user can see, plus account activities that belong to no deal."""
    return Activity.objects.filter(Q(deal__isnull=True) | Q(deal__in=visible_deals(user).values("id")))


@router.get("", response={200: ActivityPage, **ERRORS}, summary="List activities, newest first")
def list_activities(request, deal: RowId | None = None, account: RowId | None = None, cursor: Cursor | None = None,
                    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT):
    rows = visible_activities(request.auth).select_related("by").prefetch_related("contacts")
    if deal is not None:
        rows = rows.filter(deal_id=deal)
    if account is not None:
        rows = rows.filter(account_id=account)
    items, next_cursor = paginate(rows, cursor=cursor, limit=limit, time_field="occurred_at")
    return {"items": items, "next_cursor": next_cursor}


@router.post("", response={201: ActivityOut, **WRITE_ERRORS}, summary="Log an activity on a deal or an account")
def log_activity(request, payload: ActivityIn):
    deal = visible_deal(request.auth, payload.deal) if payload.deal is not None else None
    account = account_by_id(payload.account) if payload.account is not None else None
    contacts = list(Contact.objects.filter(pk__in=payload.contacts))
    missing = sorted(set(payload.contacts) - {c.pk for c in contacts})
    if missing:
        raise ValidationFailed.for_field("contacts", f"no contact with id {', '.join(map(str, missing))}")
    activity = services.log_activity(
        by=request.auth, kind=payload.kind, subject=payload.subject, deal=deal, account=account,
        outcome=payload.outcome, notes=payload.notes, occurred_at=payload.occurred_at, contacts=contacts,
    )
    return 201, Activity.objects.select_related("by").prefetch_related("contacts").get(pk=activity.pk)
