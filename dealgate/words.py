"""Words for people: counts whose nouns agree ("1 criterion", "3 criteria", "1,234 deals")."""

from __future__ import annotations


def plural(count: int, singular: str, many: str | None = None) -> str:
    """The count with thousands separators and the noun in the number it needs."""
    word = singular if count == 1 else (many or singular + "s")
    return f"{count:,} {word}"


def day(value: "dt.date | dt.datetime | None", today: "dt.date | None" = None) -> str:
    """A date as every page shows it: '8 Dec' this year, '3 Feb 2027' otherwise.

    The formats are the settings' MONTH_DAY_FORMAT and DATE_FORMAT (one place to change them for a locale).
    """
    import datetime as dt

    from django.utils import formats, timezone

    if not value:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localdate(value) if timezone.is_aware(value) else value.date()
    today = today or timezone.localdate()
    return formats.date_format(value, "MONTH_DAY_FORMAT" if value.year == today.year else "DATE_FORMAT")


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
