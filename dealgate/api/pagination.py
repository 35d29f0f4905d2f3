"""Keyset (cursor) pagination: stable under inserts, and as fast on page 1,000 as on page 1.

A cursor is the sort key of the last row served, base64-encoded so clients treat it as opaque.
Rows are served newest first on (time field, id); the id breaks ties between equal times.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from django.db.models import Q, QuerySet

from dealgate.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, dt.datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != size or not isinstance(values[-1], int):
            raise ValueError
        if size == 2:
            values[0] = dt.datetime.fromisoformat(values[0])
            if values[0].tzinfo is None:
                raise ValueError
        return values
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed.for_field(
            "cursor", "is not a cursor this API gave out; start again without one") from None


def paginate(queryset: QuerySet, *, cursor: str | None, limit: int, time_field: str | None) -> tuple[list[Any], str | None]:
    """One page of `queryset` newest first, and the cursor of the next page (None after the last)."""
    keys = [time_field, "id"] if time_field else ["id"]
    queryset = queryset.order_by(*[f"-{k}" for k in keys])
    if cursor:
        values = _decode_cursor(cursor, len(keys))
        if time_field:
            queryset = queryset.filter(Q(**{f"{time_field}__lt": values[0]})
                                       | Q(**{time_field: values[0], "id__lt": values[1]}))
        else:
            queryset = queryset.filter(id__lt=values[0])
    rows = list(queryset[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]
    return rows, encode_cursor([getattr(last, k) for k in keys])
