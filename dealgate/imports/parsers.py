"""Reading CSV files and turning their text cells into typed values.

Row numbers are the ones a spreadsheet shows: the header is row 1, the first record row 2, so
a person can find every reported problem in the file they exported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Iterator
from zoneinfo import ZoneInfo

from dealgate.errors import ValidationFailed
from dealgate.imports.limits import amount_problem, moment_problem

# Large text cells (notes, descriptions) are normal in CRM exports.
csv.field_size_limit(10 * 1024 * 1024)


class CellError(ValueError):
    """A cell whose text is not a valid value; the message says why, in words."""


@dataclass
class Table:
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (row number as in the file, cells)


def open_table(source: IO[bytes] | IO[str] | str | bytes, *, delimiter: str | None = None,
               encoding: str = "utf-8-sig") -> Table:
    """Open a CSV (comma, semicolon or tab separated, sniffed from the header line)."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    if isinstance(source, str):
        source = open(source, "rb")  # noqa: SIM115 - closed when the iterator finishes
    text = source if isinstance(source, io.TextIOBase) else io.TextIOWrapper(source, encoding=encoding, newline="")
    try:
        first_line = text.readline()
    except UnicodeDecodeError:
        raise ValidationFailed.for_field(
            "file", f"is not {encoding} text; save it as CSV UTF-8 or set \"encoding\" in the mapping") from None
    if not first_line.strip():
        raise ValidationFailed.for_field("file", "is empty: the first row must name the columns")
    delimiter = delimiter or max((",", ";", "\t"), key=first_line.count)
    header = [h.strip() for h in next(csv.reader([first_line], delimiter=delimiter))]
    duplicates = sorted({h for h in header if h and header.count(h) > 1})
    if duplicates:
        raise ValidationFailed.for_field("file", f"the header names these columns twice: {', '.join(duplicates)}")
    return Table(header=header, rows=_numbered_rows(text, delimiter, encoding))


def _numbered_rows(text: IO[str], delimiter: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text, delimiter=delimiter)
    number = 1
    try:
        for cells in reader:
            number += 1
            if cells and any(c.strip() for c in cells):
                yield number, cells
    except UnicodeDecodeError:
        raise ValidationFailed.for_field("file", f"row {number + 1} is not {encoding} text") from None
    except csv.Error as exc:
        raise ValidationFailed.for_field("file", f"row {number + 1} cannot be read as CSV: {exc}") from None


# ---------------------------------------------------------------------------------------------
# Cell parsers: each returns a value or raises CellError with a reason a person can act on.

_CURRENCY_AFFIX = re.compile(r"^\s*([A-Za-z]{3}|[$€£¥])?\s*(.*?)\s*([A-Za-z]{3}|[$€£¥])?\s*$")
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}


def parse_money(text: str, decimal_separator: str = ".") -> tuple[Decimal, str | None]:
    """'12,500.00', 'USD 12500', '€1.250,50' (with ',' as decimal separator) -> (amount, currency or None)."""
    match = _CURRENCY_AFFIX.match(text)
    assert match is not None
    prefix, number, suffix = match.groups()
    code = prefix or suffix
    thousands = "," if decimal_separator == "." else "."
    number = number.replace(thousands, "").replace(" ", "").replace("\u00a0", "")
    if decimal_separator != ".":
        number = number.replace(decimal_separator, ".")
    try:
        # Decimal reads any script's digits ("１２", "٣"); the API and the forms take ASCII digits only.
        amount = Decimal("NaN") if _foreign_digits(number) else Decimal(number)
    except InvalidOperation:
        raise CellError("is not an amount (expected a number such as 12500.00)") from None
    if not amount.is_finite():
        raise CellError("is not an amount (expected a number such as 12500.00)")
    problem = amount_problem(amount)
    if problem:
        raise CellError(problem)
    return amount.quantize(Decimal("0.01")), (_SYMBOLS.get(code, code.upper()) if code else None)


class DateParser:
    """Tries the mapping's formats in order, then ISO 8601; naive values are in the mapping's zone."""

    def __init__(self, formats: list[str], zone: str):
        self.formats = formats
        self.zone = ZoneInfo(zone)
        # ISO text ("2026-03-15 10:00") cannot mean anything else unless a format reads year-day-month.
        self.iso_first = not any(f.startswith("%Y-%d") for f in formats)
        self.cache: dict[str, dt.datetime] = {}
        self.compiled = [(fmt, _numeric_pattern(fmt)) for fmt in formats]

    def datetime(self, text: str) -> dt.datetime:
        value = self.cache.get(text)
        if value is None:
            value = self._parse(text.strip())
            problem = moment_problem(value)
            if problem:  # the API's and the services' bounds (dealgate.imports.limits)
                raise CellError(problem)
            if len(self.cache) < 100_000:
                self.cache[text] = value
        return value

    def _parse(self, text: str) -> dt.datetime:
        if _foreign_digits(text):
            raise CellError("is not a date: write its digits as 0-9")
        if self.iso_first and len(text) >= 10 and text[4] == "-" and text[:4].isdigit():
            try:
                value = dt.datetime.fromisoformat(text)
                return value if value.tzinfo is not None else value.replace(tzinfo=self.zone)
            except ValueError:
                pass
        for fmt, pattern in self.compiled:
            try:
                value = _fast_strptime(pattern, text) if pattern else dt.datetime.strptime(text, fmt)
                if value is not None:
                    break
            except ValueError:
                continue
        else:
            try:
                value = dt.datetime.fromisoformat(text)
            except ValueError:
                raise CellError(
                    f"is not a date in any format of the mapping ({', '.join(self.formats)}) nor ISO 8601"
                ) from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        return value

    def date(self, text: str) -> dt.date:
        return self.datetime(text).date()


_NUMERIC = {"%Y": r"(?P<Y>\d{4})", "%y": r"(?P<y>\d{2})", "%m": r"(?P<m>\d{1,2})", "%d": r"(?P<d>\d{1,2})",
            "%H": r"(?P<H>\d{1,2})", "%M": r"(?P<M>\d{1,2})", "%S": r"(?P<S>\d{1,2})"}


def _numeric_pattern(fmt: str) -> re.Pattern[str] | None:
    """A regex for formats made only of numeric directives (the common case), which matches in a
    fraction of strptime's time; None sends other formats (%b, %p...) to strptime."""
    parts, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i:i + 2]
            if directive not in _NUMERIC or f"(?P<{directive[1]}>" in "".join(parts):
                return None
            parts.append(_NUMERIC[directive])
            i += 2
        else:
            parts.append(re.escape(fmt[i]))
            i += 1
    return re.compile("".join(parts) + r"\Z")


def _fast_strptime(pattern: re.Pattern[str], text: str) -> dt.datetime | None:
    match = pattern.match(text)
    if match is None:
        return None
    g = match.groupdict()
    year = int(g["Y"]) if "Y" in g else 2000 + int(g["y"]) if int(g["y"]) < 69 else 1900 + int(g["y"])
    return dt.datetime(year, int(g.get("m") or 1), int(g.get("d") or 1), int(g.get("H") or 0),
                       int(g.get("M") or 0), int(g.get("S") or 0))  # ValueError for 31/02 etc.


def _foreign_digits(text: str) -> bool:
    """Digits of other scripts ("２０２６", "٣"): Python reads them as numbers, the API and forms do not."""
    return not text.isascii() and any(ch.isdigit() for ch in text if not ch.isascii())


def parse_int(text: str, low: int, high: int) -> int:
    if _foreign_digits(text):
        raise CellError("is not a whole number: write its digits as 0-9")
    try:
        number = Decimal(text.strip().rstrip("%"))
    except InvalidOperation:
        raise CellError("is not a whole number") from None
    if number != number.to_integral_value():
        raise CellError("is not a whole number")
    if not low <= number <= high:
        raise CellError(f"must be between {low} and {high}")
    return int(number)


_TRUE = {"1", "true", "yes", "y", "x", "on"}
_FALSE = {"0", "false", "no", "n", "", "off"}


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise CellError("is not yes/no (use true/false, yes/no or 1/0)")


def normalize(text: str) -> str:
    """A forgiving key for matching names: 'Negotiation & Closing' == 'negotiation-closing'."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())
