"""CSV exports of deals, accounts, contacts, activities and stage history.

Each export is a generator of CSV text lines read from the database with `.iterator()`, so a
million rows stream out without being held in memory. The deal, account, contact and activity
columns are the ones the `generic` ready mappings read, so an export imports back unchanged.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from django.db.models import QuerySet

from dealgate import csv_safe
from dealgate.deals.models import Account, Activity, Contact, Deal, StageHistory

EXPORTS = ("deals", "accounts", "contacts", "activities", "history")
ITERATOR_CHUNK = 2000


def _status(kind: str) -> str:
    return kind if kind in ("won", "lost") else "open"


# name -> (columns as (header, queryset path), base queryset, per-row transforms)
SPECS: dict[str, tuple[list[tuple[str, str]], Callable[[], QuerySet], dict[str, Callable[[Any], Any]]]] = {
    "deals": ([
        ("id", "id"), ("external_id", "external_id"), ("title", "title"), ("account", "account__name"),
        ("account_external_id", "account__external_id"), ("owner", "owner__username"), ("pipeline", "pipeline__key"),
        ("stage", "stage__key"), ("status", "stage__kind"), ("amount", "amount"), ("currency", "currency"),
        ("expected_close_date", "expected_close_date"), ("created_at", "created_at"),
        ("stage_entered_at", "stage_entered_at"), ("closed_at", "closed_at"), ("lost_reason", "lost_reason__key"),
        ("lost_note", "lost_note"), ("source", "source"), ("forecast_category", "forecast_category"),
        ("probability_override", "probability_override"), ("next_step", "next_step"),
        ("next_step_due", "next_step_due"), ("last_activity_at", "last_activity_at"),
        ("close_date_slips", "close_date_slips"),
    ], lambda: Deal.objects.order_by("id"), {"status": _status}),
    "accounts": ([
        ("id", "id"), ("external_id", "external_id"), ("name", "name"), ("segment", "segment"),
        ("owner", "owner__username"), ("created_at", "created_at"),
    ], lambda: Account.objects.order_by("id"), {}),
    "contacts": ([
        ("id", "id"), ("external_id", "external_id"), ("name", "name"), ("email", "email"), ("phone", "phone"),
        ("title", "title"), ("account", "account__name"), ("account_external_id", "account__external_id"),
    ], lambda: Contact.objects.order_by("id"), {}),
    "activities": ([
        ("id", "id"), ("kind", "kind"), ("subject", "subject"), ("occurred_at", "occurred_at"),
        ("outcome", "outcome"), ("notes", "notes"), ("deal_id", "deal_id"), ("deal_external_id", "deal__external_id"),
        ("account", "account__name"), ("account_external_id", "account__external_id"), ("by", "by__username"),
    ], lambda: Activity.objects.order_by("id"), {}),
    "history": ([
        ("id", "id"), ("deal_id", "deal_id"), ("deal_external_id", "deal__external_id"), ("deal_title", "deal__title"),
        ("pipeline", "deal__pipeline__key"), ("from_stage", "from_stage__key"), ("to_stage", "to_stage__key"),
        ("kind", "kind"), ("at", "at"), ("by", "by__username"), ("amount", "amount"), ("currency", "currency"),
        ("probability", "probability"), ("override", "override"), ("override_reason", "override_reason"),
        ("imported", "imported"),
    ], lambda: StageHistory.objects.order_by("at", "id"), {}),
}


def csv_lines(kind: str, queryset: QuerySet | None = None) -> Iterator[str]:
    """The export as CSV lines: the header, then one line per row, read in chunks; text cells defused."""
    columns, base, transforms = SPECS[kind]
    rows = (queryset if queryset is not None else base()).values_list(*[path for _, path in columns])
    values = (
        [transforms[header](value) if header in transforms else value for (header, _), value in zip(columns, row)]
        for row in rows.iterator(chunk_size=ITERATOR_CHUNK))
    return csv_safe.csv_lines([header for header, _ in columns], values)
