"""Calendar periods ("2026-Q3", "2026-09", "2026") and the "as of" instant.

Every period is half-open [start, end) in UTC. "As of 2026-09-30" means everything recorded up to
the end of that day, so the cutoff instant is 2026-10-01 00:00 and queries use `at < cutoff`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dealgate.errors import ValidationFailed
from dealgate.inputs import EARLIEST_DATE, LATEST_DATE

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Period:
    label: str
    start: dt.datetime
    end: dt.datetime
    months: int

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    @property
    def last_day(self) -> dt.date:
        return (self.end - dt.timedelta(days=1)).date()

    def shifted(self, steps: int) -> "Period":
        """The period `steps` lengths later (negative: earlier)."""
        return month_period(*_add_months(self.start.year, self.start.month, steps * self.months), self.months)

    def contains(self, instant: dt.datetime) -> bool:
        return self.start <= instant < self.end


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def month_period(year: int, month: int, months: int = 1) -> Period:
    end_year, end_month = _add_months(year, month, months)
    if months == 1:
        label = f"{year:04d}-{month:02d}"
    elif months == 3:
        label = f"{year:04d}-Q{(month - 1) // 3 + 1}"
    elif months == 12:
        label = f"{year:04d}"
    else:
        label = f"{year:04d}-{month:02d}+{months}m"
    return Period(label, dt.datetime(year, month, 1, tzinfo=UTC), dt.datetime(end_year, end_month, 1, tzinfo=UTC), months)


def parse_period(text: str) -> Period:
    """'2026-Q3' (quarter), '2026-09' (month) or '2026' (year)."""
    value = (text or "").strip().upper()
    year = re.match(r"(\d{4})", value)
    if year and not 1900 <= int(year[1]) <= 2999:
        raise ValidationFailed.for_field("period", f"{text!r} is out of range; use a year from 1900 to 2999")
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", value):
        return month_period(int(m[1]), (int(m[2]) - 1) * 3 + 1, 3)
    if m := re.fullmatch(r"(\d{4})-(\d{2})", value):
        if 1 <= int(m[2]) <= 12:
            return month_period(int(m[1]), int(m[2]), 1)
    if m := re.fullmatch(r"(\d{4})", value):
        return month_period(int(m[1]), 1, 12)
    raise ValidationFailed.for_field("period", f"{text!r} is not a period; use 2026-Q3, 2026-09 or 2026")


def period_containing(day: dt.date, months: int) -> Period:
    first_month = (day.month - 1) // months * months + 1 if months in (1, 3, 12) else day.month
    return month_period(day.year, first_month, months)


def periods_between(first: str, last: str, months: int) -> list[Period]:
    """Consecutive periods of `months` from the one containing `first` to the one containing `last`."""
    start, stop = parse_period(first), parse_period(last)
    current = period_containing(start.start.date(), months)
    result = []
    while current.start < stop.end:
        result.append(current)
        current = current.shifted(1)
    return result


def page_now(now: dt.datetime | None = None) -> dt.datetime:
    """"As of now" for an insights page: now rounded up to the next whole minute.

    Every event written so far is before it, as with now itself; but two views in the same minute ask
    for the same figures, so the second one is served from the figure cache (dealgate.analytics.cache)
    unless something was written in between. With the exact instant every view computed everything again.
    """
    from django.utils import timezone

    now = now or timezone.now()
    floor = now.replace(second=0, microsecond=0)
    return floor if floor == now else floor + dt.timedelta(minutes=1)


def parse_as_of(value: str | dt.date | None, *, default: dt.datetime | None = None) -> dt.datetime:
    """The cutoff instant for "as of D": the end of day D (UTC). None: `default` or now."""
    if value is None or value == "":
        from django.utils import timezone

        return default or timezone.now()
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationFailed.for_field("as_of", f"{value!r} is not a date; use YYYY-MM-DD") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:  # the day after 9999-12-31 does not exist
        raise ValidationFailed.for_field("as_of", f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=UTC)
