"""Words for people: counts whose nouns agree ("1 criterion", "3 criteria", "1,234 deals")."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator


def plural(count: int, singular: str, many: str | None = None) -> str:
    """The count with thousands separators and the noun in the number it needs."""
    word = singular if count == 1 else (many or singular + "s")
    return f"{count:,} {word}"


# The locale whose date formats `day` uses: the settings' LANGUAGE_CODE ("en": "8 Dec", "3 Feb 2027"),
# or per request the browser's (DateLocale middleware: en-US reads "Dec 8", "Feb 3, 2027"). Decision 033.
DATE_LOCALES = ("en", "en-us")
_date_locale: ContextVar[str | None] = ContextVar("dealgate_date_locale", default=None)


def date_locale_from(accept_language: str) -> str:
    """The date locale for an Accept-Language header: "en-us" when the browser's first choice is US
    English (its date picker then shows mm/dd/yyyy), otherwise "en" (day first, as most of the world)."""
    best, best_q = "", -1.0
    for part in str(accept_language or "")[:500].split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag.strip() and tag.strip() != "*" and q > 0 and q > best_q:  # q=0: not wanted; the first of equal weights wins
            best, best_q = tag.strip().lower(), q
    return "en-us" if best == "en-us" else "en"


@contextmanager
def dates_for(locale: str) -> Iterator[None]:
    """Format dates in `locale` (one of DATE_LOCALES) inside the block: a request, a test."""
    token = _date_locale.set(locale if locale in DATE_LOCALES else None)
    try:
        yield
    finally:
        _date_locale.reset(token)


def day(value: "dt.date | dt.datetime | None", today: "dt.date | None" = None) -> str:
    """A date as every page shows it: '8 Dec' this year, '3 Feb 2027' otherwise ('Dec 8', 'Feb 3, 2027'
    for a US browser).

    The formats are the locale's MONTH_DAY_FORMAT and DATE_FORMAT (dealgate/formats/<locale>/formats.py).
    """
    import datetime as dt

    from django.utils import dateformat, formats, timezone

    if not value:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    today = today or timezone.localdate()
    name = "MONTH_DAY_FORMAT" if value.year == today.year else "DATE_FORMAT"
    return dateformat.format(value, formats.get_format(name, lang=_date_locale.get()))


def day_span(first: "dt.date", last: "dt.date") -> str:
    """Days in one month or two, the year once: '23–29 Nov 2026', '30 Nov–6 Dec 2026'; in the en-us
    date locale 'Nov 23–29, 2026', 'Nov 30–Dec 6, 2026'."""
    if _date_locale.get() == "en-us":
        end = f"{last.day}" if first.month == last.month else f"{last:%b} {last.day}"
        return f"{first:%b} {first.day}–{end}, {last.year}"
    month = "" if first.month == last.month else f" {first:%b}"
    return f"{first.day}{month}–{last.day} {last:%b} {last.year}"


def full_day(value: "dt.date") -> str:
    """A date with its year in the same locale ('1 Jan 2026', 'Jan 1, 2026'): for a name that is stored
    (an audit row's object) and read in another year."""
    from django.utils import dateformat, formats

    return dateformat.format(value, formats.get_format("DATE_FORMAT", lang=_date_locale.get()))


def amount(value: "str | None") -> str:
    """A logged amount ('13600.00') with thousands separators and two decimals: '13,600.00'."""
    from decimal import Decimal, InvalidOperation

    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value or "")


def money(value: "float | int | str | None", currency: str = "") -> str:
    """12345.6, "EUR" -> "EUR 12,346" (whole units, thousands separators); empty amounts read as a dash."""
    from decimal import Decimal

    if value is None or value == "":
        return "—"
    return f"{currency} {Decimal(str(value)):,.0f}".strip()
