"""Dated exchange rates (issue 14: one company-currency total on the board; issue 15 §4: convert
instead of leaving deals out). Decision 035 says which date's rate applies where.

A rate is what one unit of a foreign currency is worth in the company currency, effective from a
day until the next rate of that currency. Only admins write them (`set_rate`, `remove_rate`: the
settings page, `/api/exchange-rates`, `dealgate rates`), each audited. Everything that converts
loads the whole table once (`rate_table`, a handful of rows) and looks rates up in memory, or
turns them into one SQL CASE expression (`convert_sql`).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dealgate.audit.services import record, record_changes
from dealgate.errors import Conflict, NotAllowed, ValidationFailed
from dealgate.people.access import role_of
from dealgate.people.models import Role

MIN_RATE = Decimal("0.000001")
MAX_RATE = Decimal("1000000")
EARLIEST_RATE_DATE = dt.date(1990, 1, 1)
FUTURE_DAYS = 366  # a rate may be entered up to a year ahead; it applies from its day on

# ((currency, ((effective_from ISO, rate text), ... oldest first)), ...): hashable, so a Scope holding
# it stays a cache key (dealgate.analytics.cache).
RateTable = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
_CODE = re.compile(r"[A-Z]{3}")


def may_set_rates(user: Any) -> bool:
    """Admins (and the system, None) set exchange rates: they move every total, like a stage's
    probability, so they are an installation setting (decision 035)."""
    return user is None or role_of(user) == Role.ADMIN


def parse_rate(value: Any, field: str = "rate") -> Decimal:
    """A positive decimal between MIN_RATE and MAX_RATE written with the digits 0-9."""
    text = "" if value is None or isinstance(value, bool) else str(value).strip()
    if not text:
        raise ValidationFailed.for_field(field, "is required")
    if not text.isascii():
        raise ValidationFailed.for_field(field, f"{value!r} is not a number; use the digits 0-9")
    if len(text) > 40:
        raise ValidationFailed.for_field(field, "is not a number (too long)")
    try:
        rate = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed.for_field(field, f"{value!r} is not a number") from None
    if not rate.is_finite():
        raise ValidationFailed.for_field(field, f"{value!r} is not a number")
    if rate <= 0:
        raise ValidationFailed.for_field(field, "must be more than 0")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ValidationFailed.for_field(field, f"must be between {MIN_RATE} and {MAX_RATE:,}")
    if rate != rate.quantize(Decimal("1e-10")):
        raise ValidationFailed.for_field(field, "has more than 10 decimal places")
    return rate


def parse_rate_currency(value: Any) -> str:
    """An ISO 4217 code other than the company's ("usd" reads as USD); required."""
    from dealgate.deals.services import parse_currency

    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed.for_field("currency", "is required")
    code = parse_currency(value)
    if code == settings.DEALGATE_CURRENCY:
        raise ValidationFailed.for_field(
            "currency", f"{code} is the company currency; its rate is always 1. Enter rates of other currencies.")
    return code


def parse_rate_date(value: Any, field: str = "date") -> dt.date:
    """YYYY-MM-DD between 1990-01-01 and a year from today; required."""
    from dealgate.deals.services import parse_date

    day = parse_date(value, field)
    if day is None:
        raise ValidationFailed.for_field(field, "is required (YYYY-MM-DD)")
    latest = timezone.localdate() + dt.timedelta(days=FUTURE_DAYS)
    if not EARLIEST_RATE_DATE <= day <= latest:
        raise ValidationFailed.for_field(field, f"{day.isoformat()} is outside {EARLIEST_RATE_DATE.isoformat()} "
                                                f"to {latest.isoformat()} (a year from today)")
    return day


def visible_rates():
    """Every rate, by currency and newest first. Everyone signed in may read them: they explain totals."""
    from dealgate.analytics.models import ExchangeRate

    return ExchangeRate.objects.order_by("currency", "-effective_from")


def find_rate(currency: Any, effective_from: Any):
    from dealgate.analytics.models import ExchangeRate

    return ExchangeRate.objects.filter(currency=parse_rate_currency(currency),
                                       effective_from=parse_rate_date(effective_from)).first()


@transaction.atomic
def set_rate(*, currency: Any, rate: Any, effective_from: Any, by: Any):
    """Set the rate of a currency from a day on, replacing the one entered for that day."""
    from dealgate.analytics.models import ExchangeRate

    if not may_set_rates(by):
        raise NotAllowed("Only an administrator may set exchange rates.")
    code = parse_rate_currency(currency)
    day = parse_rate_date(effective_from)
    value = parse_rate(rate)
    row = ExchangeRate.objects.select_for_update().filter(currency=code, effective_from=day).first()
    if row is None:
        try:
            with transaction.atomic():
                row = ExchangeRate.objects.create(currency=code, effective_from=day, rate=value)
        except IntegrityError:  # entered by someone else between the look-up and the insert
            raise Conflict("This rate was set by someone else just now; reload and try again.") from None
        record(row, "created", by=by, field="rate", after=_text(value))
        return row
    before = row.rate
    row.rate = value
    row.save(update_fields=["rate"])
    record_changes(row, [("rate", _text(before), _text(value))], by=by)
    return row


@transaction.atomic
def remove_rate(row, *, by: Any) -> None:
    if not may_set_rates(by):
        raise NotAllowed("Only an administrator may remove exchange rates.")
    record(row, "deleted", by=by, field="rate", before=_text(row.rate))
    row.delete()


def _text(rate: Decimal) -> str:
    """0.9200000000 -> "0.92": the audit log shows the rate as it was typed."""
    return format(Decimal(rate).normalize(), "f")


# -- converting ----------------------------------------------------------------------------------


def rate_table(today: dt.date | None = None) -> RateTable:
    """Every rate in effect on or before `today` (default: today), in one query. Rates entered for
    a later day are not used until that day comes."""
    from dealgate.analytics.models import ExchangeRate

    today = today or timezone.localdate()
    table: dict[str, list[tuple[str, str]]] = {}
    for code, day, rate in ExchangeRate.objects.filter(effective_from__lte=today).order_by(
            "currency", "effective_from").values_list("currency", "effective_from", "rate"):
        table.setdefault(code, []).append((day.isoformat(), format(rate.normalize(), "f")))
    return tuple((code, tuple(rows)) for code, rows in table.items())


def rated_currencies(table: RateTable) -> set[str]:
    return {code for code, _ in table}


def rate_on(table: RateTable, currency: str, day: dt.date) -> Decimal | None:
    """The rate of `currency` on `day`: the latest effective on or before it; for a day before the
    currency's first rate, that first rate (decision 035). 1 for the company currency; None when the
    currency has no rate."""
    if currency == settings.DEALGATE_CURRENCY:
        return Decimal(1)
    entry = rate_entry(table, currency, day)
    return entry[0] if entry is not None else None


def rate_entry(table: RateTable, currency: str, day: dt.date) -> tuple[Decimal, dt.date] | None:
    """(rate, the day it is effective from) of `currency` on `day`, chosen as `rate_on` chooses, so a
    total can say which rate it used; None when the currency has no rate."""
    for code, rows in table:
        if code == currency:
            chosen = rows[0]
            for row in rows:
                if row[0] <= day.isoformat():
                    chosen = row
            return Decimal(chosen[1]), dt.date.fromisoformat(chosen[0])
    return None


def fixed_at(table: RateTable, day: dt.date) -> RateTable:
    """The table with one rate per currency, the one valid on `day`: figures that must add up (the
    waterfall) convert every amount at the same rate."""
    return tuple((code, (("0001-01-01", format(rate_on(table, code, day), "f")),)) for code, _ in table)


def as_of_day(cutoff: dt.datetime) -> dt.date:
    """The day a cutoff instant closes (cutoffs are the end of a day: midnight after it)."""
    return (cutoff - dt.timedelta(microseconds=1)).date()


def convert_sql(table: RateTable, amount: str, currency: str, *, day: dt.date | None = None,
                date_sql: str | None = None, open_sql: str | None = None, open_day: dt.date | None = None) -> str:
    """SQL: `amount` (integer cents in `currency`) in company-currency cents, rounded to the cent.

    The rate is that of `day` (one value per currency), or of the timestamp `date_sql` of each row;
    with `open_sql`, rows matching it take `open_day`'s rate instead (open deals at the as-of date,
    closed ones at their close). The company currency passes through unchanged; without rates the
    expression is `amount` itself."""
    if not table:
        return amount
    whens = []
    for code, rows in table:
        if not _CODE.fullmatch(code):
            raise ValueError(f"not a currency code: {code!r}")
        if day is not None:
            factor = _number(rate_on(table, code, day))
        else:
            ladder = " ".join(f"WHEN {date_sql} >= '{start}' THEN {_number(Decimal(rate))}"
                              for start, rate in reversed(rows[1:]))
            first = _number(Decimal(rows[0][1]))
            opened = f"WHEN {open_sql} THEN {_number(rate_on(table, code, open_day))} " if open_sql else ""
            factor = f"(CASE {opened}{ladder} ELSE {first} END)" if opened or ladder else first
        whens.append(f"WHEN '{code}' THEN CAST(ROUND({amount} * {factor}) AS BIGINT)")
    return f"(CASE {currency} {' '.join(whens)} ELSE {amount} END)"


def _number(rate: Decimal | None) -> str:
    """A rate as an SQL numeric literal (it came from the database's DecimalField: digits only)."""
    text = format(Decimal(rate), "f")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        raise ValueError(f"not a rate: {text!r}")
    return text
