"""Cells of every CSV file Dealgate writes, made safe to open in a spreadsheet.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is run as a formula by
Excel, LibreOffice and Google Sheets (CSV injection): `=HYPERLINK(...)` in a deal title would
become a live link in a manager's spreadsheet. `defuse` puts a `'` in front, which the
spreadsheets show as a plain text marker; Dealgate's imports take it off again (`undefuse`).

Only text is defused. Numbers (amounts, probabilities, ids) are written as numbers: a number
cell cannot hold a formula, and a defused `'-5` would no longer add up in a spreadsheet. See
docs/decisions/011-imports-act-as-the-importer.md.
"""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any, Iterable, Iterator

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _needs_prefix(text: str) -> bool:
    return text.lstrip("'").startswith(FORMULA_START)


def defuse(text: str) -> str:
    """Text that no spreadsheet runs as a formula. A text that already starts with `'` (and then a
    formula character) gets one more, so `undefuse(defuse(t)) == t` for every text."""
    return "'" + text if _needs_prefix(text) else text


def undefuse(text: str) -> str:
    """The text `defuse` was given (cells of files Dealgate wrote, read back by an import)."""
    return text[1:] if text[:1] == "'" and _needs_prefix(text[1:]) else text


def safe_cell(value: Any) -> Any:
    """One cell as written to CSV: empty for None, ISO 8601 dates, defused text, numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, str):
        return defuse(value)
    return value


class _Line:
    """A file-like object whose write() returns the text, so csv.writer yields lines."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text lines, the header first, every cell made safe: for streaming responses and files."""
    writer = csv.writer(_Line())
    yield writer.writerow([safe_cell(name) for name in header])
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])
