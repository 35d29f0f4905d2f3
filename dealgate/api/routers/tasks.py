"""Tasks: list the ones the caller can see, create, change (rename, reschedule, tick off, reopen).

Access follows deals: a task on a deal is visible to whoever sees the deal and changed by its
assignee or whoever may change the deal. The schemas live here, beside their only endpoints.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Field, Query, Router, Schema

from dealgate.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from dealgate.api.routers import ERRORS, WRITE_ERRORS
from dealgate.api.routers.deals import Cursor
from dealgate.api.routers.lookups import MAX_ID, account_by_id, user_by_username, visible_deal
from dealgate.api.schemas import Day, InputSchema, RowId, Text
from dealgate.automation import services
from dealgate.automation.models import Task
from dealgate.errors import NotFound

router = Router(tags=["tasks"])


class TaskOut(Schema):
    id: int
    title: str
    deal: int | None
    account: int | None
    assignee: str
    due: dt.date
    done: bool
    done_at: dt.datetime | None
    overdue: bool = Field(description="Open and due before today.")
    created_at: dt.datetime
    created_by: str | None = Field(description="Username; null when an automation rule created it.")
    source_rule: int | None = Field(description="The automation rule that created it, if any.")

    @staticmethod
    def resolve_deal(row: Any) -> int | None:
        return row.deal_id

    @staticmethod
    def resolve_account(row: Any) -> int | None:
        return row.account_id

    @staticmethod
    def resolve_assignee(row: Any) -> str:
        return row.assignee.username

    @staticmethod
    def resolve_overdue(row: Any) -> bool:
        return not row.done and row.due < timezone.localdate()

    @staticmethod
    def resolve_created_by(row: Any) -> str | None:
        return row.created_by.username if row.created_by_id else None

    @staticmethod
    def resolve_source_rule(row: Any) -> int | None:
        return row.source_rule_id


class TaskPage(Schema):
    items: list[TaskOut]
    next_cursor: str | None


class TaskIn(InputSchema):
    title: Annotated[Text, Field(min_length=1, max_length=200)]
    due: Day
    deal: RowId | None = Field(None, description="Deal id; a task needs a deal or an account.")
    account: RowId | None = Field(None, description="Account id (for a task on no deal).")
    assignee: Annotated[Text, Field(max_length=150)] | None = Field(
        None, description="Username; defaults to the caller. Reps may assign only themselves or the deal's owner.")


class TaskUpdateIn(InputSchema):
    """Send only what changes."""

    title: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    due: Day | None = None
    done: bool | None = Field(None, description="true ticks the task off, false reopens it.")


RELATED = ("assignee", "created_by")


def _task(user: Any, task_id: int) -> Task:
    task = (services.visible_tasks(user).select_related("deal", *RELATED).filter(pk=task_id).first()
            if 0 < task_id <= MAX_ID else None)
    if task is None:
        raise NotFound(f"No task {task_id}.", details={"task": task_id})
    return task


@router.get("", response={200: TaskPage, **ERRORS}, summary="List tasks the caller can see, newest first")
def list_tasks(request, deal: RowId | None = None, assignee: Annotated[str, Query(max_length=150)] | None = None,
               status: Literal["open", "done", "all"] = "open", overdue: bool = False, cursor: Cursor | None = None,
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT):
    rows = services.visible_tasks(request.auth).select_related(*RELATED)
    if deal is not None:
        rows = rows.filter(deal_id=deal)
    if assignee:
        rows = rows.filter(assignee__username=assignee)
    if status != "all":
        rows = rows.filter(done=status == "done")
    if overdue:
        rows = rows.filter(done=False, due__lt=timezone.localdate())
    items, next_cursor = paginate(rows, cursor=cursor, limit=limit, time_field=None)
    return {"items": items, "next_cursor": next_cursor}


@router.post("", response={201: TaskOut, **WRITE_ERRORS}, summary="Create a task on a deal or an account")
def create_task(request, payload: TaskIn):
    deal = visible_deal(request.auth, payload.deal) if payload.deal is not None else None
    account = account_by_id(payload.account) if payload.account is not None and deal is None else None
    assignee = user_by_username(payload.assignee) if payload.assignee else None
    task = services.create_task(by=request.auth, title=payload.title, due=payload.due, deal=deal, account=account,
                                assignee=assignee)
    return 201, _task(request.auth, task.pk)


@router.patch("/{int:task_id}", response={200: TaskOut, **WRITE_ERRORS}, summary="Rename, reschedule, tick off or reopen a task")
def update_task(request, task_id: int, payload: TaskUpdateIn):
    task = _task(request.auth, task_id)
    changes = payload.dict(exclude_unset=True)
    if changes.get("title") is not None or changes.get("due") is not None:
        services.update_task(task, by=request.auth, title=changes.get("title"), due=changes.get("due"))
    if changes.get("done") is True:
        services.complete_task(task, by=request.auth)
    elif changes.get("done") is False:
        services.reopen_task(task, by=request.auth)
    return _task(request.auth, task_id)
