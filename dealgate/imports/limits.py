"""The limits a CSV import holds its cells to: the same as the API's schemas and the deal services.

The API (dealgate/api/schemas.py `Day`, `Moment`, `Money`) refuses dates outside 1900-2999,
amounts outside 0-999,999,999,999.99 and currencies that are not ISO 4217 codes
(dealgate/deals/currencies.py); an import refuses the same cells, with a row error, instead of
storing a value the API would not accept.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dealgate.deals.currencies import is_currency_code

# Dates far outside a sales horizon only ever come from typos or fuzzers; keep them out of the
# database (9999-12-31 also overflows date arithmetic in analytics). A moment keeps a day inside
# the bounds in every time zone, so converting it never leaves the range of dates. These are the
# API schemas' bounds (`Day`, `Moment`).
EARLIEST_DAY = dt.date(1900, 1, 1)
LATEST_DAY = dt.date(2999, 12, 31)
EARLIEST_MOMENT = dt.datetime(1900, 1, 2, tzinfo=dt.timezone.utc)
LATEST_MOMENT = dt.datetime(2999, 12, 30, tzinfo=dt.timezone.utc)

AMOUNT_LIMIT = Decimal("1e12")  # exclusive: the column holds 12 digits before the point
AMOUNT_LIMIT_TEXT = "999,999,999,999.99"


def moment_problem(value: dt.datetime) -> str | None:
    """Why a date and time is refused, or None (naive values are compared as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
    # The year test first: comparing 0001-01-01 in a zone east of UTC would overflow.
    if not EARLIEST_DAY.year <= value.year <= LATEST_DAY.year or not EARLIEST_MOMENT <= aware <= LATEST_MOMENT:
        return f"must be between {EARLIEST_MOMENT:%Y-%m-%d} and {LATEST_MOMENT:%Y-%m-%d}"
    return None


def amount_problem(amount: Decimal) -> str | None:
    if amount < 0:
        return "cannot be negative"
    if amount >= AMOUNT_LIMIT:
        return f"is too large (at most {AMOUNT_LIMIT_TEXT})"
    return None


def currency_problem(code: str) -> str | None:
    """Why a currency code is refused, or None; `code` is expected upper-case already."""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        return "is not a three-letter currency code such as EUR"
    if not is_currency_code(code):
        return "is not an ISO 4217 currency code (such as EUR, USD, GBP)"
    return None
