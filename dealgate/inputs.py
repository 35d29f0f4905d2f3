"""What any input must be before Dealgate stores it or queries with it.

Two layers share these rules:

- Query-string parameters of pages (`?pipeline=`, `?q=`, `?as_of=`): the typed readers below
  (`query_int`, `query_text`, `query_date`) return a clean value or raise `BadParameter`, which
  the web answers as a 400 page naming the parameter (see `dealgate.web.middleware`).
- Text a person types into a form or sends to the API: services call `storable_text`, which
  raises `ValidationFailed` naming the field, shown next to it (web) or as a 422 (API).

The rules exist because the database, not Python, is where such input used to fail: PostgreSQL
refuses NUL characters in text, neither database stores lone surrogates, `int()` accepts
Unicode digits ("²", "１２") that the SQL driver then refuses, and integers past 64 bits overflow.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from dealgate.errors import BadParameter, ValidationFailed

# The largest id a query may carry: both databases use signed 64-bit integer keys.
MAX_ID = 2**63 - 1
# Longer than any name, title or search a person types; keeps a 1 MB parameter out of LIKE scans.
MAX_QUERY_TEXT = 200
# Dates a page may be asked about; analytics add months and years to them, so not 1-1-1 or 9999-12-31.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)


def unstorable_reason(text: str) -> str | None:
    """Why this text cannot be stored or searched for, or None when it can."""
    if "\x00" in text:
        return "contains a NUL character (\\x00), which cannot be stored"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "contains an unpaired surrogate, which is not valid Unicode text"
    return None


def storable_text(value: Any, field: str) -> str:
    """`value` as text, or ValidationFailed naming `field` when the database could not keep it."""
    text = "" if value is None else str(value)
    reason = unstorable_reason(text)
    if reason:
        raise ValidationFailed.for_field(field, reason)
    return text


def query_text(params: Mapping[str, Any], name: str, *, max_length: int = MAX_QUERY_TEXT) -> str:
    """A text parameter, stripped ("" when absent)."""
    text = str(params.get(name) or "").strip()
    reason = unstorable_reason(text)
    if reason:
        raise BadParameter.for_param(name, reason)
    if len(text) > max_length:
        raise BadParameter.for_param(name, f"is longer than {max_length} characters")
    return text


def parse_id(value: Any, name: str) -> int | None:
    """An id in plain ASCII digits, or None when blank; anything else is a BadParameter."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise BadParameter.for_param(name, f"{_shown(text)} is not an id (digits 0-9 only)")
    number = int(text)
    if number > MAX_ID:
        raise BadParameter.for_param(name, "is too large to be an id")
    return number


def query_int(params: Mapping[str, Any], name: str) -> int | None:
    return parse_id(params.get(name), name)


def query_date(params: Mapping[str, Any], name: str) -> dt.date | None:
    """A YYYY-MM-DD date between EARLIEST_DATE and LATEST_DATE, or None when absent."""
    text = query_text(params, name, max_length=10)
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text) if text.isascii() else None
    except ValueError:
        day = None
    if day is None:
        raise BadParameter.for_param(name, f"{_shown(text)} is not a date; use YYYY-MM-DD")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise BadParameter.for_param(name, f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return day


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")
