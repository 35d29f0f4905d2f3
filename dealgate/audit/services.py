"""The one way to write the audit log: `record(...)`, called by the service that made the change.

Zulip's pattern: the service that changes a row writes its audit row in the same transaction, so
a rolled-back change leaves no entry and a committed one always has its entry. No Django signals:
a reader sees every audit row by reading the service. The surface comes from the context
(dealgate.audit.context); bulk writers (imports, demo data) build entries with `entry(...)` and
insert them with `write_entries` in one statement per chunk.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

from django.db import models
from django.utils import timezone

from dealgate.audit.context import current_actor, current_surface
from dealgate.audit.models import AuditEntry

# Model name -> the object type the log shows; models not listed use their model name.
OBJECT_TYPES = {"apitoken": "token", "profile": "user", "lostreason": "lost reason", "customfield": "custom field"}
MAX_VALUE = 2000  # characters kept of a before/after value (criterion configs, guidance texts)


def object_type_of(obj: Any) -> str:
    name = obj._meta.model_name
    return OBJECT_TYPES.get(name, name)


def readable_name(obj: Any) -> str:
    """The name a person knows the object by: its name (an account, a contact, a stage), else a deal's
    title, a user's username, a criterion's label, else str(). The name comes first: a contact also
    has a `title`, their job title ("CFO")."""
    if getattr(obj, "_meta", None) is not None and obj._meta.model_name == "profile":
        obj = obj.user
    for attribute in ("name", "title", "username", "label"):
        value = getattr(obj, attribute, None)
        if isinstance(value, str) and value:
            return value[:200]
    return str(obj)[:200]


def as_text(value: Any) -> str:
    """A before/after value as the log shows it: blank for none, names for rows, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, models.Model):
        return readable_name(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)[:MAX_VALUE]


def entry(obj: Any, action: str, *, by: Any, field: str = "", before: Any = None, after: Any = None,
          note: str = "", at: dt.datetime | None = None, object_id: int | None = None,
          object_type: str | None = None, name: str | None = None) -> AuditEntry:
    """An unsaved entry; `by=None` falls back to the actor of the context (the importing user)."""
    actor = by if by is not None else current_actor()
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if obj is not None and getattr(obj._meta, "model_name", "") == "profile":
        obj = obj.user
    return AuditEntry(
        at=at or timezone.now(), by=actor, surface=current_surface(),
        object_type=object_type or object_type_of(obj), object_id=object_id if object_id is not None else obj.pk,
        object_name=name if name is not None else readable_name(obj), action=action, field=field,
        before=as_text(before), after=as_text(after), note=(note or "")[:500],
    )


def record(obj: Any, action: str, *, by: Any, field: str = "", before: Any = None, after: Any = None,
           note: str = "", at: dt.datetime | None = None) -> AuditEntry:
    """Write one entry now (one INSERT): call it inside the service's transaction."""
    row = entry(obj, action, by=by, field=field, before=before, after=after, note=note, at=at)
    row.save()
    return row


def record_changes(obj: Any, changes: Iterable[tuple[str, Any, Any]], *, by: Any, action: str = "changed",
                   at: dt.datetime | None = None) -> list[AuditEntry]:
    """One entry per (field, before, after) whose values differ, all in one INSERT."""
    at = at or timezone.now()
    rows = [entry(obj, action, by=by, field=field, before=before, after=after, at=at)
            for field, before, after in changes if as_text(before) != as_text(after)]
    return write_entries(rows)


def write_entries(rows: list[AuditEntry]) -> list[AuditEntry]:
    if rows:
        AuditEntry.objects.bulk_create(rows, batch_size=1000)
    return rows


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    """The values of `fields` before a change, to diff against afterwards with `changes_since`."""
    return {name: getattr(obj, name) for name in fields}


def changes_since(before: dict[str, Any], obj: Any) -> list[tuple[str, Any, Any]]:
    return [(name, old, getattr(obj, name)) for name, old in before.items()]
